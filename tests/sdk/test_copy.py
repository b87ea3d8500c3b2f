"""Upload from a URL: `stream.copy.create` through the official SDK, against origin
servers started by the test on loopback addresses only (127.0.0.1 and 127.0.0.2).

Every origin records each request it receives, so the SSRF tests can assert not just
that a copy was refused but that the refused address never saw a connection's worth
of HTTP. No test ever connects anywhere but loopback.
"""

from __future__ import annotations

import http.server
import sqlite3
import threading
from pathlib import Path

import cloudflare
import pytest

from helpers import Respond, assert_error_envelope, expect_sdk_error

def serving(clip: Path) -> Respond:
    data = clip.read_bytes()
    return lambda path: (200, {"Content-Type": "video/mp4"}, data)


def not_found(path: str):
    return 404, {}, b"no such file"


def copy_url(srv, url: str, account: str = "a"):
    return srv.request("POST", f"/accounts/{srv.acct(account)}/stream/copy",
                       json={"url": url}, auth=account)


def test_copy_from_a_url_becomes_ready(make_server, origins, clip):
    srv = make_server("--copy-allow-private")
    origin = origins("127.0.0.1", serving(clip))
    cf, acct = srv.client("a"), srv.acct("a")
    v = cf.stream.copy.create(account_id=acct, url=origin.url(),
                              meta={"name": "copied"}, require_signed_urls=True,
                              upload_creator="creator-9")
    assert v is not None and v.uid
    assert v.status.state == "downloading"
    assert v.meta["name"] == "copied"
    assert v.require_signed_urls is True and v.creator == "creator-9"

    video, seen = srv.wait_for_state(v.uid)
    assert video.status.state == "ready", (video.status, seen, srv.log_tail())
    assert video.size == clip.stat().st_size
    assert video.meta["name"] == "copied" and video.require_signed_urls is True
    assert video.creator == "creator-9"
    assert video.duration > 0
    assert origin.requests == ["/clip.mp4"]


def test_origin_404_is_a_fetch_error(make_server, origins):
    srv = make_server("--copy-allow-private")
    origin = origins("127.0.0.1", not_found)
    v = srv.client("a").stream.copy.create(account_id=srv.acct("a"), url=origin.url())
    video, _ = srv.wait_for_state(v.uid)
    assert video.status.state == "error"
    assert video.status.error_reason_code == "ERR_FETCH_ORIGIN_ERROR"
    assert origin.requests == ["/clip.mp4"], "a 404 is not retried"
    # The detail is on the job for operators; the customer sees only the reason code.
    with sqlite3.connect(srv.data_dir / "usher.db", timeout=30) as db:
        rows = db.execute("SELECT kind, state, last_error FROM jobs WHERE video_uid = ?",
                          (v.uid,)).fetchall()
    assert rows == [("copy", "failed", "the origin answered HTTP 404")], rows


def test_default_server_refuses_loopback_without_a_request(server, origins, clip):
    origin = origins("127.0.0.1", serving(clip))
    cf, acct = server.client("a"), server.acct("a")
    before = server.video_count()

    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: cf.stream.copy.create(account_id=acct, url=origin.url()), 400)
    assert "url" in e.response.json()["errors"][0]["message"]
    for host in ("127.1.2.3", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "2130706433"):
        r = copy_url(server, origin.url(host=host))
        assert_error_envelope(r, 400)
        assert "url" in r.json()["errors"][0]["message"]

    # `localhost` may be refused up front or by the resolver; never fetched either way.
    r = copy_url(server, origin.url(host="localhost"))
    if r.status_code == 200:
        video, _ = server.wait_for_state(r.json()["result"]["uid"])
        assert video.status.error_reason_code == "ERR_FETCH_ORIGIN_ERROR"
    else:
        assert_error_envelope(r, 400)
    assert server.video_count() == before
    assert origin.requests == []


def test_only_http_and_https_and_a_url_are_accepted(server):
    for url in ("file:///etc/passwd", "ftp://example.com/clip.mp4", "gopher://example.com/",
                "not a url", "http://", ""):
        r = copy_url(server, url)
        assert_error_envelope(r, 400)
        assert "url" in r.json()["errors"][0]["message"], (url, r.text)
    acct = server.acct("a")
    for body in ({}, {"url": 5}, {"meta": {"name": "x"}}):
        r = server.request("POST", f"/accounts/{acct}/stream/copy", json=body)
        assert_error_envelope(r, 400)
        assert "url" in r.json()["errors"][0]["message"], (body, r.text)
    r = server.request("POST", f"/accounts/{acct}/stream/copy",
                       json={"url": "https://example.com/a.mp4", "thumbnailTimestampPct": 2})
    assert_error_envelope(r, 400)
    # Without credentials: 400 with the auth code, not a copy.
    r = server.request("POST", f"/accounts/{acct}/stream/copy", auth=None,
                       json={"url": "https://example.com/a.mp4"})
    assert_error_envelope(r, 400, 9106)


def test_redirect_to_a_refused_address_is_not_followed(make_server, origins, clip):
    srv = make_server("--copy-allow-net", "127.0.0.2/32")
    inside = origins("127.0.0.1", serving(clip))
    redirector = origins("127.0.0.2",
                         lambda path: (302, {"Location": inside.url()}, b""))
    direct = origins("127.0.0.2", serving(clip))
    cf, acct = srv.client("a"), srv.acct("a")

    # The allowed network is fetched from, and only it: 127.0.0.1 stays refused.
    assert_error_envelope(copy_url(srv, inside.url()), 400)
    ok = cf.stream.copy.create(account_id=acct, url=direct.url())
    redirected = cf.stream.copy.create(account_id=acct, url=redirector.url())

    video, _ = srv.wait_for_state(redirected.uid)
    assert video.status.state == "error"
    assert video.status.error_reason_code == "ERR_FETCH_ORIGIN_ERROR"
    assert redirector.requests == ["/clip.mp4"]

    video, _ = srv.wait_for_state(ok.uid)
    assert video.status.state == "ready", (video.status, srv.log_tail())
    assert video.size == clip.stat().st_size
    assert direct.requests == ["/clip.mp4"]
    assert inside.requests == []


def test_transient_origin_failures_are_retried(make_server, origins, clip):
    srv = make_server("--copy-allow-private")
    data = clip.read_bytes()
    answers = iter([(503, {}, b"busy")])
    origin = origins("127.0.0.1",
                     lambda path: next(answers, (200, {"Content-Type": "video/mp4"}, data)))
    v = srv.client("a").stream.copy.create(account_id=srv.acct("a"), url=origin.url())
    video, _ = srv.wait_for_state(v.uid)
    assert video.status.state == "ready", (video.status, srv.log_tail())
    assert video.size == len(data)
    assert origin.requests == ["/clip.mp4", "/clip.mp4"]


def test_a_file_over_the_size_limit_is_refused(make_server, origins, clip):
    srv = make_server("--copy-allow-private", "--max-video-bytes", "1000")
    origin = origins("127.0.0.1", serving(clip))
    v = srv.client("a").stream.copy.create(account_id=srv.acct("a"), url=origin.url())
    video, _ = srv.wait_for_state(v.uid)
    assert video.status.state == "error"
    assert video.status.error_reason_code == "ERR_FETCH_ORIGIN_ERROR"
    assert origin.requests == ["/clip.mp4"], "too large is final"


def test_a_copy_interrupted_mid_download_starts_over_cleanly(make_server, clip):
    """The server stops while the origin is half-way through the file; after the
    restart the copy is fetched again from the start and the video is whole."""
    srv = make_server("--copy-allow-private")
    data = clip.read_bytes()
    requests_seen: list[str] = []
    first_half_sent = threading.Event()
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests_seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if len(requests_seen) == 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                first_half_sent.set()
                release.wait(timeout=60)
                return  # the connection closes with the body cut short
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"
        v = srv.client("a").stream.copy.create(account_id=srv.acct("a"), url=url)
        assert first_half_sent.wait(timeout=30), srv.log_tail()
        assert srv.client("a").stream.get(identifier=v.uid,
                                          account_id=srv.acct("a")).status.state == "downloading"
        srv.restart()  # SIGTERM mid-download (must exit 0), then serve again
        release.set()
        video, _ = srv.wait_for_state(v.uid)
        assert video.status.state == "ready", (video.status, srv.log_tail())
        assert video.size == len(data)
        assert requests_seen == ["/clip.mp4", "/clip.mp4"]
        original = srv.data_dir / "media" / "uploads" / v.uid / "original"
        assert original.read_bytes() == data
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
