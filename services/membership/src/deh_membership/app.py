"""Composition root: the membership service's HTTP app and Kafka wiring on the shared platform."""

from deh_contracts.registry import MEMBERSHIP
from deh_membership.settings import MembershipSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime

runtime = ServiceRuntime.from_settings(MembershipSettings(), produces=[MEMBERSHIP])
app = create_service_app(runtime, title="Digital Education Hub: membership")
