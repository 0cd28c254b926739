"""Composition root: the monitoring service's HTTP app and Kafka wiring on the shared platform."""

from deh_contracts.registry import MONITORING, OUTCOMES
from deh_monitoring.settings import MonitoringSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime

runtime = ServiceRuntime.from_settings(MonitoringSettings(), produces=[MONITORING, OUTCOMES])
app = create_service_app(runtime, title="Digital Education Hub: monitoring")
