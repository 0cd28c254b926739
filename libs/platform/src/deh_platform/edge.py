"""The first check of every request, before routing, parsing or authentication work: the body's
size (413 beyond the limit, whether announced by Content-Length or streamed in chunks), that a
body is declared JSON (415 otherwise: every operation of the hub takes JSON, but the paths whose
protocol sends forms, such as OAI-PMH's, take forms instead), is UTF-8 JSON or form (422), and that every
string is text (a lone surrogate such as "\\udc00" is no character: MongoDB and OpenSearch cannot
store it, so it is a 422 that names the field, not a 500 later)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Location = tuple[str | int, ...]
SURROGATE = re.compile("[\ud800-\udfff]")
FORM = b"application/x-www-form-urlencoded"
MAX_DEPTH = 32  # no request of the hub nests deeper; far deeper JSON would exhaust the parser's stack


class EdgeGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_wait_seconds: float = 10.0,
        form_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths whose protocol sends forms (application/x-www-form-urlencoded) instead of JSON.
        self.form_paths = form_paths
        # A client that announces more than it sends (a lying Content-Length) would hold the
        # connection for as long as it stays open; each part of a body must come within this.
        self.body_wait_seconds = body_wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        announced = headers.get(b"content-length")
        if announced is not None:
            if not announced.isdigit():
                await _answer(send, 400, "Content-Length must be a number of bytes")
                return
            if int(announced) > self.max_body_bytes:
                await _answer(send, 413, self._too_large())
                return
        try:
            body = await self._read(receive)
        except TimeoutError:
            await _answer(send, 408, f"the body did not arrive within {self.body_wait_seconds:g} s")
            return
        if body is None:
            await _answer(send, 413, self._too_large())
            return
        content_type = headers.get(b"content-type", b"")
        form = scope.get("path") in self.form_paths
        if body and not (_media_type(content_type) == FORM if form else _is_json(content_type)):
            await _answer(send, 415, self._wanted(scope))
            return
        problem = (_form_problem(body) if form else _json_problem(body)) if body else None
        if problem is not None:
            await _answer(send, 422, [problem])
            return
        await self.app(scope, _replay(body, receive), send)

    def _wanted(self, scope: Scope) -> str:
        if scope.get("path") in self.form_paths:
            return "the body must be a form (Content-Type: application/x-www-form-urlencoded)"
        return "the body must be JSON (Content-Type: application/json)"

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it grows beyond the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await asyncio.wait_for(receive(), self.body_wait_seconds)
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _media_type(content_type: bytes) -> bytes:
    return content_type.split(b";")[0].strip().lower()


def _is_json(content_type: bytes) -> bool:
    """application/json or a JSON-based type (application/problem+json), any parameters."""
    media_type = _media_type(content_type)
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # a disconnect, when it comes
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _form_problem(body: bytes) -> dict[str, Any] | None:
    """Why a form body is not acceptable (not ASCII, or a value whose percent-encoding is not
    UTF-8), or None."""
    try:
        parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return {"loc": ["body"], "msg": "the form is not percent-encoded UTF-8 text", "type": "value_error"}
    return None


def _json_problem(body: bytes) -> dict[str, Any] | None:
    """Why the body is not acceptable JSON text (not UTF-8, not JSON, a lone surrogate), or None."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return {"loc": ["body"], "msg": "the body is not UTF-8 text", "type": "json_invalid"}
    except ValueError as error:
        return {"loc": ["body"], "msg": f"the body is not JSON ({error.args[0][:80]})", "type": "json_invalid"}
    except RecursionError:
        return _too_deep()
    try:
        location = next(_surrogates(document, ()), None)
    except TooDeep:
        return _too_deep()
    if location is None:
        return None
    return {"loc": ["body", *location], "msg": "a lone surrogate is not a character", "type": "value_error"}


class TooDeep(Exception):
    pass


def _too_deep() -> dict[str, Any]:
    return {"loc": ["body"], "msg": f"the body nests deeper than {MAX_DEPTH} levels", "type": "json_invalid"}


def _surrogates(value: Any, location: Location) -> Iterator[Location]:
    if len(location) > MAX_DEPTH:
        raise TooDeep
    if isinstance(value, str):
        if SURROGATE.search(value):
            yield location
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _surrogates(key, (*location, "(key)"))
            yield from _surrogates(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _surrogates(item, (*location, index))


async def _answer(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
