from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from deh_platform.settings import ServiceSettings


class PracticesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_PRACTICES_", extra="ignore")

    service_name: str = "practices"
    uses_opensearch: ClassVar[bool] = True
    # The alias the portal searches; tests use their own.
    search_alias: str = "practices"
