"""Composition root: the practices service's HTTP app, wired to its servers."""

from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime
from deh_practices.settings import PracticesSettings

runtime = ServiceRuntime.from_settings(PracticesSettings())
app = create_service_app(runtime, title="Digital Education Hub: practices")
