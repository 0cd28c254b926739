from pydantic_settings import SettingsConfigDict

from deh_platform.settings import ServiceSettings


class MembershipSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_MEMBERSHIP_", extra="ignore")

    service_name: str = "membership"
