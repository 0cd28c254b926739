from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from deh_platform.settings import SearchingServiceSettings


class MembershipSettings(SearchingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_MEMBERSHIP_", extra="ignore")

    service_name: str = "membership"
    # Members are managed and threads read and written while OpenSearch is away; only the
    # search of threads waits for it (503), and its index catches up from the marks after.
    search_optional: ClassVar[bool] = True
    # The search index of the community's posts (threads are found by their posts).
    search_alias: str = "community-posts"
