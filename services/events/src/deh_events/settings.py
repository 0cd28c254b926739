from pydantic_settings import SettingsConfigDict

from deh_platform.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_EVENTS_", extra="ignore")

    service_name: str = "events"
    # The jobs that close registration windows, send reminders and end events run this often,
    # on one replica at a time; another takes over within the lease after that one dies.
    job_seconds: float = 30.0
    job_lease_seconds: float = 90.0
    # A reminder is due this long before an event starts.
    reminder_hours: float = 24.0
    # The repair job (every `sweep_seconds`) takes a seat held this long by a registration that
    # is not seated for what a crash left (a registration in flight holds one for milliseconds).
    repair_after_seconds: float = 60.0
