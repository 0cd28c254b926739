from pydantic_settings import SettingsConfigDict

from deh_platform.settings import SearchingServiceSettings


class PracticesSettings(SearchingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_PRACTICES_", extra="ignore")

    service_name: str = "practices"
    search_alias: str = "practices"
    # The link checker: how often it runs, how often its job looks whether a run is due (or
    # asked for), and the networks it may reach although they are not public (none in a
    # deployment: member-written links must not reach inside it; tests name their own server).
    link_check_hours: float = 24.0
    link_check_poll_seconds: float = 30.0
    link_check_allowed_networks: tuple[str, ...] = ()
    # Where the public reads a practice (its id appended): identifiers in the open metadata.
    public_url: str = "http://127.0.0.1:18102/practices"
    # OAI-PMH: the repository's part of record identifiers (oai:<it>:<practice id>, a domain
    # name the hub controls in a deployment) and whom harvesters write to.
    oai_repository: str = "hub.localhost"
    oai_admin_email: str = "hub-admin@hub.localhost"  # the protocol wants a domain with a dot
    oai_page_size: int = 100
