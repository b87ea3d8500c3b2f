"""Authentication and account isolation (SPEC §3 "Authentication").

Bearer tokens and the legacy X-Auth-Email/X-Auth-Key pair, through the official SDK and
raw HTTP; missing credentials (400/9106), wrong credentials (403/10000), and that
account A's credentials never reach account B's videos or keys on any route — with the
error envelope and `x-should-retry: false` on every refusal.
"""

from __future__ import annotations

import cloudflare
import pytest
import requests
from cloudflare import Cloudflare

from helpers import assert_error_envelope, assert_ok_envelope, expect_sdk_error

MISSING_MSG = "Missing X-Auth-Key, X-Auth-Email or Authorization headers"


def test_bearer_token_works_with_sdk(server, ready_video):
    client = server.client("a")
    video = client.stream.get(identifier=ready_video.uid, account_id=server.acct("a"))
    assert video is not None and video.uid == ready_video.uid
    uids = [v.uid for v in client.stream.list(account_id=server.acct("a"))]
    assert ready_video.uid in uids


def test_legacy_email_and_key_work_with_sdk(server, ready_video):
    client = server.legacy_client("a")
    video = client.stream.get(identifier=ready_video.uid, account_id=server.acct("a"))
    assert video is not None and video.uid == ready_video.uid
    keys = list(client.stream.keys.get(account_id=server.acct("a")))
    assert sorted(k.id for k in keys) == server.key_ids("a")
    tok = client.stream.token.create(identifier=ready_video.uid, account_id=server.acct("a"))
    assert tok is not None and tok.token.count(".") == 2


def test_legacy_email_is_case_insensitive(server):
    a = server.accounts["a"]
    resp = server.request("GET", f"/accounts/{a.account_id}/stream", auth=None,
                          headers={"X-Auth-Email": a.email.upper(), "X-Auth-Key": a.api_key})
    assert_ok_envelope(resp)


@pytest.mark.parametrize("method,suffix", [
    ("GET", "/stream"),
    ("GET", "/stream/keys"),
    ("POST", "/stream/keys"),
    ("GET", "/stream/{uid}"),
    ("POST", "/stream/{uid}/token"),
])
def test_no_credentials_is_400_code_9106(server, ready_video, method, suffix):
    path = f"/accounts/{server.acct('a')}" + suffix.format(uid=ready_video.uid)
    before = server.key_ids("a")
    resp = server.request(method, path, auth=None)
    body = assert_error_envelope(resp, 400, 9106)
    assert body["errors"][0]["message"] == MISSING_MSG
    assert server.key_ids("a") == before


@pytest.mark.parametrize("headers", [
    {"X-Auth-Email": "a@example.com"},  # half of the legacy pair
    {"X-Auth-Key": "0123456789abcdef"},
    {"Authorization": "Basic dXNlcjpwYXNz"},  # not a bearer token
    {"Authorization": ""},
])
def test_incomplete_credentials_are_missing_credentials(server, headers):
    resp = server.request("GET", f"/accounts/{server.acct('a')}/stream", auth=None, headers=headers)
    assert_error_envelope(resp, 400, 9106)


def test_wrong_token_is_403_code_10000(server):
    resp = server.request("GET", f"/accounts/{server.acct('a')}/stream", auth=None,
                          headers={"Authorization": "Bearer not-the-token"})
    body = assert_error_envelope(resp, 403, 10000)
    assert body["errors"][0]["message"] == "Authentication error"


def test_wrong_token_via_sdk_is_permission_denied(server):
    bad = Cloudflare(api_token="x" * 40, base_url=server.api, max_retries=0)
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: bad.stream.list(account_id=server.acct("a")), 403, 10000)


def test_wrong_key_with_right_email_is_403(server):
    a = server.accounts["a"]
    bad = Cloudflare(api_email=a.email, api_key="0" * len(a.api_key), base_url=server.api,
                     max_retries=0)
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: bad.stream.keys.get(account_id=a.account_id), 403, 10000)


def test_right_key_with_wrong_email_is_403(server):
    a = server.accounts["a"]
    resp = server.request("GET", f"/accounts/{a.account_id}/stream", auth=None,
                          headers={"X-Auth-Email": "someone@example.com", "X-Auth-Key": a.api_key})
    assert_error_envelope(resp, 403, 10000)


def test_b_legacy_pair_does_not_open_a(server):
    resp = server.request("GET", f"/accounts/{server.acct('a')}/stream", auth=None,
                          headers=server.legacy("b"))
    assert_error_envelope(resp, 403, 10000)


def test_a_key_with_b_email_is_403(server):
    headers = {"X-Auth-Email": server.accounts["b"].email,
               "X-Auth-Key": server.accounts["a"].api_key}
    for acct in ("a", "b"):
        resp = server.request("GET", f"/accounts/{server.acct(acct)}/stream", auth=None,
                              headers=headers)
        assert_error_envelope(resp, 403, 10000)


def test_bearer_and_legacy_together_are_accepted(server):
    """FIELD-NOTES: the TS SDK sends all three; either proof is enough, never a 400."""
    path = f"/accounts/{server.acct('a')}/stream"
    both = {**server.bearer("a"), **server.legacy("a")}
    assert_ok_envelope(server.request("GET", path, auth=None, headers=both))
    good_bearer_bad_key = {**server.bearer("a"), "X-Auth-Email": server.accounts["a"].email,
                           "X-Auth-Key": "nope"}
    assert_ok_envelope(server.request("GET", path, auth=None, headers=good_bearer_bad_key))
    bad_everything = {"Authorization": "Bearer nope", "X-Auth-Email": server.accounts["a"].email,
                      "X-Auth-Key": "nope"}
    assert_error_envelope(server.request("GET", path, auth=None, headers=bad_everything), 403, 10000)


@pytest.mark.parametrize("account_id", [
    "0" * 32,  # well-formed, no such account
    "not-an-account",
    "A" * 32,  # upper-case hex is not an Usher id
])
def test_unknown_account_is_403(server, account_id):
    resp = server.request("GET", f"/accounts/{account_id}/stream")
    assert_error_envelope(resp, (403, 404))


# Every route under /accounts/{b}, called with account a's credentials.
CROSS_ROUTES = [
    ("GET", "/stream", None),
    ("GET", "/stream/{vid}", None),
    ("POST", "/stream/{vid}", {"meta": {"name": "pwned"}, "requireSignedURLs": False}),
    ("DELETE", "/stream/{vid}", None),
    ("POST", "/stream/{vid}/token", {}),
    ("GET", "/stream/{vid}/embed", None),
    ("POST", "/stream/keys", None),
    ("GET", "/stream/keys", None),
    ("DELETE", "/stream/keys/{kid}", None),
]


def _b_state(server, video_b, key_b):
    video = server.get_video(video_b["uid"], account="b")
    return video["meta"], video["requireSignedURLs"], server.key_ids("b"), server.video_count("b")


@pytest.mark.parametrize("auth_kind", ["bearer", "legacy"])
@pytest.mark.parametrize("method,suffix,body", CROSS_ROUTES,
                         ids=[f"{m} {s}" for m, s, _ in CROSS_ROUTES])
def test_a_credentials_on_b_account_path_are_403(server, video_b, key_b, auth_kind,
                                                  method, suffix, body):
    before = _b_state(server, video_b, key_b)
    path = f"/accounts/{server.acct('b')}" + suffix.format(vid=video_b["uid"], kid=key_b.id)
    headers = server.bearer("a") if auth_kind == "bearer" else server.legacy("a")
    resp = server.request(method, path, auth=None, headers=headers, json=body)
    assert_error_envelope(resp, 403, 10000)
    assert video_b["uid"] not in resp.text and key_b.id not in resp.text
    assert _b_state(server, video_b, key_b) == before


def test_a_cannot_upload_into_b(server, video_b, key_b):
    before = _b_state(server, video_b, key_b)
    resp = requests.post(
        f"{server.api}/accounts/{server.acct('b')}/stream",
        files={"file": ("x.mp4", b"\x00" * 1000)}, headers=server.bearer("a"), timeout=30)
    assert_error_envelope(resp, 403, 10000)
    assert _b_state(server, video_b, key_b) == before


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "/stream/{vid}", None),
    ("POST", "/stream/{vid}", {"meta": {"name": "pwned"}}),
    ("DELETE", "/stream/{vid}", None),
    ("POST", "/stream/{vid}/token", {}),
    ("GET", "/stream/{vid}/embed", None),
    ("DELETE", "/stream/keys/{kid}", None),
])
def test_b_ids_under_a_account_path_are_404(server, video_b, key_b, method, suffix, body):
    """A's own account path with B's video uid or key id: as if it did not exist."""
    before = _b_state(server, video_b, key_b)
    path = f"/accounts/{server.acct('a')}" + suffix.format(vid=video_b["uid"], kid=key_b.id)
    resp = server.request(method, path, json=body)
    assert_error_envelope(resp, 404)
    assert _b_state(server, video_b, key_b) == before


def test_sdk_cross_account_errors(server, video_b, key_b):
    client_a = server.client("a")
    b = server.acct("b")
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: client_a.stream.get(identifier=video_b["uid"], account_id=b), 403)
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: client_a.stream.token.create(identifier=video_b["uid"], account_id=b),
                     403)
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: client_a.stream.keys.delete(identifier=key_b.id, account_id=b), 403)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client_a.stream.get(identifier=video_b["uid"],
                                                 account_id=server.acct("a")), 404)
    assert key_b.id in server.key_ids("b")

