"""`POST …/stream/token/explain` and `usher token explain` (SPEC §9): what the edge would
decide for a token now, every check with its verdict, in the order the edge runs them.

Tokens are self-signed with PyJWT from a signing key created through the SDK, so every
claim can be set; each explanation that does not depend on a made-up address is checked
against what the edge really answers for the same token.
"""

from __future__ import annotations

import json
import subprocess
import time

import jwt
import pytest
import requests

from helpers import HTTP_TIMEOUT_S, assert_error_envelope, b64decode, usher_bin

ORDER = ["token", "key", "signature", "video", "state", "account", "sub", "revoked", "exp", "nbf",
         "ttl", "rules", "downloadable", "origin"]


@pytest.fixture(scope="module")
def signing(server):
    key = server.client("a").stream.keys.create(account_id=server.acct("a"))
    assert key is not None
    return key


def sign(key, sub: str, **claims) -> str:
    now = int(time.time())
    body = {"sub": sub, "kid": key.id, "exp": now + 3600, "nbf": now - 60, **claims}
    return jwt.encode(body, b64decode(key.pem), algorithm="RS256", headers={"kid": key.id})


def explain(server, body: dict, account: str = "a") -> dict:
    r = server.request("POST", f"/accounts/{server.acct(account)}/stream/token/explain",
                       json=body, auth=account)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert set(result) == {"allowed", "status", "reason", "video", "checks"}, result
    names = [c["check"] for c in result["checks"]]
    assert names == [n for n in ORDER if n in names], f"checks out of the edge's order: {names}"
    return result


def by_name(result: dict) -> dict[str, dict]:
    return {c["check"]: c for c in result["checks"]}


def edge_status(server, token: str, path: str = "manifest/video.m3u8", **headers) -> int:
    return requests.get(f"{server.url}/{token}/{path}", headers=headers,
                        timeout=HTTP_TIMEOUT_S).status_code


def test_a_good_token_is_allowed_with_every_check(server, ready_video, signing):
    token = sign(signing, ready_video.uid)
    r = explain(server, {"token": token})
    assert (r["allowed"], r["status"], r["reason"], r["video"]) == \
        (True, 200, "allowed", ready_video.uid)
    assert all(c["ok"] for c in r["checks"]), r["checks"]
    assert [c["check"] for c in r["checks"]] == \
        ["token", "key", "signature", "video", "state", "account", "sub", "revoked", "exp", "nbf",
         "ttl", "rules", "origin"]
    assert signing.id in by_name(r)["key"]["detail"]
    assert edge_status(server, token) == 200


@pytest.mark.parametrize("claims, status, reason, failed", [
    ({"exp": int(time.time()) - 3600}, 401, "token expired", "exp"),
    ({"nbf": int(time.time()) + 3600}, 401, "token not valid yet", "nbf"),
    ({"exp": int(time.time()) + 3 * 86400}, 401, "invalid token: expiry more than 24 hours ahead",
     "ttl"),
    ({"sub": "0" * 32}, 404, "not found", "video"),
])
def test_refusals_name_the_failing_check_and_match_the_edge(server, ready_video, signing, claims,
                                                          status, reason, failed):
    token = sign(signing, claims.pop("sub", ready_video.uid), **claims)
    r = explain(server, {"token": token})
    assert (r["allowed"], r["status"], r["reason"]) == (False, status, reason)
    last = r["checks"][-1]
    assert (last["check"], last["ok"]) == (failed, False), r["checks"]
    assert all(c["ok"] for c in r["checks"][:-1])
    assert edge_status(server, token) == status


def test_each_rule_in_order_and_the_one_that_matched(server, ready_video, signing):
    rules = [{"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/8"]},
             {"type": "ip.geoip.country", "action": "block", "country": ["GB"]},
             {"type": "any", "action": "block"}]
    token = sign(signing, ready_video.uid, accessRules=rules)
    inside = explain(server, {"token": token, "ip": "10.1.2.3", "country": "GB"})
    assert inside["allowed"] is True
    assert "rule 1 (allow ip.src [10.0.0.0/8])" in by_name(inside)["rules"]["detail"]
    british = explain(server, {"token": token, "ip": "192.0.2.7", "country": "gb"})
    assert (british["allowed"], british["status"]) == (False, 403)
    assert "rule 2 (block ip.geoip.country [GB]) matches 192.0.2.7 (GB)" in \
        by_name(british)["rules"]["detail"]
    elsewhere = explain(server, {"token": token, "ip": "192.0.2.7", "country": "FR"})
    assert "rule 3 (block any)" in by_name(elsewhere)["rules"]["detail"]
    # The caller's own address by default: loopback, in no rule's list but "any".
    assert explain(server, {"token": token})["status"] == 403
    assert edge_status(server, token) == 403
    none = explain(server, {"token": sign(signing, ready_video.uid), "ip": "192.0.2.7"})
    assert "0 rules, none matches" in by_name(none)["rules"]["detail"]


def test_origins_and_downloads(server, clip, signing):
    cf, acct = server.client("a"), server.acct("a")
    uid = server.upload_ok(clip)["uid"]
    server.wait_for_state(uid)
    cf.stream.edit(identifier=uid, account_id=acct, allowed_origins=["shop.example"],
                   require_signed_urls=True)
    token = sign(signing, uid)
    ok = explain(server, {"token": token, "origin": "https://shop.example"})
    assert ok["allowed"] is True and "https://shop.example:443" in by_name(ok)["origin"]["detail"]
    assert edge_status(server, token, Origin="https://shop.example") == 200
    for origin in ("https://evil.example", None):
        body = {"token": token, **({"origin": origin} if origin else {})}
        r = explain(server, body)
        assert (r["allowed"], r["status"], r["checks"][-1]["check"]) == (False, 403, "origin")
    assert edge_status(server, token, Origin="https://evil.example") == 403

    # Downloads: off for the video (404), then on but not allowed by the token (403).
    r = explain(server, {"token": token, "resource": "download", "origin": "https://shop.example"})
    assert (r["status"], r["checks"][-1]["check"]) == (404, "downloadable")
    cf.stream.downloads.create(identifier=uid, account_id=acct)
    r = explain(server, {"token": token, "resource": "download", "origin": "https://shop.example"})
    assert (r["status"], r["reason"]) == (403, "downloads are not allowed for this token")
    yes = sign(signing, uid, downloadable=True)
    r = explain(server, {"token": yes, "resource": "download", "origin": "https://shop.example"})
    assert r["allowed"] is True


def test_revoked_and_unknown_keys(server, ready_video):
    cf, acct = server.client("a"), server.acct("a")
    key = cf.stream.keys.create(account_id=acct)
    token = sign(key, ready_video.uid)
    assert explain(server, {"token": token})["allowed"] is True
    cf.stream.keys.delete(identifier=key.id, account_id=acct)
    r = explain(server, {"token": token})
    assert (r["status"], r["reason"]) == (401, "invalid token: signing key revoked")
    assert (r["checks"][-1]["check"], r["video"]) == ("key", None)
    assert edge_status(server, token) == 401
    r = explain(server, {"token": "not.a.token"})
    assert (r["status"], r["checks"]) == (404, [{"check": "token", "ok": False,
                                                 "detail": "not found"}])


def test_another_accounts_token_reveals_nothing_of_it(server, video_b, key_b):
    token = sign(key_b, video_b["uid"])
    r = explain(server, {"token": token}, account="a")
    assert (r["allowed"], r["status"], r["video"]) == (False, 401, None)
    assert r["reason"] == "invalid token: unknown signing key"
    text = json.dumps(r)
    assert video_b["uid"] not in text and server.acct("b") not in text, text
    # Its own account's explanation goes on (whatever the video's state is by now).
    mine = explain(server, {"token": token}, account="b")
    assert mine["video"] == video_b["uid"]


def test_the_edge_refuses_tokens_of_another_accounts_key(server, ready_video, key_b, signing):
    """Over HTTP: b's key signs nothing for a's video, however valid the token."""
    assert edge_status(server, sign(signing, ready_video.uid)) == 200  # control
    foreign = sign(key_b, ready_video.uid)
    assert edge_status(server, foreign) == 401
    r = requests.get(f"{server.url}/{foreign}/manifest/video.m3u8", timeout=HTTP_TIMEOUT_S)
    assert r.text.strip() == "invalid token: signing key does not belong to this video"


@pytest.mark.parametrize("body, field", [
    ({}, "token"),
    ({"token": 5}, "token"),
    ({"token": "x" * 9000}, "token"),
    ({"token": "a.b.c", "ip": "10.0.0.300"}, "ip"),
    ({"token": "a.b.c", "ip": 7}, "ip"),
    ({"token": "a.b.c", "country": "GBR"}, "country"),
    ({"token": "a.b.c", "origin": "not an origin"}, "origin"),
    ({"token": "a.b.c", "resource": "everything"}, "resource"),
    ({"token": "a.b.c", "video": "../etc"}, "video"),
])
def test_bad_questions_are_400_naming_the_field(server, body, field):
    r = server.request("POST", f"/accounts/{server.acct('a')}/stream/token/explain", json=body)
    assert_error_envelope(r, 400)
    assert field in r.json()["errors"][0]["message"], r.text


def test_the_command_line_prints_every_check(server, ready_video, signing):
    token = sign(signing, ready_video.uid, exp=int(time.time()) - 3600)
    a = server.accounts["a"]
    base = [usher_bin(), "token", "explain", token, "--server", server.url,
            "--account", a.account_id, "--token", a.api_token, "--ip", "192.0.2.1"]
    out = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("ok   token"), out.stdout
    assert any(ln.startswith("FAIL exp") for ln in lines), out.stdout
    assert lines[-1] == "=> refused: 401 token expired", out.stdout
    out = subprocess.run(base + ["--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["reason"] == "token expired"
