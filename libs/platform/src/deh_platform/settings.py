"""Service settings from the environment: DEH_<SERVICE>_<NAME> first, then the shared DEH_<NAME>."""

from __future__ import annotations

import ssl
from typing import Any, ClassVar

from faststream.security import BaseSecurity, SASLScram512
from opensearchpy import AsyncOpenSearch
from pydantic import SecretStr
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

SCRAM = "SCRAM-SHA-512"


def sasl_options(user: str, password: str, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """What an aiokafka client passes to connect as a SASL/SCRAM-SHA-512 user (over TLS with a
    context): the one place that says how the hub's Kafka clients authenticate."""
    return {
        "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl_mechanism": SCRAM,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
        **({"ssl_context": tls} if tls else {}),
    }


class ServiceSettings(BaseSettings):
    """Subclass per service with `model_config = SettingsConfigDict(env_prefix="DEH_<SERVICE>_")`."""

    model_config = SettingsConfigDict(extra="ignore")

    # Which servers the service owns data in; the others are never connected to.
    uses_mongodb: ClassVar[bool] = True
    uses_opensearch: ClassVar[bool] = False
    # Whether the service goes on serving while OpenSearch is away (its searches answer 503 and
    # its index catches up after), rather than being not ready: where search is not its purpose.
    search_optional: ClassVar[bool] = False

    service_name: str
    # Defaults point at the local stack (`make up`); deployments set DEH_* variables.
    kafka_bootstrap: str = "127.0.0.1:19092"
    # The service's own Kafka user (SASL/SCRAM-SHA-512, decision 0017), which may touch only its
    # topics; the local stack makes one per service. With a CA file, over TLS (SASL_SSL), as a
    # deployment connects; without a user, PLAINTEXT (a broker with no authentication).
    kafka_user: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: str | None = None
    # How soon a consumer of partners' topics reads a partner onboarded while it runs.
    kafka_partner_discovery_seconds: float = 30.0
    mongo_url: str = "mongodb://127.0.0.1:17017"
    mongo_database: str | None = None
    opensearch_url: str = "http://127.0.0.1:19200"
    # With OpenSearch's security plugin on (the OpenSearch Operator's default): the service's own
    # user, and the CA that signed the node's HTTPS certificate (an https:// URL).
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_ca_file: str | None = None
    log_level: str = "INFO"
    # Durability of the topics a service creates, and the least it runs on (checked at start):
    # 1 and 1 for the local single broker; deployments set 3 and 2.
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    # Retention per topic (or family of topics) where an environment wants other than the
    # registry's (domain streams forever, partners' topics 30 days, dead letters 90), e.g.
    # {"deh.deadletter.{service}.v1": 604800000}.
    kafka_retention_ms: dict[str, int] = {}
    # Loops that are told their work (the outbox relay, a search indexer) also sweep this often
    # for what a crash left behind (a scan of their collections).
    sweep_seconds: float = 300.0
    # How long a relay's claim on a document lasts: after a replica dies, another publishes what
    # it had claimed once the claim expires (decision 0004).
    outbox_claim_seconds: float = 120.0
    # The largest request body a service reads (413 beyond it, checked before anything else).
    max_body_bytes: int = 1_048_576
    # How long each part of a request body may take to arrive (408 beyond it).
    body_wait_seconds: float = 10.0
    # Consumer groups are named after the service unless set (tests run isolated copies).
    consumer_group: str | None = None
    # Bearer tokens: RS256 with the identity provider's public key in production; HS256 with a
    # shared secret of at least 32 characters otherwise (the local stack generates one per stack,
    # tests one per session). With neither, the service refuses to start (see deh_platform.auth).
    auth_public_key: str | None = None
    auth_secret: str | None = None
    # Production: the identity provider's issuer URL. Its signing keys are found by OpenID Connect
    # discovery (/.well-known/openid-configuration, then its JWKS) and fetched again when a token
    # names a key not yet known, so that the provider can rotate them.
    auth_oidc_issuer_url: str | None = None
    auth_issuer: str = "deh-local"
    auth_audience: str = "deh-hub"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Server addresses are usually shared by all services (DEH_KAFKA_BOOTSTRAP, ...);
        # a service-specific variable wins when both are set.
        shared_env = EnvSettingsSource(settings_cls, env_prefix="DEH_")
        return init_settings, env_settings, shared_env, dotenv_settings, file_secret_settings

    def kafka_options(self) -> dict[str, Any]:
        """What every aiokafka client of the service connects with: the brokers and the user."""
        if self.kafka_user is None:
            return {"bootstrap_servers": self.kafka_bootstrap}
        password = self.kafka_password.get_secret_value() if self.kafka_password else ""
        tls = self._kafka_tls() if self.kafka_ca_file else None
        return {"bootstrap_servers": self.kafka_bootstrap, **sasl_options(self.kafka_user, password, tls)}

    def kafka_security(self) -> BaseSecurity | None:
        """The same user, as FastStream's broker takes it."""
        if self.kafka_user is None:
            return None
        password = self.kafka_password.get_secret_value() if self.kafka_password else ""
        tls = self._kafka_tls() if self.kafka_ca_file else None
        return SASLScram512(self.kafka_user, password, ssl_context=tls, use_ssl=tls is not None)

    def _kafka_tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.kafka_ca_file)

    def opensearch_client(self) -> AsyncOpenSearch:
        """The service's OpenSearch client: as its user when one is set, trusting the CA file
        when one is set (an https:// URL checks the node's certificate in any case)."""
        options: dict[str, Any] = {"timeout": 10}
        if self.opensearch_user is not None:
            password = self.opensearch_password.get_secret_value() if self.opensearch_password else ""
            options["http_auth"] = (self.opensearch_user, password)
        if self.opensearch_ca_file is not None:
            options["ca_certs"] = self.opensearch_ca_file
        return AsyncOpenSearch(self.opensearch_url, **options)


class SearchingServiceSettings(ServiceSettings):
    """A service that keeps a search index of its own (`deh_platform.search_index`)."""

    uses_opensearch: ClassVar[bool] = True

    # The alias searches read; tests use their own.
    search_alias: str
    # How often the index upgrade job looks whether the live index was made by an older mapping
    # version (then it rebuilds it, on one replica); 0: never (an operator runs the rebuild).
    search_upgrade_check_seconds: float = 60.0
