from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from deh_platform.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_MONITORING_", extra="ignore")

    service_name: str = "monitoring"
    uses_mongodb: ClassVar[bool] = False
    uses_opensearch: ClassVar[bool] = True
    # The indexes' aliases are <prefix>-activity and <prefix>-indicators (tests use their own).
    index_prefix: str = "monitoring"
