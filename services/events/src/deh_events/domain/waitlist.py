"""Who gets a freed seat: the waitlist policies, each with the rule explained in words.

First come, first served takes the earliest on the waitlist. Balanced keeps the mix of the room:
it takes the waiting person whose country holds the fewest seats, then whose least represented
sector holds the fewest, then a first-timer over someone who has attended before, and only then
the earliest. The comparison is lexicographic so that it can be explained in one sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    registration_id: str
    queue_key: int  # the order in which waitlist places were given
    country: str | None
    sectors: tuple[str, ...]
    first_timer: bool


@dataclass(frozen=True)
class Choice:
    registration_id: str
    explanation: str


@dataclass(frozen=True)
class RoomMix:
    """Seats held per country and per sector now."""

    countries: Counter[str]
    sectors: Counter[str]

    @classmethod
    def of(cls, seated: Sequence[Candidate]) -> RoomMix:
        return cls(
            Counter(person.country for person in seated if person.country),
            Counter(sector for person in seated for sector in person.sectors),
        )

    def country_seats(self, candidate: Candidate) -> int:
        return self.countries[candidate.country] if candidate.country else 0

    def sector_seats(self, candidate: Candidate) -> int:
        return min((self.sectors[sector] for sector in candidate.sectors), default=0)


def choose_next(policy: str, waiting: Sequence[Candidate], seated: Sequence[Candidate]) -> Choice | None:
    if not waiting:
        return None
    in_queue_order = sorted(waiting, key=lambda candidate: candidate.queue_key)
    if policy != "balanced":
        return Choice(in_queue_order[0].registration_id, "first come, first served: first on the waitlist")
    return _balanced(in_queue_order, RoomMix.of(seated))


def _balanced(in_queue_order: list[Candidate], mix: RoomMix) -> Choice:
    def rank(candidate: Candidate) -> tuple[int, int, bool]:
        return (mix.country_seats(candidate), mix.sector_seats(candidate), not candidate.first_timer)

    chosen = min(in_queue_order, key=rank)  # min keeps the earliest among equals
    position = in_queue_order.index(chosen) + 1
    sectors = ", ".join(chosen.sectors) or "none given"
    explanation = (
        f"balanced: country {chosen.country or 'unknown'} held {mix.country_seats(chosen)} seats, "
        f"its least represented sector ({sectors}) {mix.sector_seats(chosen)}, "
        f"{'first-timer' if chosen.first_timer else 'has attended before'}; "
        f"position {position} of {len(in_queue_order)} on the waitlist"
    )
    if position > 1:
        ahead = position - 1
        explanation += (
            f"; chosen over the {ahead} ahead, whose country or sector held more seats or who had attended before"
        )
    return Choice(chosen.registration_id, explanation)
