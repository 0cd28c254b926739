"""The edge check of every request: size before anything else, even for a streamed body, and
text that MongoDB and OpenSearch can store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from deh_platform.edge import EdgeGuard

pytestmark = pytest.mark.unit


def guarded_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app.add_middleware(EdgeGuard, max_body_bytes=1000)
    return app


async def post(content: Any, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded_app()), base_url="http://edge") as client:
        return await client.post("/echo", content=content, headers={"content-type": "application/json", **headers})


async def test_a_body_within_the_limit_reaches_the_route_unchanged() -> None:
    response = await post(b'{"name": "Ilze \\u0160"}')
    assert response.json() == {"name": "Ilze Š"}


async def test_a_streamed_body_beyond_the_limit_is_refused_while_it_arrives() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"x": "'
        for _ in range(100):
            yield b"y" * 100
        yield b'"}'

    response = await post(chunks())
    assert response.status_code == 413


async def test_a_content_length_that_is_not_a_number_is_a_400() -> None:
    assert (await post(b"{}", **{"content-length": "lots"})).status_code == 400


async def test_a_lone_surrogate_in_a_key_or_a_list_is_located() -> None:
    response = await post(b'{"tags": ["ok", "bad \\ud800"]}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "tags", 1]


async def test_a_body_that_is_not_declared_json_is_a_415() -> None:
    assert (await post(b"name=x", **{"content-type": "application/x-www-form-urlencoded"})).status_code == 415
    assert (await post(b'{"a": 1}', **{"content-type": "application/json; charset=utf-8"})).status_code == 200


async def test_bytes_that_are_not_utf8_json_are_a_422_on_the_body_without_an_echo() -> None:
    for content in (b"\xff\xfe{", b'{"a": ', b"0.\x06\xff"):
        response = await post(content)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body"]
        assert "\\u" not in response.text
        assert "\xff" not in response.text


async def test_json_nested_too_deep_is_a_422_not_a_crash_and_a_byte_order_mark_is_allowed() -> None:
    for depth in (40, 450):
        response = await post(b"[" * depth + b"]" * depth)
        assert response.status_code == 422
        assert "nests deeper" in response.json()["detail"][0]["msg"]
    assert (await post(b'\xef\xbb\xbf{"a": 1}')).status_code == 200


async def test_a_body_that_stops_arriving_is_a_408_once_a_part_is_late() -> None:
    answers: list[Any] = []

    async def announced_but_never_sent() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client announced a body and sends nothing more
        return {}

    async def send(message: Any) -> None:
        answers.append(message)

    guard = EdgeGuard(guarded_app(), max_body_bytes=1000, body_wait_seconds=0.2)
    scope = {"type": "http", "method": "POST", "path": "/echo", "headers": [(b"content-length", b"500")]}
    await guard(scope, announced_but_never_sent, send)
    assert answers[0]["status"] == 408


def form_app() -> FastAPI:
    app = FastAPI()

    @app.post("/form")
    async def form(request: Request) -> dict[str, str]:
        return {"body": (await request.body()).decode()}

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app.add_middleware(EdgeGuard, max_body_bytes=1000, form_paths=frozenset({"/form"}))
    return app


async def post_form(path: str, content: bytes) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=form_app()), base_url="http://edge") as client:
        return await client.post(path, content=content, headers={"content-type": "application/x-www-form-urlencoded"})


async def test_a_form_reaches_a_path_whose_protocol_sends_forms_and_nowhere_else() -> None:
    assert (await post_form("/form", b"verb=Identify&set=sector%3Aschool")).json() == {
        "body": "verb=Identify&set=sector%3Aschool"
    }
    assert (await post_form("/echo", b"verb=Identify")).status_code == 415
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=form_app()), base_url="http://edge") as client:
        as_json = await client.post(
            "/form", content='{"verb": "é"}'.encode(), headers={"content-type": "application/json"}
        )
    assert as_json.status_code == 415, "a form path takes forms only"


@pytest.mark.parametrize("body", [b"verb=\xff", b"verb=%FF%FE", b"name=%ED%A0%80"])
async def test_a_form_that_is_not_percent_encoded_utf8_is_a_422(body: bytes) -> None:
    response = await post_form("/form", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
