"""Composition root: the monitoring service's HTTP app, wired to its servers."""

from deh_monitoring.settings import MonitoringSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime

runtime = ServiceRuntime.from_settings(MonitoringSettings())
app = create_service_app(runtime, title="Digital Education Hub: monitoring")
