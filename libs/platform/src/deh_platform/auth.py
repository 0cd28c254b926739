"""Who is calling: a verified bearer token (JWT) gives the caller's member id and roles.

The token is signed by the identity provider: RS256 with its public key in production
(`DEH_AUTH_PUBLIC_KEY`), or HS256 with a shared secret on the local stack and in tests. Issuer,
audience and expiry are checked. Roles: member, moderator, nas_coordinator, admin.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deh_contracts.vocabulary import IDENTIFIER_PATTERN
from deh_platform.identity import ROLES, Principal, Role
from deh_platform.settings import ServiceSettings

__all__ = ["ROLES", "Caller", "MaybeCaller", "Principal", "Role", "issue_token", "requires", "verify"]

_bearer = HTTPBearer(auto_error=False, description="A JWT from the hub's identity provider")


MIN_SECRET_LENGTH = 32


def key_problem(settings: ServiceSettings) -> str | None:
    """Why the service has no usable key to check tokens with, or None: it refuses to start
    rather than accept tokens signed with a default or guessable secret."""
    if settings.auth_public_key:
        return None
    if not settings.auth_secret:
        return "set DEH_AUTH_PUBLIC_KEY (the identity provider's key) or DEH_AUTH_SECRET"
    if len(settings.auth_secret) < MIN_SECRET_LENGTH:
        return f"DEH_AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters"
    return None


def verify(token: str, settings: ServiceSettings) -> Principal:
    key, algorithm = (
        (settings.auth_public_key, "RS256") if settings.auth_public_key else (settings.auth_secret, "HS256")
    )
    if key is None:  # a service refuses to start without a key (key_problem); this is a guard
        raise jwt.InvalidTokenError("this service has no key to check tokens with")
    claims = jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=settings.auth_audience,
        issuer=settings.auth_issuer,
        options={"require": ["sub", "exp", "iss", "aud"]},
    )
    if not re.fullmatch(IDENTIFIER_PATTERN, str(claims["sub"])):
        raise jwt.InvalidTokenError("the subject must be 1 to 200 letters, digits, '_' or '-'")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(role in ROLES for role in roles):
        raise jwt.InvalidTokenError(f"roles must be a list of {', '.join(ROLES)}")
    return Principal(str(claims["sub"]), frozenset(roles))


def issue_token(settings: ServiceSettings, member_id: str, roles: list[str], *, lifetime_seconds: int = 3600) -> str:
    """A token signed with the shared secret: for the local stack, demo data and tests only."""
    if settings.auth_secret is None:
        raise ValueError("no DEH_AUTH_SECRET to sign with")
    now = int(time.time())
    claims = {
        "sub": member_id,
        "roles": roles,
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": now,
        "exp": now + lifetime_seconds,
    }
    return jwt.encode(claims, settings.auth_secret, algorithm="HS256")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        return verify(credentials.credentials, request.app.state.runtime.settings)
    except jwt.PyJWTError as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


Caller = Annotated[Principal, Depends(current_principal)]


async def optional_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """The caller when a token is given (and valid), else None: for routes open to the public."""
    return None if credentials is None else await current_principal(request, credentials)


MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]


def requires(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets only callers with one of `roles` through (403 otherwise)."""

    async def check(principal: Caller) -> Principal:
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {', '.join(roles)}")
        return principal

    check.checks_roles = roles  # type: ignore[attr-defined]  # the API document lists 403 for it
    return check
