"""Limits shared by every API process (SPEC §9): `POST …/token` per account, and failed
authentications per client address (at most 100 a minute, then 429 with Retry-After)
and per account (a guessing run spread over many addresses). Two processes on one
database count together; a client with valid credentials from an address that has not
failed is never affected.

Requests come from several loopback addresses (127.0.0.1, 127.0.0.2, …): Linux routes
all of 127.0.0.0/8 to the loopback interface, so the server sees each as its own client.
"""

from __future__ import annotations

import http.client
import json

import cloudflare
import pytest

from helpers import HTTP_TIMEOUT_S, expect_sdk_error, start_of_a_minute


def call(srv, method: str, path: str, source: str, headers: dict[str, str]) -> tuple[int, dict, dict]:
    """A request to the server's API from loopback address `source`."""
    host, port = srv.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT_S,
                                      source_address=(source, 0))
    try:
        conn.request(method, f"/client/v4{path}", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, dict(resp.getheaders()), json.loads(body) if body else {}
    finally:
        conn.close()


def list_videos(srv, source: str, token: str, account: str = "a") -> tuple[int, dict, dict]:
    return call(srv, "GET", f"/accounts/{srv.acct(account)}/stream", source,
                {"Authorization": f"Bearer {token}"})


def assert_limited(status: int, headers: dict, body: dict) -> None:
    assert status == 429, (status, body)
    retry = headers.get("retry-after") or headers.get("Retry-After")
    assert retry is not None and 1 <= int(retry) <= 60, headers
    assert body["success"] is False and body["errors"][0]["code"] == 10429, body


def test_failed_authentications_are_limited_per_address(make_server):
    srv = make_server()
    good = srv.accounts["a"].api_token
    assert list_videos(srv, "127.0.0.1", good)[0] == 200
    start_of_a_minute()
    for i in range(100):
        status, _, _ = list_videos(srv, "127.0.0.1", f"wrong-{i}")
        assert status == 403, (i, status)
    # The 101st failure in the minute: refused before the credentials are even read,
    # and so is a valid credential from that address.
    assert_limited(*list_videos(srv, "127.0.0.1", "wrong-again"))
    assert_limited(*list_videos(srv, "127.0.0.1", good))
    # Another address with valid credentials is served; a wrong one still gets 403.
    assert list_videos(srv, "127.0.0.2", good)[0] == 200
    assert list_videos(srv, "127.0.0.2", "wrong")[0] == 403
    # Legacy credentials and the tus URLs are counted and refused alike.
    status, headers, body = call(srv, "GET", f"/accounts/{srv.acct('a')}/stream", "127.0.0.1",
                                 {"X-Auth-Email": srv.accounts["a"].email,
                                  "X-Auth-Key": srv.accounts["a"].api_key})
    assert_limited(status, headers, body)


def test_a_guessing_run_over_many_addresses_is_limited_per_account(make_server):
    srv = make_server("--auth-failure-account-limit", "10")
    other = make_server("--auth-failure-account-limit", "10", share=srv)  # a second process
    good = srv.accounts["a"].api_token
    start_of_a_minute()
    for i in range(2, 13):  # eleven addresses, one failure each, through both processes
        target = srv if i % 2 else other
        assert list_videos(target, f"127.0.0.{i}", "guess")[0] == 403
    # Over the account's limit: an address that failed against it is refused even with
    # the right credentials, by either process...
    assert_limited(*list_videos(srv, "127.0.0.5", good))
    assert_limited(*list_videos(other, "127.0.0.6", good))
    # ...while the account's own clients elsewhere, and other accounts, are served.
    assert list_videos(srv, "127.0.0.1", good)[0] == 200
    assert list_videos(other, "127.0.0.1", good)[0] == 200
    assert list_videos(srv, "127.0.0.5", srv.accounts["b"].api_token, account="b")[0] == 200


def test_the_token_rate_limit_holds_across_processes(make_server, clip):
    srv = make_server("--token-rate-limit", "4")
    other = make_server("--token-rate-limit", "4", share=srv)
    uid = srv.upload_ok(clip)["uid"]
    srv.wait_for_state(uid)
    acct = srv.acct("a")
    start_of_a_minute()
    for s in (srv, other, srv, other):
        assert s.client("a").stream.token.create(identifier=uid, account_id=acct).token
    for s in (srv, other):
        e = expect_sdk_error(cloudflare.RateLimitError,
                             lambda: s.client("a").stream.token.create(identifier=uid,
                                                                       account_id=acct), 429)
        assert e.response.headers["retry-after"].isdigit()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}])
def test_requests_without_credentials_are_not_counted_as_failures(make_server, headers):
    srv = make_server("--auth-failure-limit", "3")
    for _ in range(10):
        status, _, _ = call(srv, "GET", f"/accounts/{srv.acct('a')}/stream", "127.0.0.1", headers)
        assert status == 400
    assert list_videos(srv, "127.0.0.1", srv.accounts["a"].api_token)[0] == 200
