"""Liveness says whether the process should be restarted: not while a server is away (that is
readiness), but once a loop it runs (a consumer, the outbox relay, a job) has ended."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from counters_service import CountersService

pytestmark = pytest.mark.integration


async def test_liveness_fails_once_a_loop_of_the_service_has_ended(counters: CountersService) -> None:
    transport = httpx.ASGITransport(app=counters.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counters") as client:
        alive = await client.get("/healthz")
        assert (alive.status_code, alive.json()) == (200, {"status": "ok", "stopped": []})

        relay = counters.runtime._tasks["outbox relay"]
        relay.cancel()  # as if it had ended by itself
        with contextlib.suppress(asyncio.CancelledError):
            await relay

        dead = await client.get("/healthz")
        assert dead.status_code == 503
        assert dead.json() == {"status": "stopped", "stopped": ["outbox relay"]}
