"""Who is calling: a verified bearer token (JWT) gives the caller's member id and roles.

The token is signed by the identity provider: in production with the keys it publishes (OpenID
Connect discovery from `DEH_AUTH_OIDC_ISSUER_URL`; keys the provider rotates in are fetched when a
token names one) or one public key (`DEH_AUTH_PUBLIC_KEY`); HS256 with a shared secret on the
local stack and in tests. Issuer, audience and expiry are checked. Roles: member, moderator,
nas_coordinator, admin.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import httpx
import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deh_contracts.vocabulary import IDENTIFIER_PATTERN
from deh_platform.identity import ROLES, Principal, Role
from deh_platform.settings import ServiceSettings

__all__ = [
    "ROLES",
    "Caller",
    "MaybeCaller",
    "Principal",
    "Role",
    "TokenVerifier",
    "issue_token",
    "members_only",
    "requires",
]

_bearer = HTTPBearer(auto_error=False, description="A JWT from the hub's identity provider")


MIN_SECRET_LENGTH = 32
# How often at most the identity provider's keys are fetched again for a key a token names, and
# how long fetched keys are trusted: a key the provider withdraws stops working within that.
KEYS_REFRESH_SECONDS = 10.0
KEYS_MAX_AGE_SECONDS = 3600.0
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class IdentityProviderUnavailable(Exception):
    """The identity provider's keys could not be fetched: a 503, not a 401 (the token may be fine)."""


def key_problem(settings: ServiceSettings) -> str | None:
    """Why the service has no usable key to check tokens with, or None: it refuses to start
    rather than accept tokens signed with a default or guessable secret."""
    if settings.auth_oidc_issuer_url or settings.auth_public_key:
        return None
    if not settings.auth_secret:
        return "set DEH_AUTH_OIDC_ISSUER_URL, DEH_AUTH_PUBLIC_KEY or DEH_AUTH_SECRET"
    if len(settings.auth_secret) < MIN_SECRET_LENGTH:
        return f"DEH_AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters"
    return None


class TokenVerifier:
    """Checks bearer tokens with what the settings name, strongest first: the identity
    provider's published keys (OIDC discovery and JWKS, with rotation), its one public key, or
    the shared secret. Issuer, audience, expiry and the subject's character set are checked."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._fetching = asyncio.Lock()  # one fetch at a time, however many tokens wait for it
        self._failure: str | None = None  # why the last fetch failed, until one succeeds

    async def principal(self, token: str) -> Principal:
        key, algorithms = await self._key_for(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=self.settings.auth_audience,
            issuer=self.settings.auth_issuer,
            options={"require": ["sub", "exp", "iss", "aud"]},
        )
        if not re.fullmatch(IDENTIFIER_PATTERN, str(claims["sub"])):
            raise jwt.InvalidTokenError("the subject must be 1 to 200 letters, digits, '_' or '-'")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(role in ROLES for role in roles):
            raise jwt.InvalidTokenError(f"roles must be a list of {', '.join(ROLES)}")
        return Principal(str(claims["sub"]), frozenset(roles))

    async def _key_for(self, token: str) -> tuple[Any, list[str]]:
        if self.settings.auth_oidc_issuer_url:
            key_id = str(jwt.get_unverified_header(token).get("kid") or "")
            age = time.monotonic() - self._fetched_at
            if age > KEYS_MAX_AGE_SECONDS or (key_id not in self._keys and age > KEYS_REFRESH_SECONDS):
                await self._fetch_keys()  # stale, or a key not seen yet: the provider may have rotated
            known = self._keys.get(key_id)
            if known is None and self._failure:
                raise IdentityProviderUnavailable(self._failure)  # the token may be fine: a 503
            if known is None:
                raise jwt.InvalidTokenError("the token names no key the identity provider publishes")
            # The key's own algorithm, never the token's say: no HS256 signed with a public key.
            return known, [known.algorithm_name]
        if self.settings.auth_public_key:
            return self.settings.auth_public_key, ["RS256"]
        if self.settings.auth_secret is None:  # the service refuses to start so (key_problem): a guard
            raise jwt.InvalidTokenError("this service has no key to check tokens with")
        return self.settings.auth_secret, ["HS256"]

    async def _fetch_keys(self) -> None:
        fetched_before = self._fetched_at
        async with self._fetching:
            if self._fetched_at != fetched_before:
                return  # another request fetched them while this one waited
            # Counted from the attempt, not the success: an unknown key id cannot make every
            # request call a provider that is down.
            self._fetched_at = time.monotonic()
            try:
                self._keys, self._failure = await self._published_keys(), None
            except IdentityProviderUnavailable as failure:
                self._failure = str(failure)
                raise

    async def _published_keys(self) -> dict[str, jwt.PyJWK]:
        issuer = str(self.settings.auth_oidc_issuer_url).rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                discovery = (await client.get(f"{issuer}/.well-known/openid-configuration")).raise_for_status()
                published = (await client.get(discovery.json()["jwks_uri"])).raise_for_status().json()
            keys = jwt.PyJWKSet.from_dict(published).keys
        except (httpx.HTTPError, KeyError, ValueError, jwt.PyJWTError) as error:
            raise IdentityProviderUnavailable(f"the identity provider's keys: {error}") from error
        # A provider with one key may leave out its id: tokens without one find it under "".
        return {
            str(key.key_id or ""): key
            for key in keys
            if key.public_key_use in (None, "sig") and key.algorithm_name in ASYMMETRIC
        }


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
        return await _verifier(request).principal(credentials.credentials)
    except jwt.PyJWTError as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


def _verifier(request: Request) -> TokenVerifier:
    """The app's verifier, made once, so that the identity provider's keys are fetched once."""
    state = request.app.state
    if getattr(state, "token_verifier", None) is None:
        state.token_verifier = TokenVerifier(state.runtime.settings)
    verifier: TokenVerifier = state.token_verifier
    return verifier


Caller = Annotated[Principal, Depends(current_principal)]


async def optional_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """The caller when a token is given (and valid), else None: for routes open to the public."""
    return None if credentials is None else await current_principal(request, credentials)


MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]


DependencyT = TypeVar("DependencyT", bound=Callable[..., Any])


def members_only(check: DependencyT) -> DependencyT:
    """Mark a dependency that refuses callers who are not active members (403): the API document
    lists 403 where it is used, and the forbidden-paths test tries a suspended member and a
    stranger on every such operation."""
    check.refuses_inactive_members = True  # type: ignore[attr-defined]
    return check


def requires(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets only callers with one of `roles` through (403 otherwise)."""

    async def check(principal: Caller) -> Principal:
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {', '.join(roles)}")
        return principal

    check.checks_roles = roles  # type: ignore[attr-defined]  # the API document lists 403 for it
    return check
