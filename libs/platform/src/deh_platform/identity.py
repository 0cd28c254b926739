"""Who is calling, as the rules see it: a member id and roles, free of HTTP and tokens (the
domain modules' policies take a Principal; deh_platform.auth makes one from a bearer token)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The roles a token may carry: `reviewer` is a member trusted to review practices.
# `commission`: the European Commission's staff who consult the community (issue 17).
Role = Literal["member", "reviewer", "moderator", "nas_coordinator", "commission", "admin"]
ROLES: tuple[Role, ...] = ("member", "reviewer", "moderator", "nas_coordinator", "commission", "admin")


@dataclass(frozen=True)
class Principal:
    member_id: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        """Moderators and admins act on other members' behalf."""
        return self.has("moderator", "admin")


@dataclass(frozen=True)
class MemberCopy:
    """What a service knows of a member from membership's people topic (deh_platform.people):
    never their email."""

    member_id: str
    reference: str | None
    status: str = "unknown"
    country: str | None = None
    sectors: list[str] = field(default_factory=list)
    display_name: str | None = None
