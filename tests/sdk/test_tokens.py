"""Signed-URL tokens (SPEC §3 "Tokens", "The token", "Access rules") via
`client.stream.token.create`.

Default tokens (account key: header {"alg":"RS256","kid"}, sub/exp/nbf defaults);
tokens signed with a created signing key (id + pem), verified with PyJWT using only the
public half from the key's JWK, claims echoing what was asked; every refused input is a
400 envelope; unknown fields are ignored; missing or foreign videos get no token; and
per-account rate limiting answers 429 with `retry-after`.
"""

from __future__ import annotations

import base64
import json
import time

import cloudflare
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import (
    HEX32,
    assert_error_envelope,
    assert_ok_envelope,
    b64decode,
    b64url_to_int,
    expect_sdk_error,
    start_of_a_minute,
)

DAY = 24 * 3600
SLACK = 15  # seconds of test/server clock and scheduling difference tolerated


def public_key_from_jwk(jwk_b64: str) -> rsa.RSAPublicKey:
    """Only n and e: the verifier never sees the private half."""
    jwk = json.loads(b64decode(jwk_b64))
    return rsa.RSAPublicNumbers(b64url_to_int(jwk["e"]), b64url_to_int(jwk["n"])).public_key()


def decode_unverified(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def signing_key(server):
    key = server.client("a").stream.keys.create(account_id=server.acct("a"))
    assert key is not None
    return key


@pytest.fixture(scope="module")
def other_key(server):
    key = server.client("a").stream.keys.create(account_id=server.acct("a"))
    assert key is not None
    return key


def token_path(server, uid, acct="a"):
    return f"/accounts/{server.acct(acct)}/stream/{uid}/token"


def test_default_token(server, ready_video):
    client = server.client("a")
    now = int(time.time())
    result = client.stream.token.create(identifier=ready_video.uid, account_id=server.acct("a"))
    assert result is not None, "token.create returned None"
    header, claims = decode_unverified(result.token)
    assert set(header) == {"alg", "kid"}, header
    assert header["alg"] == "RS256"
    assert HEX32.match(header["kid"]), header
    assert claims["sub"] == ready_video.uid
    assert abs(claims["exp"] - (now + 3600)) <= SLACK, claims
    assert abs(claims["nbf"] - (now - 3600)) <= SLACK, claims
    assert claims.get("kid", header["kid"]) == header["kid"]
    assert claims.get("downloadable", False) is False
    assert not claims.get("accessRules")


def test_default_token_key_is_stable_and_not_a_signing_key(server, ready_video):
    client = server.client("a")
    t1 = client.stream.token.create(identifier=ready_video.uid, account_id=server.acct("a"))
    t2 = client.stream.token.create(identifier=ready_video.uid, account_id=server.acct("a"))
    k1 = jwt.get_unverified_header(t1.token)["kid"]
    assert k1 == jwt.get_unverified_header(t2.token)["kid"]
    assert k1 not in server.key_ids("a"), "the account key must not show up as a signing key"


def test_empty_body_shapes_give_default_tokens(server, ready_video):
    for headers, data in [({"Content-Type": "application/json"}, b""), ({}, b""),
                          ({"Content-Type": "application/json"}, b"{}")]:
        resp = server.request("POST", token_path(server, ready_video.uid), headers=headers, data=data)
        result = assert_ok_envelope(resp)
        assert set(result) == {"token"}
        assert decode_unverified(result["token"])[1]["sub"] == ready_video.uid


def test_token_signed_with_created_key(server, ready_video, signing_key):
    now = int(time.time())
    exp, nbf = now + 1800, now - 60
    rules = [
        {"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/8", "2001:db8::/32"]},
        {"type": "ip.geoip.country", "action": "block", "country": ["US", "GB"]},
        {"type": "any", "action": "block"},
    ]
    result = server.client("a").stream.token.create(
        identifier=ready_video.uid, account_id=server.acct("a"),
        id=signing_key.id, pem=signing_key.pem, exp=exp, nbf=nbf, downloadable=True,
        access_rules=rules,
    )
    assert result is not None
    header = jwt.get_unverified_header(result.token)
    assert header == {"alg": "RS256", "kid": signing_key.id}
    claims = jwt.decode(result.token, public_key_from_jwk(signing_key.jwk), algorithms=["RS256"])
    assert claims["sub"] == ready_video.uid
    assert claims["kid"] == signing_key.id
    assert claims["exp"] == exp and claims["nbf"] == nbf
    assert claims["downloadable"] is True
    assert claims["accessRules"] == rules


def test_token_signature_does_not_verify_with_another_key(server, ready_video, signing_key,
                                                          other_key):
    result = server.client("a").stream.token.create(
        identifier=ready_video.uid, account_id=server.acct("a"),
        id=signing_key.id, pem=signing_key.pem)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(result.token, public_key_from_jwk(other_key.jwk), algorithms=["RS256"])
    claims = jwt.decode(result.token, public_key_from_jwk(signing_key.jwk), algorithms=["RS256"])
    assert claims["sub"] == ready_video.uid


def test_exp_just_under_a_day_is_accepted(server, ready_video):
    exp = int(time.time()) + DAY - 120
    result = server.client("a").stream.token.create(
        identifier=ready_video.uid, account_id=server.acct("a"), exp=exp)
    assert result is not None and decode_unverified(result.token)[1]["exp"] == exp


def test_flags_and_unknown_fields_are_ignored(server, ready_video):
    result = server.client("a").stream.token.create(
        identifier=ready_video.uid, account_id=server.acct("a"), flags={"original": True},
        extra_body={"someFutureField": {"x": [1, 2]}, "another": "y"})
    assert result is not None
    claims = decode_unverified(result.token)[1]
    assert claims["sub"] == ready_video.uid
    assert "someFutureField" not in claims and "another" not in claims


def _now():
    return int(time.time())


# name -> kwargs for token.create (evaluated at call time for times)
REFUSED = {
    "exp more than 24h ahead": lambda k, o: {"exp": _now() + DAY + 600},
    "exp in the past": lambda k, o: {"exp": _now() - 10},
    "exp zero": lambda k, o: {"exp": 0},
    "nbf equal to exp": lambda k, o: {"exp": _now() + 600, "nbf": _now() + 600},
    "nbf after exp": lambda k, o: {"exp": _now() + 600, "nbf": _now() + 1200},
    "nbf negative": lambda k, o: {"nbf": -5},
    "exp far future": lambda k, o: {"exp": 2**53},
    "id without pem": lambda k, o: {"id": k.id},
    "empty id": lambda k, o: {"id": "", "pem": k.pem},
    "pem without id": lambda k, o: {"pem": k.pem},
    "pem of a different key": lambda k, o: {"id": k.id, "pem": o.pem},
    "garbage pem": lambda k, o: {"id": k.id, "pem": "bm90IGEgcGVtIGF0IGFsbA=="},
    "pem not base64": lambda k, o: {"id": k.id, "pem": "%%%not base64%%%"},
    "jwk instead of pem": lambda k, o: {"id": k.id, "pem": k.jwk},
    "unknown id": lambda k, o: {"id": "0" * 32, "pem": k.pem},
    "malformed id": lambda k, o: {"id": "zz", "pem": k.pem},
    "unknown rule type": lambda k, o: {"access_rules": [{"type": "ip.asn", "action": "allow"}]},
    "unknown rule action": lambda k, o: {"access_rules": [{"type": "any", "action": "deny"}]},
    "bad CIDR": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/x"]}]},
    "IPv4 /33": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": ["10.0.0.0/33"]}]},
    "IPv6 /129": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": ["2001:db8::/129"]}]},
    "not an IP": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": ["example.com"]}]},
    "country USA": lambda k, o: {"access_rules": [
        {"type": "ip.geoip.country", "action": "allow", "country": ["USA"]}]},
    "ip.src without ip": lambda k, o: {"access_rules": [{"type": "ip.src", "action": "allow"}]},
    "ip.src with empty ip": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": []}]},
    "country rule without country": lambda k, o: {"access_rules": [
        {"type": "ip.geoip.country", "action": "block"}]},
    "country list on an ip rule": lambda k, o: {"access_rules": [
        {"type": "ip.src", "action": "allow", "ip": ["1.2.3.4/32"], "country": ["US"]}]},
    "rule without action": lambda k, o: {"access_rules": [{"type": "any"}]},
    "six rules": lambda k, o: {"access_rules": [{"type": "any", "action": "allow"}] * 6},
    "rules not a list": lambda k, o: {"extra_body": {"accessRules": {"type": "any",
                                                                    "action": "allow"}}},
    "rules a string": lambda k, o: {"extra_body": {"accessRules": "any"}},
    "rule not an object": lambda k, o: {"extra_body": {"accessRules": ["any"]}},
    "exp as a word": lambda k, o: {"extra_body": {"exp": "soon"}},
    "nbf as a word": lambda k, o: {"extra_body": {"nbf": "now"}},
    "downloadable as yes": lambda k, o: {"extra_body": {"downloadable": "yes"}},
    "id as a number": lambda k, o: {"extra_body": {"id": 12345, "pem": k.pem}},
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_inputs_are_400(server, ready_video, signing_key, other_key, case):
    kwargs = REFUSED[case](signing_key, other_key)
    client = server.client("a")
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: client.stream.token.create(identifier=ready_video.uid,
                                                        account_id=server.acct("a"), **kwargs),
                     400)


def test_revoked_key_cannot_sign(server, ready_video):
    client = server.client("a")
    acct = server.acct("a")
    key = client.stream.keys.create(account_id=acct)
    ok = client.stream.token.create(identifier=ready_video.uid, account_id=acct,
                                    id=key.id, pem=key.pem)
    assert ok is not None and jwt.get_unverified_header(ok.token)["kid"] == key.id
    assert client.stream.keys.delete(identifier=key.id, account_id=acct) == "Revoked"
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: client.stream.token.create(identifier=ready_video.uid,
                                                        account_id=acct, id=key.id, pem=key.pem),
                     400)


def test_other_accounts_key_cannot_sign(server, ready_video, key_b):
    """B's key id + pem, presented by A for A's video: not a key of A's."""
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: server.client("a").stream.token.create(
                         identifier=ready_video.uid, account_id=server.acct("a"),
                         id=key_b.id, pem=key_b.pem), 400)


def test_error_message_names_the_field(server, ready_video):
    resp = server.request("POST", token_path(server, ready_video.uid),
                          json={"downloadable": "yes"})
    body = assert_error_envelope(resp, 400)
    assert "downloadable" in body["errors"][0]["message"]
    resp = server.request("POST", token_path(server, ready_video.uid),
                          json={"accessRules": [{"type": "any", "action": "allow"},
                                                {"type": "nope", "action": "allow"}]})
    body = assert_error_envelope(resp, 400)
    assert "accessRules" in body["errors"][0]["message"]


@pytest.mark.parametrize("uid", ["0" * 32, "f" * 32, "not-a-uid"])
def test_missing_video_is_404(server, uid):
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: server.client("a").stream.token.create(
                         identifier=uid, account_id=server.acct("a")), 404)


def test_foreign_video_gets_no_token(server, video_b):
    client_a = server.client("a")
    # A's account path, B's video: not found.
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client_a.stream.token.create(identifier=video_b["uid"],
                                                          account_id=server.acct("a")), 404)
    # B's account path, A's credentials: refused.
    resp = server.request("POST", token_path(server, video_b["uid"], "b"), json={})
    assert_error_envelope(resp, 403, 10000)
    assert "token" not in resp.text.replace('"result":null', "")


def test_accounts_do_not_share_a_signing_key(server, video_b, ready_video):
    rb = server.client("b").stream.token.create(identifier=video_b["uid"],
                                                account_id=server.acct("b"))
    ra = server.client("a").stream.token.create(identifier=ready_video.uid,
                                                account_id=server.acct("a"))
    assert rb is not None and ra is not None
    hb, cb = decode_unverified(rb.token)
    assert cb["sub"] == video_b["uid"]
    assert jwt.get_unverified_header(ra.token)["kid"] != hb["kid"]


def test_rate_limit_is_429_with_retry_after(make_server, clip):
    srv = make_server("--token-rate-limit", "3")
    uid_a = srv.upload_ok(clip)["uid"]
    uid_b = srv.upload_ok(clip, account="b")["uid"]
    client = srv.client("a")
    start_of_a_minute()
    for _ in range(3):
        r = client.stream.token.create(identifier=uid_a, account_id=srv.acct("a"))
        assert r is not None and r.token
    try:
        r = client.stream.token.create(identifier=uid_a, account_id=srv.acct("a"))
    except cloudflare.RateLimitError as e:
        assert e.status_code == 429
        body = assert_error_envelope(e.response, 429)
        retry_after = e.response.headers.get("retry-after")
        assert retry_after is not None and retry_after.isdigit(), e.response.headers
        assert 1 <= int(retry_after) <= 60, retry_after
        assert e.response.headers.get("x-should-retry") != "false"
        assert body["errors"][0]["code"]
    else:
        raise AssertionError(f"4th token within a minute was not rate limited: {r!r}")
    # Raw as well: still limited, with the header.
    raw = srv.request("POST", f"/accounts/{srv.acct('a')}/stream/{uid_a}/token")
    assert_error_envelope(raw, 429)
    assert raw.headers.get("retry-after", "").isdigit()
    # The limit is per account: B is unaffected.
    rb = srv.client("b").stream.token.create(identifier=uid_b, account_id=srv.acct("b"))
    assert rb is not None and decode_unverified(rb.token)[1]["sub"] == uid_b


def test_raw_pem_is_accepted_or_refused_cleanly(server, ready_video, signing_key):
    """A PEM not wrapped in base64: either understood (and then the token verifies) or a
    clean 400 — never a server error."""
    raw_pem = base64.b64decode(signing_key.pem).decode()
    resp = server.request("POST", token_path(server, ready_video.uid),
                          json={"id": signing_key.id, "pem": raw_pem})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 400:
        assert_error_envelope(resp, 400)
    else:
        token = assert_ok_envelope(resp)["token"]
        jwt.decode(token, public_key_from_jwk(signing_key.jwk), algorithms=["RS256"])
