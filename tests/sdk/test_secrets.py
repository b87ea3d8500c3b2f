"""Secrets at rest (SPEC §3: API tokens and keys stored hashed; signing keys: "The
server keeps only the public key").

On a server of its own, creates accounts and several signing keys (using, revoking and
listing them), then reads every file under the data dir byte for byte — the SQLite
database with its -wal and -shm files included — while the server runs and again after
it stopped, and checks that no API token, API key, signing key pem/jwk (base64 or
decoded, PKCS#1 or PKCS#8 DER) or private exponent appears anywhere.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from helpers import b64decode, b64url_to_int


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def key_needles(key) -> dict[str, bytes]:
    pem_text = b64decode(key.pem)
    jwk_text = b64decode(key.jwk)
    jwk = json.loads(jwk_text)
    lines = pem_text.decode().strip().splitlines()
    body_lines = [ln for ln in lines if not ln.startswith("-----")]
    priv = serialization.load_pem_private_key(pem_text, password=None)
    pkcs1_der = base64.b64decode("".join(body_lines))
    pkcs8_der = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    d = b64url_to_int(jwk["d"])
    needles = {
        f"{key.id} pem (base64)": key.pem.encode(),
        f"{key.id} jwk (base64)": key.jwk.encode(),
        f"{key.id} pem text": pem_text,
        f"{key.id} pem body": "".join(body_lines).encode(),
        f"{key.id} jwk json": jwk_text,
        f"{key.id} jwk d": jwk["d"].encode(),
        f"{key.id} jwk p": jwk["p"].encode(),
        f"{key.id} jwk q": jwk["q"].encode(),
        f"{key.id} d bytes": _int_bytes(d),
        f"{key.id} d hex": format(d, "x").encode(),
        f"{key.id} pkcs1 der": pkcs1_der,
        f"{key.id} pkcs8 der": pkcs8_der,
        f"{key.id} pkcs8 der base64": base64.b64encode(pkcs8_der),
    }
    # Each full line of the PEM body on its own — from line 7 on: the first ~273 bytes of
    # the DER are the version, n and e, public values the server legitimately stores (an
    # SPKI of the same n shares whole base64 lines with them).
    for i, line in enumerate(body_lines[6:-1], start=6):
        needles[f"{key.id} pem body line {i}"] = line.encode()
    return needles


def scan(data_dir: Path, needles: dict[str, bytes]) -> tuple[list[Path], list[str]]:
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    found = []
    for path in files:
        content = path.read_bytes()
        for name, needle in needles.items():
            if needle in content:
                found.append(f"{name} in {path.relative_to(data_dir)}")
    return files, found


def test_no_secret_is_stored(make_server, clip):
    srv = make_server(accounts=("a", "b"))
    needles: dict[str, bytes] = {}
    for name, acct in srv.accounts.items():
        needles[f"{name} api_token"] = acct.api_token.encode()
        needles[f"{name} api_key"] = acct.api_key.encode()

    client_a, client_b = srv.client("a"), srv.legacy_client("b")
    keys = [client_a.stream.keys.create(account_id=srv.acct("a")) for _ in range(3)]
    keys.append(client_b.stream.keys.create(account_id=srv.acct("b")))
    assert all(k is not None for k in keys)
    for k in keys:
        needles.update(key_needles(k))

    # Exercise the keys so the server handles the private halves again.
    uid = srv.upload_ok(clip)["uid"]
    for k in keys[:3]:
        tok = client_a.stream.token.create(identifier=uid, account_id=srv.acct("a"),
                                           id=k.id, pem=k.pem)
        assert tok is not None
    assert client_a.stream.token.create(identifier=uid, account_id=srv.acct("a")) is not None
    assert client_a.stream.keys.delete(identifier=keys[0].id, account_id=srv.acct("a")) \
        == "Revoked"
    assert sorted(k.id for k in client_a.stream.keys.get(account_id=srv.acct("a"))) \
        == sorted(k.id for k in keys[1:3])
    srv.wait_for_state(uid)

    # While running: the WAL and shared-memory files are live.
    files, found = scan(srv.data_dir, needles)
    names = {p.name for p in files}
    assert "usher.db" in names, names
    all_bytes = b"".join(p.read_bytes() for p in files)
    assert srv.acct("a").encode() in all_bytes, "scan sanity: the account id should be stored"
    assert found == [], f"secrets at rest while running: {found}"

    # After a clean stop (checkpointed database).
    assert srv.stop() == 0
    files, found = scan(srv.data_dir, needles)
    assert files, "no files under the data dir?"
    assert found == [], f"secrets at rest after stop: {found}"
