"""Composition root: the monitoring service's projection of every domain event into OpenSearch,
and its HTTP API."""

from fastapi import FastAPI

from deh_contracts.registry import MONITORING, OUTCOMES
from deh_monitoring.adapters.http import router
from deh_monitoring.adapters.indexes import MonitoringIndexes
from deh_monitoring.adapters.observations import subscribe_observations
from deh_monitoring.adapters.projection import PROJECTED_TOPICS, Projection
from deh_monitoring.settings import MonitoringSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime


def create_app(settings: MonitoringSettings) -> FastAPI:
    runtime = ServiceRuntime.from_settings(settings, produces=[MONITORING, OUTCOMES])
    assert runtime.search is not None
    indexes = MonitoringIndexes.named(settings.index_prefix)
    projection = Projection(runtime.search, indexes)
    runtime.consumer(PROJECTED_TOPICS).project(projection.project)
    subscribe_observations(runtime)

    async def prepare(_: ServiceRuntime) -> None:
        assert runtime.search is not None
        await indexes.ensure(runtime.search)

    app = create_service_app(runtime, title="Digital Education Hub: monitoring", routers=[router], on_startup=[prepare])
    app.state.indexes = indexes
    app.state.projection = projection
    return app


app = create_app(MonitoringSettings())
