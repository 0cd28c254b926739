"""The link checker cannot be turned against the deployment: member-written links to private,
loopback or link-local addresses (directly, by name, or through a redirect) are refused before
any connection, redirects are limited, and only http and https are followed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deh_practices.adapters.links import LinkPolicy, client, link_state

pytestmark = pytest.mark.integration

LOOPBACK_ONLY = LinkPolicy.allowing(["127.0.0.1/32"])


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    """A web server on 127.0.0.1 that records the paths asked for; /to?u=URL redirects to URL."""
    asked: list[str] = []

    class Site(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            asked.append(self.path)
            if self.path.startswith("/to?u="):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/to?u="))
            elif self.path.startswith("/loop"):
                self.send_response(302)
                self.send_header("Location", f"/loop{len(asked)}")
            else:
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


async def check(url: str, policy: LinkPolicy | None = None) -> tuple[int | None, str | None]:
    async with client() as http_client:
        return await link_state(http_client, url, policy)


async def test_loopback_and_private_targets_are_refused_before_any_connection(site: tuple[str, list[str]]) -> None:
    address, asked = site
    port = address.split(":")[1]
    inside = ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "http://[64:ff9b::a00:1]/")
    for url in (f"http://{address}/ok", f"http://localhost:{port}/ok", *inside):
        status, error = await check(url)
        assert status is None, url
        assert str(error).startswith("refused:"), (url, error)
    assert asked == [], "nothing was fetched"


async def test_a_redirect_to_an_address_inside_is_refused_at_that_hop(site: tuple[str, list[str]]) -> None:
    address, asked = site
    status, error = await check(f"http://{address}/to?u=http://169.254.169.254/latest/meta-data", LOOPBACK_ONLY)
    assert (status, error) == (
        None,
        "refused: 169.254.169.254 resolves to 169.254.169.254, which is not a public address",
    )
    assert asked == ["/to?u=http://169.254.169.254/latest/meta-data"]


async def test_only_http_and_https_links_are_followed_and_redirects_are_limited(site: tuple[str, list[str]]) -> None:
    address, asked = site
    assert (await check("file:///etc/passwd"))[1] == "refused: only http and https links are checked"
    assert (await check(f"http://{address}/ok", LOOPBACK_ONLY)) == (200, None)
    assert (await check(f"http://{address}/loop", LOOPBACK_ONLY))[1] == "more than 5 redirects"
    assert len([path for path in asked if path.startswith("/loop")]) == 6
    with pytest.raises(httpx.InvalidURL):
        httpx.URL("http://[::1")  # a malformed link is reported, never crashes the check
    assert (await check("http://[::1"))[1] is not None
