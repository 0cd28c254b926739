"""Keeping the library alive: a link checker that reports dead links as `practice link broken`
events (the staleness rule is `PracticeStore.flag_stale`).

Links are written by members, and the checker runs inside the deployment, so it must not become
a way to reach what only the deployment can reach (server-side request forgery). Every hop,
redirects included, is checked before a connection is made: only http and https, only to
addresses on the public internet (no private, loopback, link-local, multicast or reserved
address, whatever the name resolves to), and the connection goes to the very address that was
checked (the name is kept for the Host header and TLS), so a second DNS answer cannot differ.
At most `max_redirects` hops, `timeout_seconds` per link, and no body is read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.catalogue.practices import PracticeLinkBroken
from deh_platform.errors import Conflict
from deh_practices.adapters.store import PracticeStore

CONCURRENT_CHECKS = 8
log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class LinkPolicy:
    # Networks reachable although not public: none in a deployment; tests name their own server.
    allowed_networks: Sequence[Network] = field(default_factory=tuple)
    max_redirects: int = 5
    timeout_seconds: float = 10.0

    @classmethod
    def allowing(cls, networks: Sequence[str]) -> LinkPolicy:
        return cls(tuple(ipaddress.ip_network(network) for network in networks))


@dataclass(frozen=True)
class LinkReport:
    checked: int
    broken: int
    newly_broken: int


class Refused(Exception):
    """A link the checker will not follow."""


def client() -> httpx.AsyncClient:
    """The checker's HTTP client: redirects are followed by hand, each hop checked, and no
    connection is kept: a pooled one is chosen by address alone, so a TLS connection made for
    one name could otherwise carry a request for another name on the same address."""
    return httpx.AsyncClient(
        follow_redirects=False,
        headers={"User-Agent": "deh-link-checker"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def link_state(
    client: httpx.AsyncClient, url: str, policy: LinkPolicy | None = None
) -> tuple[int | None, str | None]:
    """(status code, error) of a link, after its redirects; a HEAD first, a GET when HEAD is not allowed."""
    policy = policy or LinkPolicy()
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            for _ in range(policy.max_redirects + 1):
                status, location = await _hop(client, httpx.URL(url), policy)
                if location is None:
                    return status, f"HTTP {status}" if status >= 400 else None
                url = str(httpx.URL(url).join(location))
            return None, f"more than {policy.max_redirects} redirects"
    except Refused as refusal:
        return None, f"refused: {refusal}"
    except TimeoutError:
        return None, f"no answer within {policy.timeout_seconds:g} s"
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


async def _hop(client: httpx.AsyncClient, url: httpx.URL, policy: LinkPolicy) -> tuple[int, str | None]:
    """One request to one checked address: the status and, for a redirect, where it points."""
    if url.scheme not in ("http", "https") or not url.host:
        raise Refused("only http and https links are checked")
    addresses = await _public_addresses(url.host, url.port or (443 if url.scheme == "https" else 80), policy)
    headers = {"Host": url.netloc.decode("ascii")}
    # The name as it goes on the wire (IDNA-encoded), for the certificate check.
    extensions: dict[str, Any] = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    for address in addresses:  # in the resolver's order; the next one when a connection fails
        try:
            return await _ask(client, url.copy_with(host=address), headers, extensions)
        except httpx.ConnectError:
            if address == addresses[-1]:
                raise
    raise AssertionError("unreachable")


async def _ask(
    client: httpx.AsyncClient, direct: httpx.URL, headers: dict[str, str], extensions: dict[str, Any]
) -> tuple[int, str | None]:
    for method in ("HEAD", "GET"):
        request = client.build_request(method, direct, headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)  # the body is never read
        await response.aclose()
        if method == "HEAD" and response.status_code in (405, 501):
            continue
        location = response.headers.get("location") if response.is_redirect else None
        return response.status_code, location
    raise AssertionError("unreachable")


# IPv6 ranges that carry an IPv4 address inside (NAT64, 6to4, Teredo, IPv4-compatible): Python
# counts some as global, but through them a link can reach a private IPv4 address.
EMBEDDING_IPV4 = [
    ipaddress.ip_network(network) for network in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96")
]


async def _public_addresses(host: str, port: int, policy: LinkPolicy) -> list[str]:
    """The addresses to connect to, once every address the name resolves to is allowed."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(answer[4][0]).split("%")[0] for answer in answers))
    if not addresses:
        raise Refused(f"{host} has no address")
    for text in addresses:
        address = ipaddress.ip_address(text)
        allowed = any(address in network for network in policy.allowed_networks)
        inside = address.version == 6 and any(address in network for network in EMBEDDING_IPV4)
        if not allowed and (inside or not address.is_global):
            raise Refused(f"{host} resolves to {address}, which is not a public address")
    return addresses


async def check_links(store: PracticeStore, client: httpx.AsyncClient, policy: LinkPolicy) -> LinkReport:
    """Check every link of every published practice; publish an event for each link that broke
    since the last check, and forget links that work again."""
    limit = asyncio.Semaphore(CONCURRENT_CHECKS)
    checked = broken = newly = 0

    async def check(url: str) -> tuple[int | None, str | None]:
        async with limit:
            return await link_state(client, url, policy)

    # The ids first: no database cursor stays open while links are fetched.
    published = [document["_id"] async for document in store.practices.find({"status": "published"}, {"_id": 1})]
    for practice_id in published:
        practice = await store.practices.find_one(
            {"_id": practice_id, "status": "published"}, {"metadata.links": 1, "broken_links": 1}
        )
        if practice is None:
            continue  # archived meanwhile
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
            try:
                await store.change(
                    await store.get(practice_id), {"broken_links": sorted(dead), "links_checked_at": now}, list(events)
                )
            except Conflict:  # edited meanwhile: the next check sees the new version
                log.info("link check: practice %s changed meanwhile; checked again next time", practice_id)
    return LinkReport(checked, broken, newly)


class LinkChecks:
    """The link check as a job, not a request: the replica holding its lease (see
    `runtime.run_exclusively`) looks every few seconds whether a check is due (a day after the
    last one, or asked for by an admin) and runs it; the last report is kept for reading."""

    def __init__(self, store: PracticeStore, policy: LinkPolicy, every: timedelta) -> None:
        self.store = store
        self.policy = policy
        self.every = every
        self.state: AsyncCollection[dict[str, Any]] = store.runtime.db.link_checks

    async def ask(self) -> None:
        """An admin asks for a check now; the job starts it within its polling interval."""
        await self.state.update_one({"_id": "last"}, {"$set": {"asked_at": datetime.now(UTC)}}, upsert=True)

    async def last(self) -> dict[str, Any] | None:
        return await self.state.find_one({"_id": "last"}, {"_id": 0})

    async def run_when_due(self) -> None:
        last = await self.last() or {}
        finished, asked = last.get("finished_at"), last.get("asked_at")
        due = finished is None or datetime.now(UTC) - finished >= self.every or (asked and asked > finished)
        if not due:
            return
        started = datetime.now(UTC)
        async with client() as http:
            report = await check_links(self.store, http, self.policy)
        fields = {"started_at": started, "finished_at": datetime.now(UTC), **dataclasses.asdict(report)}
        await self.state.update_one({"_id": "last"}, {"$set": fields}, upsert=True)
