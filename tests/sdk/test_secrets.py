"""Secrets at rest (SPEC §3: API tokens and keys stored hashed; signing keys: "The
server keeps only the public key"; SPEC §9: the private half of each account's own
signing key sealed under the operator's master key, `usher keys rotate-master`).

On a server of its own, creates accounts and several signing keys (using, revoking and
listing them), then reads every file under the data dir byte for byte — the SQLite
database with its -wal and -shm files included — while the server runs and again after
it stopped, and checks that no API token, API key, signing key pem/jwk (base64 or
decoded, PKCS#1 or PKCS#8 DER) or private exponent appears anywhere.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import subprocess
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from cryptography.hazmat.primitives import serialization

from helpers import b64decode, b64url_to_int, usher_bin

# Any RSA private key, whoever's: PKCS#8 DER (the version, then the rsaEncryption
# AlgorithmIdentifier, then an OCTET STRING — a public SPKI has a BIT STRING there), its
# base64 (the same 18 bytes at the offset every 2048-bit key puts them), and PEM.
ANY_PRIVATE_KEY = {
    "a PKCS#8 RSA private key (DER)":
        bytes.fromhex("020100300d06092a864886f70d010101050004"),
    "a PKCS#8 RSA private key (base64)": b"ADANBgkqhkiG9w0BAQEFAASC",
    "a PEM private key": b"PRIVATE KEY-----",
}


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
    needles: dict[str, bytes] = dict(ANY_PRIVATE_KEY)
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

    # Usher's own key for `POST …/token` is there, sealed under the master key, which is
    # a file of its own that only its owner may read.
    with sqlite3.connect(srv.data_dir / "usher.db") as db:
        rows = db.execute("SELECT master_key_id, private_key FROM signing_keys "
                          "WHERE kind = 'account'").fetchall()
    assert len(rows) == 1, rows
    master_key_id, sealed = rows[0]
    assert master_key_id and not base64.b64decode(sealed).startswith(b"\x30\x82")
    key_file = srv.data_dir / "master.key"
    assert master_key_id in key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_key_stored_in_the_clear_is_sealed_and_keys_survive_rotation(make_server, clip):
    """An account key written before sealing existed (in the clear) is sealed when the
    server starts, and scrubbed from the database files; after `usher keys rotate-master`
    every account key is re-sealed under the new master key and still signs."""
    srv = make_server(accounts=("a",))
    uid = srv.upload_ok(clip)["uid"]
    srv.wait_for_state(uid)
    assert srv.stop() == 0
    # The attack this defends against: a copy of the database alone holds the key.
    legacy = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = legacy.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    spki = legacy.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = "ab" * 16
    with sqlite3.connect(srv.data_dir / "usher.db") as db:
        db.execute("INSERT INTO signing_keys (id, account_id, kind, public_key, private_key, "
                   "created, revoked_at, master_key_id) VALUES (?, ?, 'account', ?, ?, 1, "
                   "NULL, NULL)", (kid, srv.acct("a"), base64.b64encode(spki).decode(),
                                   base64.b64encode(der).decode()))
    needles = {"the legacy key (DER)": der, "the legacy key (base64)": base64.b64encode(der),
               **ANY_PRIVATE_KEY}
    _, found = scan(srv.data_dir, needles)
    assert found, "scan sanity: the planted key is visible before the server seals it"

    srv.start()
    cf, acct = srv.client("a"), srv.acct("a")
    token = cf.stream.token.create(identifier=uid, account_id=acct).token
    header = jwt.get_unverified_header(token)
    assert header["kid"] == kid, "the account's existing key is still the one used"
    jwt.decode(token, legacy.public_key(), algorithms=["RS256"])
    _, found = scan(srv.data_dir, needles)
    assert found == [], f"still in the clear after the server sealed it: {found}"
    assert srv.stop() == 0

    before = (srv.data_dir / "master.key").read_text()
    out = subprocess.run([usher_bin(), "keys", "rotate-master", "--data-dir", str(srv.data_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "1 account signing keys re-sealed" in out.stdout, out.stdout
    after = (srv.data_dir / "master.key").read_text()
    old_line = [ln for ln in before.splitlines() if not ln.startswith("#")][0]
    key_lines = [ln for ln in after.splitlines() if not ln.startswith("#")]
    assert len(key_lines) == 2 and key_lines[1] == old_line, after
    with sqlite3.connect(srv.data_dir / "usher.db") as db:
        [(master_key_id,)] = db.execute(
            "SELECT master_key_id FROM signing_keys WHERE id = ?", (kid,)).fetchall()
    assert key_lines[0].startswith(master_key_id + " "), (master_key_id, after)

    srv.start()
    token = srv.client("a").stream.token.create(identifier=uid, account_id=acct).token
    jwt.decode(token, legacy.public_key(), algorithms=["RS256"])
    _, found = scan(srv.data_dir, needles)
    assert found == [], found

    # Without its file, or with another deployment's, the database alone opens nothing:
    # the server refuses to start rather than sign with a key it makes up.
    assert srv.stop() == 0
    (srv.data_dir / "master.key").rename(srv.data_dir / "master.key.elsewhere")
    other = srv.data_dir / "other.key"
    other.write_text("# usher master key v1\n"
                     "8bdbd3ceea24229a 7xCmfy0+Uu4eT5dDUNTmdyOmvMRuBEK8zrPfaGHzpD4=\n")
    for extra, words in (([], "no master key file"),
                         (["--master-key-file", str(other)], "does not hold")):
        out = subprocess.run([usher_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                              str(srv.data_dir), *extra],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and words in out.stderr, out.stderr
    assert not (srv.data_dir / "master.key").exists(), "no key made up"


def test_a_master_key_file_made_ahead_is_used_and_never_overwritten(make_server, tmp_path, clip):
    path = tmp_path / "keys" / "master.key"
    made = subprocess.run([usher_bin(), "keys", "new-master", "--master-key-file", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    again = subprocess.run([usher_bin(), "keys", "new-master", "--master-key-file", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "never overwritten" in again.stderr, again.stderr
    assert path.read_text() == text

    srv = make_server("--master-key-file", str(path), accounts=("a",))
    uid = srv.upload_ok(clip)["uid"]
    assert srv.client("a").stream.token.create(identifier=uid, account_id=srv.acct("a"))
    assert not (srv.data_dir / "master.key").exists(), "the given file is used"
    assert srv.stop() == 0
    with sqlite3.connect(srv.data_dir / "usher.db") as db:
        [(master_key_id,)] = db.execute(
            "SELECT master_key_id FROM signing_keys WHERE kind = 'account'").fetchall()
    assert text.split("\n")[1].startswith(master_key_id + " ")
