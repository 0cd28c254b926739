from pydantic_settings import SettingsConfigDict

from deh_platform.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_EVENTS_", extra="ignore")

    service_name: str = "events"
