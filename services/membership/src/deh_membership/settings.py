from pydantic_settings import SettingsConfigDict

from deh_platform.settings import SearchingServiceSettings


class MembershipSettings(SearchingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_MEMBERSHIP_", extra="ignore")

    service_name: str = "membership"
    # The search index of the community's posts (threads are found by their posts).
    search_alias: str = "community-posts"
