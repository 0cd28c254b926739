"""The events service's jobs, each run by one replica at a time (deh_platform.leases)."""

from __future__ import annotations

import functools
from datetime import timedelta

from deh_events.adapters.registrations import RegistrationStore
from deh_events.settings import EventsSettings
from deh_platform.runtime import ServiceRuntime


def schedule_jobs(runtime: ServiceRuntime, desk: RegistrationStore, settings: EventsSettings) -> None:
    often = {"every_seconds": settings.job_seconds, "lease_seconds": settings.job_lease_seconds}
    runtime.run_exclusively("close registration windows", desk.close_registration_windows, **often)
    reminders = functools.partial(desk.send_reminders, timedelta(hours=settings.reminder_hours))
    runtime.run_exclusively("send reminders", reminders, **often)
    runtime.run_exclusively("end finished events", desk.end_finished_events, **often)
    # The repair scans every seat taken: as rarely as the outbox sweep.
    runtime.run_exclusively(
        "repair registrations",
        desk.repair,
        every_seconds=settings.sweep_seconds,
        lease_seconds=settings.sweep_seconds + settings.job_lease_seconds,
    )
