"""Who may do what in membership: pure checks over the caller and what is acted on (the routes
call them; role-only checks are the routes' `requires(...)`)."""

from __future__ import annotations

from collections.abc import Collection

from deh_platform.errors import Forbidden
from deh_platform.identity import Principal


def require_self_or(caller: Principal, member_id: str, *roles: str) -> None:
    """A member acts on their own record; the given roles act on anyone's."""
    if caller.member_id != member_id and not caller.has(*roles):
        raise Forbidden("only the member themselves or staff may do this")


def require_coordinator_of(caller: Principal, coordinator_ids: Collection[str]) -> None:
    """A NAS's member list is for its own coordinators (and admins)."""
    coordinates = caller.has("nas_coordinator") and caller.member_id in coordinator_ids
    if not (coordinates or caller.has("admin")):
        raise Forbidden("only this NAS's coordinators may list the members of its country")


def require_active_or_staff(caller: Principal, status: str | None) -> None:
    """Lists of people are for the Community: active members, and staff by their role."""
    if not (caller.is_staff or status == "active"):
        raise Forbidden("only active members see this" + (f" (this member is {status})" if status else ""))


def require_not_own_case(caller: Principal, member_id: str) -> None:
    """Nobody moderates themselves: a moderator's own application or suspension is for another."""
    if caller.member_id == member_id:
        raise Forbidden("a moderator does not decide their own case")
