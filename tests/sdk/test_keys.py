"""Signing keys (SPEC §3 "Signing keys") through `client.stream.keys`.

Creation returns id, pem (base64 PKCS#1 PEM) and jwk (base64 JSON Web Key with exactly
the RSA private members) once; the list shows only id and created; deletion answers
"Revoked", removes the key from the list, is 404 the second time, and account B cannot
revoke account A's key. The empty-body variants the SDKs send are all accepted.
"""

from __future__ import annotations

import json

import cloudflare
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import (
    HEX32,
    RFC3339_MICROS,
    assert_error_envelope,
    assert_ok_envelope,
    b64decode,
    b64url_to_int,
    expect_sdk_error,
)

JWK_MEMBERS = {"use", "kty", "kid", "alg", "n", "e", "d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture(scope="module")
def created_key(server):
    key = server.client("a").stream.keys.create(account_id=server.acct("a"))
    assert key is not None, "keys.create returned None"
    return key


def test_create_returns_id_pem_jwk_created(created_key):
    assert HEX32.match(created_key.id), created_key.id
    assert created_key.pem and created_key.jwk
    assert created_key.created is not None


def test_created_is_rfc3339_micros(server):
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream/keys")
    key = assert_ok_envelope(resp)
    assert set(key) == {"id", "pem", "jwk", "created"}, key.keys()
    assert RFC3339_MICROS.match(key["created"]), key["created"]
    listed = {k["id"]: k for k in server.request(
        "GET", f"/accounts/{server.acct('a')}/stream/keys").json()["result"]}
    assert listed[key["id"]]["created"] == key["created"]


def test_pem_is_pkcs1_rsa_2048(created_key):
    pem = b64decode(created_key.pem)
    text = pem.decode("ascii")
    assert text.startswith("-----BEGIN RSA PRIVATE KEY-----\n"), text[:60]
    assert text.rstrip().endswith("-----END RSA PRIVATE KEY-----")
    priv = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(priv, rsa.RSAPrivateKey)
    assert priv.key_size == 2048


def test_jwk_matches_pem(created_key):
    jwk = json.loads(b64decode(created_key.jwk))
    assert set(jwk) == JWK_MEMBERS, sorted(jwk)
    assert jwk["kid"] == created_key.id
    assert (jwk["use"], jwk["kty"], jwk["alg"]) == ("sig", "RSA", "RS256")
    priv = serialization.load_pem_private_key(b64decode(created_key.pem), password=None)
    nums = priv.private_numbers()
    assert b64url_to_int(jwk["n"]) == nums.public_numbers.n
    assert b64url_to_int(jwk["e"]) == nums.public_numbers.e == 65537
    assert b64url_to_int(jwk["d"]) == nums.d
    assert {b64url_to_int(jwk["p"]), b64url_to_int(jwk["q"])} == {nums.p, nums.q}
    # CRT members must be consistent with the JWK's own p and q.
    p, q = b64url_to_int(jwk["p"]), b64url_to_int(jwk["q"])
    d = b64url_to_int(jwk["d"])
    assert b64url_to_int(jwk["dp"]) == d % (p - 1)
    assert b64url_to_int(jwk["dq"]) == d % (q - 1)
    assert (b64url_to_int(jwk["qi"]) * q) % p == 1
    # base64url without padding, as RFC 7518 requires
    for member in ("n", "e", "d", "p", "q", "dp", "dq", "qi"):
        assert "=" not in jwk[member] and "+" not in jwk[member] and "/" not in jwk[member]


def test_list_shows_id_and_created_only(server, created_key):
    listed = list(server.client("a").stream.keys.get(account_id=server.acct("a")))
    ids = [k.id for k in listed]
    assert created_key.id in ids
    raw = server.request("GET", f"/accounts/{server.acct('a')}/stream/keys")
    items = assert_ok_envelope(raw)
    assert isinstance(items, list) and items
    for item in items:
        assert set(item) == {"id", "created"}, item
    assert "PRIVATE KEY" not in raw.text and created_key.pem not in raw.text
    assert created_key.jwk not in raw.text


def test_keys_are_per_account(server, created_key, key_b):
    assert created_key.id not in server.key_ids("b")
    assert key_b.id not in server.key_ids("a")


@pytest.mark.parametrize("headers,data", [
    ({"Content-Type": "application/json"}, b""),  # the Python SDK
    ({}, b""),  # the TypeScript SDK: no content type
    ({"Content-Type": "application/json"}, b"{}"),  # older clients
    ({"Content-Type": "application/json"}, b'{"ignored": true}'),
])
def test_create_accepts_every_sdk_body_shape(server, headers, data):
    before = server.key_ids("a")
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream/keys",
                          headers=headers, data=data)
    key = assert_ok_envelope(resp)
    assert HEX32.match(key["id"])
    assert server.key_ids("a") == sorted(before + [key["id"]])


def test_delete_revokes_and_removes(server):
    client = server.client("a")
    acct = server.acct("a")
    key = client.stream.keys.create(account_id=acct)
    assert key is not None and key.id in server.key_ids("a")
    result = client.stream.keys.delete(identifier=key.id, account_id=acct)
    assert result == "Revoked"
    assert key.id not in server.key_ids("a")
    assert key.id not in [k.id for k in client.stream.keys.get(account_id=acct)]
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.keys.delete(identifier=key.id, account_id=acct), 404)


@pytest.mark.parametrize("key_id", ["0" * 32, "not-a-key", "F" * 32])
def test_delete_unknown_key_is_404(server, key_id):
    resp = server.request("DELETE", f"/accounts/{server.acct('a')}/stream/keys/{key_id}")
    assert_error_envelope(resp, 404)


def test_b_cannot_delete_a_key(server, created_key):
    client_b = server.client("b")
    # B's own account path: A's key is not B's, so it does not exist there.
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client_b.stream.keys.delete(identifier=created_key.id,
                                                         account_id=server.acct("b")), 404)
    # A's account path with B's credentials: refused.
    expect_sdk_error(cloudflare.PermissionDeniedError,
                     lambda: client_b.stream.keys.delete(identifier=created_key.id,
                                                         account_id=server.acct("a")), 403)
    assert created_key.id in server.key_ids("a")


def test_legacy_client_manages_keys(server):
    client = server.legacy_client("a")
    acct = server.acct("a")
    key = client.stream.keys.create(account_id=acct)
    assert key is not None and HEX32.match(key.id)
    assert key.id in [k.id for k in client.stream.keys.get(account_id=acct)]
    assert client.stream.keys.delete(identifier=key.id, account_id=acct) == "Revoked"
    assert key.id not in server.key_ids("a")


def test_keys_revocations_and_account_key_survive_restart(make_server, clip):
    srv = make_server(accounts=("a",))
    acct = srv.acct("a")
    client = srv.client("a")
    uid = srv.upload_ok(clip)["uid"]
    kept = client.stream.keys.create(account_id=acct)
    revoked = client.stream.keys.create(account_id=acct)
    assert client.stream.keys.delete(identifier=revoked.id, account_id=acct) == "Revoked"
    kid_before = jwt.get_unverified_header(
        client.stream.token.create(identifier=uid, account_id=acct).token)["kid"]

    srv.restart()
    client = srv.client("a")  # new port
    assert [k.id for k in client.stream.keys.get(account_id=acct)] == [kept.id]
    assert client.stream.get(identifier=uid, account_id=acct).uid == uid
    tok = client.stream.token.create(identifier=uid, account_id=acct, id=kept.id, pem=kept.pem)
    assert jwt.get_unverified_header(tok.token)["kid"] == kept.id
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: client.stream.token.create(identifier=uid, account_id=acct,
                                                        id=revoked.id, pem=revoked.pem), 400)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.keys.delete(identifier=revoked.id, account_id=acct),
                     404)
    kid_after = jwt.get_unverified_header(
        client.stream.token.create(identifier=uid, account_id=acct).token)["kid"]
    assert kid_after == kid_before, "the account's own signing key changed across a restart"
    assert srv.legacy_client("a").stream.get(identifier=uid, account_id=acct).uid == uid


def test_two_processes_on_one_data_dir_agree(make_server, clip):
    """SPEC §2: several `usher serve` may share a data dir; keys, revocations and videos
    made through one are seen by the other at once."""
    one = make_server(accounts=("a",))
    two = make_server(share=one)
    acct = one.acct("a")
    c1, c2 = one.client("a"), two.client("a")
    uid = one.upload_ok(clip)["uid"]
    key = c1.stream.keys.create(account_id=acct)
    assert key.id in [k.id for k in c2.stream.keys.get(account_id=acct)]
    tok = c2.stream.token.create(identifier=uid, account_id=acct, id=key.id, pem=key.pem)
    assert tok is not None and jwt.get_unverified_header(tok.token)["kid"] == key.id
    assert c2.stream.keys.delete(identifier=key.id, account_id=acct) == "Revoked"
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: c1.stream.token.create(identifier=uid, account_id=acct,
                                                    id=key.id, pem=key.pem), 400)
    video, _ = two.wait_for_state(uid)
    assert video.status.state == "ready"
    assert c1.stream.get(identifier=uid, account_id=acct).status.state == "ready"
    c2.stream.delete(identifier=uid, account_id=acct)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: c1.stream.get(identifier=uid, account_id=acct), 404)
