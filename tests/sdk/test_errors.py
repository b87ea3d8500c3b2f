"""Malformed requests (SPEC §3 envelope and status codes, §6 "bad input ... leaves no
partial state behind"), sent raw with `requests`.

Malformed JSON, non-object JSON bodies, oversized JSON bodies, unknown paths and wrong
methods all answer in the error envelope with a fitting status and
`x-should-retry: false`; after each, no video or signing key was created or changed.
"""

from __future__ import annotations

import pytest

from helpers import assert_error_envelope

ONE_MB = 1024 * 1024


@pytest.fixture(autouse=True)
def nothing_changes(server, ready_video):
    def snapshot():
        return (server.video_count("a"), server.key_ids("a"), server.video_count("b"),
                server.key_ids("b"), server.get_video(ready_video.uid)["modified"])

    before = snapshot()
    yield
    assert snapshot() == before, "a refused request changed state"


def _paths(server, uid):
    acct = server.acct("a")
    return {
        "token": f"/accounts/{acct}/stream/{uid}/token",
        "edit": f"/accounts/{acct}/stream/{uid}",
        "keys": f"/accounts/{acct}/stream/keys",
    }


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("route", ["token", "edit", "keys"])
@pytest.mark.parametrize("data", [
    b"{",
    b'{"exp": }',
    b"{'single': 'quotes'}",
    b'{"requireSignedURLs": true,}',
    b"\xff\xfe not utf-8",
    b"nul\x00l",
], ids=["open-brace", "missing-value", "single-quotes", "trailing-comma", "not-utf8", "nul"])
def test_malformed_json_is_400(server, ready_video, route, data):
    resp = server.request("POST", _paths(server, ready_video.uid)[route], headers=JSON, data=data)
    assert_error_envelope(resp, 400)


@pytest.mark.parametrize("route", ["token", "edit", "keys"])
@pytest.mark.parametrize("data", [b"[]", b'[{"exp": 1}]', b"42", b'"a string"', b"null",
                                  b"true"])
def test_non_object_json_is_400(server, ready_video, route, data):
    resp = server.request("POST", _paths(server, ready_video.uid)[route], headers=JSON, data=data)
    assert_error_envelope(resp, 400)


@pytest.mark.parametrize("route", ["token", "edit", "keys"])
def test_one_megabyte_json_is_refused(server, ready_video, route):
    data = '{"meta": {"name": "big", "pad": "' + "x" * ONE_MB + '"}}'
    resp = server.request("POST", _paths(server, ready_video.uid)[route], headers=JSON,
                          data=data.encode())
    assert_error_envelope(resp, (413, 400))


def test_deeply_nested_json_is_400(server, ready_video):
    data = b'{"meta": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    resp = server.request("POST", _paths(server, ready_video.uid)["edit"], headers=JSON, data=data)
    assert_error_envelope(resp, 400)


@pytest.mark.parametrize("path", [
    "/nope",
    "",
    "//",
    "/accounts",
    "/accounts/{acct}",
    "/accounts/{acct}/stream/{uid}/nope",
    "/accounts/{acct}/streams",
    "/user/tokens/verify",
])
def test_unknown_path_is_404_envelope(server, ready_video, path):
    p = path.format(acct=server.acct("a"), uid=ready_video.uid)
    for auth in ("a", None):
        resp = server.request("GET", p, auth=auth)
        assert_error_envelope(resp, 404)


def test_api_root_with_trailing_slash_is_envelope(server):
    """`GET /client/v4/` is under the API base too: a 404 in the envelope, not the
    delivery edge's plain-text 404."""
    for auth in ("a", None):
        resp = server.request("GET", "/", auth=auth)
        assert_error_envelope(resp, 404, 7000)


@pytest.mark.parametrize("method,path", [
    ("PUT", "/accounts/{acct}/stream/{uid}"),
    ("PATCH", "/accounts/{acct}/stream/{uid}"),
    ("PUT", "/accounts/{acct}/stream"),
    ("DELETE", "/accounts/{acct}/stream"),
    ("GET", "/accounts/{acct}/stream/{uid}/token"),
    ("PUT", "/accounts/{acct}/stream/keys"),
    ("GET", "/accounts/{acct}/stream/keys/{kid}"),
    ("POST", "/accounts/{acct}/stream/{uid}/embed"),
])
def test_wrong_method_is_405_envelope(server, ready_video, method, path):
    p = path.format(acct=server.acct("a"), uid=ready_video.uid, kid="0" * 32)
    resp = server.request(method, p, json={"meta": {"name": "changed"}})
    assert_error_envelope(resp, 405)


def test_put_on_video_does_not_edit(server, ready_video):
    p = f"/accounts/{server.acct('a')}/stream/{ready_video.uid}"
    before = server.get_video(ready_video.uid)
    resp = server.request("PUT", p, json={"requireSignedURLs": True, "meta": {"name": "x"}})
    body = assert_error_envelope(resp, 405)
    assert body["errors"][0]["code"] == 7001
    assert server.get_video(ready_video.uid) == before


def test_error_messages_carry_no_internal_detail(server, ready_video):
    responses = [
        server.request("POST", _paths(server, ready_video.uid)["token"], headers=JSON, data=b"{"),
        server.request("POST", _paths(server, ready_video.uid)["edit"], headers=JSON,
                       data=b'{"thumbnailTimestampPct": "x"}'),
        server.request("GET", "/nope"),
    ]
    for resp in responses:
        body = assert_error_envelope(resp, (400, 404))
        msg = body["errors"][0]["message"]
        for leak in (str(server.data_dir), "usher.db", "sqlx", "panicked", "src/", ".rs:"):
            assert leak not in msg, msg

