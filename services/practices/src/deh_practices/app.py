"""Composition root: the practices service's HTTP app and Kafka wiring on the shared platform."""

from deh_contracts.registry import OUTCOMES, PRACTICES
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime
from deh_practices.settings import PracticesSettings

runtime = ServiceRuntime.from_settings(PracticesSettings(), produces=[PRACTICES, OUTCOMES])
app = create_service_app(runtime, title="Digital Education Hub: practices")
