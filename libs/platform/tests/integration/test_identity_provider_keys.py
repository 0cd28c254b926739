"""In production, tokens are checked with the keys the identity provider publishes (OpenID
Connect discovery, then its JWKS), as EU Login would: a key rotated in is fetched when a token
names it, a key withdrawn stops working, and a token cannot choose its own algorithm. A small
provider on 127.0.0.1 plays the identity provider."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode

from deh_platform import auth
from deh_platform.auth import IdentityProviderUnavailable, TokenVerifier
from deh_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


class Provider:
    """An identity provider: signing keys by id, of which it publishes those in `published`."""

    def __init__(self) -> None:
        self.keys = {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("k1", "k2")}
        self.published = ["k1"]
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        entries = []
        for name in self.published:
            entry = json.loads(RSAAlgorithm.to_jwk(self.keys[name].public_key()))
            entries.append({**entry, "kid": name, "alg": "RS256", "use": "sig"})
        return {"keys": entries}

    def token(self, key: str, subject: str = "ana-berzina", **header: Any) -> str:
        now = int(time.time())
        claims = {"sub": subject, "roles": ["member"], "iss": "eu-login", "aud": "deh-hub", "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.keys[key], algorithm="RS256", headers={"kid": key, **header})


@pytest.fixture
def provider() -> Iterator[Provider]:
    identity = Provider()

    class Endpoints(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": identity.url, "jwks_uri": f"{identity.url}/keys"}
            elif self.path == "/keys":
                body = identity.jwks()
            else:
                self.send_error(404)
                return
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoints)
    identity.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield identity
    server.shutdown()


def verifier(provider: Provider) -> TokenVerifier:
    settings = ServiceSettings(
        service_name="tests", auth_oidc_issuer_url=provider.url, auth_issuer="eu-login", auth_audience="deh-hub"
    )
    return TokenVerifier(settings)


async def test_a_token_signed_with_a_published_key_names_its_member(provider: Provider) -> None:
    principal = await verifier(provider).principal(provider.token("k1"))
    assert principal.member_id == "ana-berzina"


async def test_a_rotated_key_is_fetched_when_a_token_names_it_and_a_withdrawn_one_stops_working(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "KEYS_REFRESH_SECONDS", 0.0)
    checks = verifier(provider)
    assert (await checks.principal(provider.token("k1"))).member_id == "ana-berzina"

    provider.published = ["k2"]  # the provider rotates: k2 in, k1 out
    assert (await checks.principal(provider.token("k2"))).member_id == "ana-berzina"
    with pytest.raises(jwt.InvalidTokenError, match="no key the identity provider publishes"):
        await checks.principal(provider.token("k1"))


async def test_a_token_cannot_choose_a_symmetric_algorithm_with_the_public_key_as_secret(provider: Provider) -> None:
    """The classic forgery: HS256 "signed" with the provider's public key, which anyone has.
    (PyJWT refuses to make one, so it is made by hand.)"""
    public = (
        provider.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = {"sub": "mallory", "roles": ["admin"], "iss": "eu-login", "aud": "deh-hub", "exp": int(time.time()) + 60}
    header = base64url_encode(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = base64url_encode(json.dumps(claims).encode())
    signature = base64url_encode(hmac.new(public, header + b"." + payload, hashlib.sha256).digest())
    forged = (header + b"." + payload + b"." + signature).decode()
    with pytest.raises(jwt.InvalidTokenError):
        await verifier(provider).principal(forged)


async def test_a_provider_that_does_not_answer_is_unavailable_not_a_bad_token() -> None:
    settings = ServiceSettings(service_name="tests", auth_oidc_issuer_url="http://127.0.0.1:9", auth_issuer="eu-login")
    checks, token = TokenVerifier(settings), Provider().token("k1")
    for _ in range(2):  # the second within the refresh interval: no new attempt, still a 503
        with pytest.raises(IdentityProviderUnavailable):
            await checks.principal(token)


async def test_a_withdrawn_key_stops_working_once_the_keys_are_old_even_without_a_new_key_id(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = verifier(provider)
    assert (await checks.principal(provider.token("k1"))).member_id == "ana-berzina"
    provider.published = ["k2"]
    monkeypatch.setattr(auth, "KEYS_MAX_AGE_SECONDS", 0.0)
    with pytest.raises(jwt.InvalidTokenError, match="no key the identity provider publishes"):
        await checks.principal(provider.token("k1"))
