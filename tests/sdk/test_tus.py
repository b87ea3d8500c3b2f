"""Resumable uploads (tus 1.0.0): creation through the official SDK's `stream.create`,
the bytes through tuspy (a maintained tus client) or raw requests, and the protocol's
refusals. Resuming after a dropped connection and after `kill -9` of the server, and
the server's memory during a 300 MB upload."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from tusclient.client import TusClient

from helpers import HEX32, HTTP_TIMEOUT_S, assert_error_envelope

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream", **TUS}


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def create(server, size: int, *, metadata: str | None = None, direct_user: bool | None = None,
           creator: str | None = None, account: str = "a"):
    """`stream.create` as an SDK user calls it; returns (location, uid)."""
    kw = {}
    if metadata is not None:
        kw["upload_metadata"] = metadata
    if direct_user is not None:
        kw["direct_user"] = direct_user
    if creator is not None:
        kw["upload_creator"] = creator
    raw = server.client(account).stream.with_raw_response.create(
        account_id=server.acct(account), tus_resumable="1.0.0", upload_length=size, **kw)
    assert raw.status_code == 201, raw.http_response.text
    location, uid = raw.headers["location"], raw.headers["stream-media-id"]
    assert HEX32.match(uid), uid
    assert raw.headers["tus-resumable"] == "1.0.0"
    assert location.startswith(f"{server.url}/tus/"), location
    return location, uid


def head(location: str, headers: dict | None = None) -> requests.Response:
    return requests.head(location, headers={**TUS, **(headers or {})}, timeout=HTTP_TIMEOUT_S)


def patch(location: str, offset: int, data, headers: dict | None = None) -> requests.Response:
    h = {**OCTETS, "Upload-Offset": str(offset), **(headers or {})}
    return requests.patch(location, data=data, headers=h, timeout=HTTP_TIMEOUT_S)


def on_server(location: str, server) -> str:
    """The same upload URL on a restarted server (which listens on a new port)."""
    return server.url + urlsplit(location).path


def stored_digest(server, uid: str) -> str:
    return hashlib.sha256((server.data_dir / "media/uploads" / uid / "original").read_bytes()).hexdigest()


def test_sdk_creation_then_tuspy_chunks_to_ready(server, clip):
    size = clip.stat().st_size
    meta = f"name {b64('tus talk.mp4')},requiresignedurls,maxdurationseconds {b64('600')}"
    location, uid = create(server, size, metadata=meta, creator="creator-9")
    cf, acct = server.client("a"), server.acct("a")
    v = cf.stream.get(identifier=uid, account_id=acct)
    assert v.status.state == "pendingupload"
    assert v.meta["name"] == "tus talk.mp4" and v.require_signed_urls is True
    assert v.creator == "creator-9" and v.max_duration_seconds == 600
    assert v.upload_expiry is not None

    h = head(location, server.bearer("a"))
    assert h.status_code == 200, h.text
    assert (h.headers["upload-offset"], h.headers["upload-length"]) == ("0", str(size))
    assert h.headers["cache-control"] == "no-store"

    tus = TusClient(location, headers=server.bearer("a"))
    tus.uploader(str(clip), url=location, chunk_size=64 * 1024).upload()

    video, seen = server.wait_for_state(uid)
    assert video.status.state == "ready", (video.status, server.log_tail())
    assert "pendingupload" not in seen[1:] and video.size == size
    assert stored_digest(server, uid) == hashlib.sha256(clip.read_bytes()).hexdigest()
    done = head(location, server.bearer("a"))
    assert done.headers["upload-offset"] == str(size)


def test_protocol_refusals_leave_the_upload_as_it_was(server, clip):
    data = clip.read_bytes()
    location, uid = create(server, len(data))
    auth = server.bearer("a")
    # HEAD answers carry no body, so only their status tells.
    assert head(location).status_code == 400  # no credentials
    assert head(location, server.bearer("b")).status_code == 403  # another account
    assert_error_envelope(patch(location, 0, b"x"), 400, 9106)
    assert_error_envelope(patch(location, 0, data[:10], server.bearer("b")), 403)

    first = patch(location, 0, data[:1000], auth)
    assert first.status_code == 204, first.text
    assert first.headers["upload-offset"] == "1000"
    assert_error_envelope(patch(location, 0, data[:10], auth), 409)  # wrong offset
    assert_error_envelope(patch(location, 1000, data[1000:1010],
                                {**auth, "Content-Type": "application/octet-stream"}), 415)
    over = patch(location, 1000, data[1000:] + b"extra", auth)
    assert_error_envelope(over, 413)
    no_version = requests.patch(location, data=b"x", timeout=HTTP_TIMEOUT_S, headers={
        **auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "1000"})
    assert no_version.status_code == 412 and no_version.headers["tus-version"] == "1.0.0"
    assert head(location, auth).headers["upload-offset"] == "1000"

    # Unknown URLs, and creation without what tus requires.
    assert head(f"{server.url}/tus/{'0' * 32}", auth).status_code == 404
    assert_error_envelope(patch(f"{server.url}/tus/not-a-secret-at-all", 0, b"x"), 404)
    acct = server.acct("a")
    for headers, status in (({**TUS}, 400),  # no Upload-Length
                            ({**TUS, "Upload-Length": "-5"}, 400),
                            ({**TUS, "Upload-Length": "0"}, 400),
                            ({**TUS, "Upload-Length": str(10**13)}, 413),
                            ({**TUS, "Upload-Length": "5", "Upload-Metadata": "name !!"}, 400),
                            ({**TUS, "Upload-Length": "5",
                              "Upload-Metadata": f"maxdurationseconds {b64('0')}"}, 400),
                            ({"Tus-Resumable": "0.2.2", "Upload-Length": "5"}, 412)):
        r = server.request("POST", f"/accounts/{acct}/stream", headers=headers)
        assert r.status_code == status, (headers, r.status_code, r.text)

    # The rest completes it; termination of another upload removes its video.
    assert patch(location, 1000, data[1000:], auth).status_code == 204
    assert server.wait_for_state(uid)[0].status.state == "ready"
    doomed, doomed_uid = create(server, 100)
    gone = requests.delete(doomed, headers={**TUS, **auth}, timeout=HTTP_TIMEOUT_S)
    assert gone.status_code == 204, gone.text
    assert server.request("GET", f"/accounts/{acct}/stream/{doomed_uid}").status_code == 404


def test_direct_user_url_needs_no_credentials_and_works_once(server, clip):
    data = clip.read_bytes()
    location, uid = create(server, len(data), direct_user=True,
                           metadata=f"name {b64('from a browser')}")
    assert uid not in location  # the URL carries a secret, not the uid
    h = head(location)
    assert h.status_code == 200 and h.headers["upload-offset"] == "0"
    assert h.headers["access-control-allow-origin"] == "*"
    assert head(f"{server.url}/tus/{uid}", server.bearer("a")).status_code == 404
    TusClient(location).uploader(str(clip), url=location, chunk_size=256 * 1024).upload()
    assert server.wait_for_state(uid)[0].status.state == "ready"
    assert_error_envelope(patch(location, 0, data[:10]), 409)


def test_a_dropped_connection_keeps_what_arrived(server, clip):
    data = clip.read_bytes()
    location, uid = create(server, len(data))
    u = urlsplit(location)
    token = server.accounts["a"].api_token
    half = len(data) // 2
    with socket.create_connection((u.hostname, u.port), timeout=HTTP_TIMEOUT_S) as s:
        s.sendall((f"PATCH {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                   f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
                   f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                   f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:half])
    # The server notices the close, stores what arrived, and says so (poll: it is async).
    offset = 0
    for _ in range(200):
        offset = int(head(location, server.bearer("a")).headers["upload-offset"])
        if offset == half:
            break
        socket.socket().close()
    assert offset == half
    assert patch(location, half, data[half:], server.bearer("a")).status_code == 204
    assert server.wait_for_state(uid)[0].status.state == "ready"
    assert stored_digest(server, uid) == hashlib.sha256(data).hexdigest()


def _big_clip(dir: Path) -> Path:
    from helpers import make_clip
    return make_clip(dir / "big.mp4", seconds=20, size="640x360")


def test_resumes_after_the_server_is_killed_mid_upload(make_server, tmp_path):
    srv = make_server()
    clip = _big_clip(tmp_path)
    data = clip.read_bytes()
    location, uid = create(srv, len(data))
    auth = srv.bearer("a")
    quarter = len(data) // 4
    assert patch(location, 0, data[:quarter], auth).status_code == 204

    def body_then_kill():
        # Half of the next PATCH goes out, then the server dies by SIGKILL mid-request.
        yield data[quarter:2 * quarter]
        srv.proc.kill()
        srv.proc.wait(timeout=10)
        yield data[2 * quarter:]

    try:
        patch(location, quarter, body_then_kill(), auth)
    except requests.RequestException:
        pass
    # kill9_and_restart on a process that is already dead: it only starts a new one.
    srv.kill9_and_restart()
    location = on_server(location, srv)
    offset = int(head(location, srv.bearer("a")).headers["upload-offset"])
    assert quarter <= offset <= 2 * quarter, offset

    TusClient(location, headers=srv.bearer("a")).uploader(
        str(clip), url=location, chunk_size=512 * 1024).upload()
    video, _ = srv.wait_for_state(uid)
    assert video.status.state == "ready", (video.status, srv.log_tail())
    assert stored_digest(srv, uid) == hashlib.sha256(data).hexdigest()
    # Nothing left staged.
    assert not list((srv.data_dir / "tmp" / "tus").glob("*"))


def test_300_mb_upload_keeps_server_memory_flat(make_server, tmp_path):
    srv = make_server()
    big = tmp_path / "big.bin"
    chunk = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for i in range(300):
            f.write(bytes([i % 256]) + chunk[1:])
    size = big.stat().st_size
    before = srv.peak_rss_kib()
    location, uid = create(srv, size, metadata=f"name {b64('big.bin')}")
    TusClient(location, headers=srv.bearer("a")).uploader(
        str(big), url=location, chunk_size=32 * 1024 * 1024).upload()
    peak = srv.peak_rss_kib()
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "tus-300mb-rss.txt").write_text(
        f"server peak RSS before {before} KiB, after a {size}-byte tus upload {peak} KiB\n")
    print(f"peak RSS {before} KiB -> {peak} KiB for {size} bytes")
    # Holding the file, or even one 32 MiB chunk twice over, would show here.
    assert peak - before < 64 * 1024, (before, peak)
    v = srv.get_video(uid)
    assert v["size"] == size and v["status"]["state"] != "pendingupload", v
    assert (srv.data_dir / "media/uploads" / uid / "original").stat().st_size == size


@pytest.mark.parametrize("offset", ["-1", "abc", "1.5", "", "99999999999999999999999"])
def test_a_garbage_upload_offset_is_a_400_and_changes_nothing(server, offset):
    location, _ = create(server, 100)
    auth = server.bearer("a")
    r = requests.patch(location, data=b"x" * 10, timeout=HTTP_TIMEOUT_S, headers={
        **TUS, **auth, "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": offset})
    assert_error_envelope(r, 400)
    assert "Upload-Offset" in r.json()["errors"][0]["message"], r.text
    assert head(location, auth).headers["upload-offset"] == "0"
    assert patch(location, 0, b"x" * 10, auth).status_code == 204  # control


def test_overflowing_mid_body_discards_the_whole_patch(server):
    """A PATCH without Content-Length (chunked) that turns out longer than the upload:
    the excess is only seen mid-body, and the whole PATCH is taken back."""
    location, _ = create(server, 100)
    auth = server.bearer("a")
    assert patch(location, 0, b"a" * 40, auth).status_code == 204

    def chunks():
        for _ in range(10):
            yield b"b" * 10  # 100 bytes on top of the 40: 40 too many

    r = requests.patch(location, data=chunks(), timeout=HTTP_TIMEOUT_S, headers={
        **TUS, **auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "40"})
    assert_error_envelope(r, 413)
    assert head(location, auth).headers["upload-offset"] == "40", "the overflowing PATCH is undone"
    done = patch(location, 40, b"c" * 60, auth)
    assert done.status_code == 204 and done.headers["upload-offset"] == "100"


def test_two_patches_at_once_one_is_refused(server):
    """While one PATCH holds the upload, another gets 409; the first completes untouched."""
    location, _ = create(server, 1 << 20)
    auth = server.bearer("a")
    url = urlsplit(location)
    first = http.client.HTTPConnection(url.hostname, url.port, timeout=HTTP_TIMEOUT_S)
    first.putrequest("PATCH", url.path)
    for k, v in {**TUS, **auth, "Content-Type": "application/offset+octet-stream",
                 "Upload-Offset": "0", "Content-Length": str(1 << 20)}.items():
        first.putheader(k, v)
    first.endheaders()
    first.send(b"z" * 1000)  # the first PATCH is now in the middle of its body
    # Nothing to poll for "the server has read the first head": give it a moment.
    time.sleep(0.5)
    second = patch(location, 0, b"y" * 10, auth)
    assert_error_envelope(second, 409)
    first.send(b"z" * ((1 << 20) - 1000))
    resp = first.getresponse()
    assert resp.status == 204, resp.read()
    assert resp.getheader("upload-offset") == str(1 << 20)
    first.close()
