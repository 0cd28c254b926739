"""Registrations: their states, what a person sees of one, and the order of the waitlist."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

RegistrationState = Literal["registered", "waitlisted", "cancelled", "attended", "no_show"]
# A registration that is not over yet: it holds a seat or waits for one.
OPEN_STATES = ("registered", "waitlisted")
# States in which the registration holds one of the event's seats.
SEATED_STATES = ("registered", "attended", "no_show")
# The people who take part: they see the online link, the participant list, and may form teams.
PARTICIPATING_STATES = ("registered", "attended")


class RegistrationForm(BaseModel):
    appear_on_participant_list: bool = Field(
        False, description="Consent to be named on the event's participant list (display name and country)."
    )


class Step(BaseModel):
    state: RegistrationState
    at: datetime
    note: str | None = None


class Registration(BaseModel):
    registration_id: str
    event_id: str
    member_id: str
    state: RegistrationState
    position: int | None = Field(None, description="Place on the waitlist while waitlisted (1 is next).")
    requested_at: datetime
    queue_key: int | None = Field(None, description="Order of the waitlist places: lower came first.")
    explanation: str | None = Field(None, description="Why a seat went to this person (waitlist policy).")
    appear_on_participant_list: bool
    first_timer: bool | None = Field(None, description="Balanced waitlists: never attended a hub event before.")
    team_id: str | None = None
    history: list[Step]


class Participant(BaseModel):
    """One line of an event's participant list: only people who consented to appear."""

    display_name: str | None
    country: str | None


class QueueClock:
    """Waitlist order keys: nanoseconds since the epoch, strictly increasing within a process
    (two requests in the same nanosecond, or a clock stepping back, still get distinct, ordered
    keys). BSON dates keep milliseconds only, too coarse to order a burst of requests."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return self._last
