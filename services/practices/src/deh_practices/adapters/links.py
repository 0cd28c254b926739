"""Keeping the library alive: a link checker that reports dead links as `practice link broken`
events (the staleness rule is `PracticeStore.flag_stale`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from deh_contracts.catalogue.practices import PracticeLinkBroken
from deh_practices.adapters.store import PracticeStore

CONCURRENT_CHECKS = 8


@dataclass(frozen=True)
class LinkReport:
    checked: int
    broken: int
    newly_broken: int


async def link_state(client: httpx.AsyncClient, url: str) -> tuple[int | None, str | None]:
    """(status code, error) of a link; a HEAD first, a GET when HEAD is not allowed."""
    try:
        response = await client.head(url)
        if response.status_code in (405, 501):
            response = await client.get(url)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"
    if response.status_code >= 400:
        return response.status_code, f"HTTP {response.status_code}"
    return response.status_code, None


async def check_links(store: PracticeStore, client: httpx.AsyncClient) -> LinkReport:
    """Check every link of every published practice; publish an event for each link that broke
    since the last check, and forget links that work again."""
    limit = asyncio.Semaphore(CONCURRENT_CHECKS)
    checked = broken = newly = 0

    async def check(url: str) -> tuple[int | None, str | None]:
        async with limit:
            return await link_state(client, url)

    async for practice in store.practices.find(
        {"status": "published"}, {"metadata.links": 1, "broken_links": 1, "revision": 1}
    ):
        links = practice["metadata"].get("links", [])
        states = await asyncio.gather(*(check(url) for url in links))
        checked += len(links)
        now = datetime.now(UTC)
        dead = {url: state for url, state in zip(links, states, strict=True) if state[1] is not None}
        broken += len(dead)
        known = set(practice.get("broken_links", []))
        events = [
            PracticeLinkBroken(
                practice_id=practice["_id"], url=url, status_code=code, error=error or "", checked_at=now
            )
            for url, (code, error) in dead.items()
            if url not in known
        ]
        newly += len(events)
        if events or known != set(dead):
            await store.change(
                await store.get(practice["_id"]), {"broken_links": sorted(dead), "links_checked_at": now}, list(events)
            )
    return LinkReport(checked, broken, newly)
