"""Who may do what to a practice: pure checks over the caller and the practice as stored
(authors, assigned reviewer, status). Role-only checks are the routes' `requires(...)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deh_platform.errors import Conflict, Forbidden, InvalidInput
from deh_platform.identity import Principal
from deh_practices.domain.practices import public_view

Practice = Mapping[str, Any]


def view_for(practice: Practice, caller: Principal | None) -> Practice | None:
    """What the caller may see of a practice: all of it when involved (its authors, its reviewer,
    staff), else its public view (None before publication: not found)."""
    if caller is not None and is_involved(practice, caller):
        return practice
    return public_view(practice)


def is_involved(practice: Practice, caller: Principal) -> bool:
    return (
        caller.is_staff or caller.member_id in practice["author_ids"] or caller.member_id == practice.get("reviewer_id")
    )


def require_author(practice: Practice, caller: Principal) -> None:
    if caller.member_id not in practice["author_ids"]:
        raise Forbidden("only an author may do this")


def require_assigned_reviewer(practice: Practice, caller: Principal) -> None:
    if practice["reviewer_id"] != caller.member_id:
        raise Forbidden("only the assigned reviewer may review this practice")


def require_author_or_staff(practice: Practice, caller: Principal) -> None:
    if not (caller.is_staff or caller.member_id in practice["author_ids"]):
        raise Forbidden("only an author or a moderator may archive a practice")


def require_not_an_author(practice: Practice, reviewer_id: str) -> None:
    if reviewer_id in practice["author_ids"]:
        raise Conflict("an author cannot review their own practice")


def require_active_member(status: str | None) -> None:
    """Members act on the library (submit, edit, review) only while membership says they are
    active: not before approval, nor when suspended, gone or erased. Staff act by their role."""
    if status != "active":
        known = f"this member is {status}" if status else "membership has not approved this person"
        raise Forbidden(f"only active members of the Community of Practice do this ({known})")


def require_active_reviewer(status: str | None, reviewer_id: str) -> None:
    if status != "active":
        raise InvalidInput(("body", "reviewer_id"), f"{reviewer_id} is not an active member")
