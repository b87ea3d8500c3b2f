"""Webhooks (`stream.webhooks.update/get/delete`) through the official SDK, signed
deliveries to a receiver run by the test on loopback, retries, the reaper deleting
videos past their `scheduledDeletion`, and the SSRF guard on deliveries.

Servers that deliver start with `--copy-allow-private`: the receiver is on 127.0.0.1,
which an SSRF-safe outbound policy refuses otherwise — as the last tests check, along
with deliveries following no redirect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import cloudflare
import pytest
import requests

from helpers import HEX32, RFC3339_MICROS, assert_error_envelope, expect_sdk_error

DELIVERY_DEADLINE_S = 60
# Ample for the first retry (2 s backoff) plus the dispatcher's poll.
RETRY_DEADLINE_S = 30
REAPER_DEADLINE_S = 30
# How far a signature's time may be from ours (both clocks are this machine's).
SIGNATURE_TOLERANCE_S = 300
# How long the hanging receiver holds a request at most (it is released at the end).
HANG_S = 60


@dataclass
class Delivery:
    headers: dict[str, str]  # names lowercased
    body: bytes
    received: float

    @property
    def video(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1:0 recording every POST. `answers` holds the statuses
    to give to the next requests (then 200); `hang_for` holds uids whose first delivery
    is held open until `release` is set."""

    answers: list[int] = field(default_factory=list)
    hang_for: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    hanging: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/stream"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                d = Delivery({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                uid = json.loads(body).get("uid") if body else None
                with receiver.lock:
                    receiver.deliveries.append(d)
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    hang = uid in receiver.hang_for
                    receiver.hang_for.discard(uid)
                    if hang:
                        receiver.hanging.add(uid)
                if hang:
                    receiver.release.wait(HANG_S)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def for_video(self, uid: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.video.get("uid") == uid]

    def wait_for(self, uid: str, count: int = 1,
                 deadline_s: float = DELIVERY_DEADLINE_S) -> list[Delivery]:
        deadline = time.monotonic() + deadline_s
        while True:
            got = self.for_video(uid)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} deliveries for {uid} after {deadline_s}s, "
                                     f"wanted {count}")
            time.sleep(0.1)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def verify_signature(d: Delivery, secret: str) -> None:
    """What a customer's receiver does (Cloudflare's documented check)."""
    header = d.headers.get("webhook-signature")
    assert header, d.headers
    parts = dict(p.split("=", 1) for p in header.split(","))
    assert set(parts) == {"time", "sig1"}, header
    sent = int(parts["time"])
    assert abs(time.time() - sent) <= SIGNATURE_TOLERANCE_S, (sent, time.time())
    expected = hmac.new(secret.encode(), parts["time"].encode() + b"." + d.body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["sig1"]), (header, expected)


def subscribe(srv, url: str) -> str:
    hook = srv.client("a").stream.webhooks.update(account_id=srv.acct("a"),
                                                   body_notification_url_2=url)
    assert hook is not None and hook.notification_url == url
    return hook.secret


def test_webhook_is_set_read_replaced_and_deleted(server):
    cf, acct = server.client("a"), server.acct("a")
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.webhooks.get(account_id=acct), 404)
    before = dt.datetime.now(dt.timezone.utc)
    made = cf.stream.webhooks.update(account_id=acct,
                                     body_notification_url_2="https://hooks.example/stream")
    assert made is not None
    assert made.notification_url == "https://hooks.example/stream"
    assert HEX32.match(made.secret), made.secret
    assert made.modified is not None and made.modified >= before - dt.timedelta(seconds=5)
    got = cf.stream.webhooks.get(account_id=acct)
    assert got is not None
    assert (got.notification_url, got.secret, got.modified) == \
        (made.notification_url, made.secret, made.modified)
    raw = server.request("GET", f"/accounts/{acct}/stream/webhook").json()["result"]
    assert set(raw) == {"notificationUrl", "modified", "secret"}
    assert RFC3339_MICROS.match(raw["modified"]), raw

    # One per account: a PUT replaces it, with a fresh secret; the snake_case name works.
    again = cf.stream.webhooks.update(account_id=acct,
                                      body_notification_url_1="http://other.example/h")
    assert again is not None and again.notification_url == "http://other.example/h"
    assert again.secret != made.secret
    assert cf.stream.webhooks.get(account_id=acct).secret == again.secret
    # Another account sees none of it.
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: server.client("b").stream.webhooks.get(
                         account_id=server.acct("b")), 404)

    assert cf.stream.webhooks.delete(account_id=acct) == "ok"
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.webhooks.get(account_id=acct), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.webhooks.delete(account_id=acct), 404)


@pytest.mark.parametrize("body", [
    {"notificationUrl": "ftp://hooks.example/"},
    {"notificationUrl": "not a url"},
    {"notificationUrl": "/relative/path"},
    {"notificationUrl": 42},
    {},
])
def test_a_bad_notification_url_is_a_400_naming_the_field(server, body):
    acct = server.acct("a")
    resp = server.request("PUT", f"/accounts/{acct}/stream/webhook", json=body)
    env = assert_error_envelope(resp, 400)
    assert "notificationUrl" in env["errors"][0]["message"], env
    # Through the SDK too.
    if isinstance(body.get("notificationUrl"), str):
        expect_sdk_error(cloudflare.BadRequestError,
                         lambda: server.client("a").stream.webhooks.update(
                             account_id=acct, body_notification_url_2=body["notificationUrl"]),
                         400)


def test_ready_video_is_notified_signed_and_retried_after_a_500(make_server, receiver, clip):
    srv = make_server("--copy-allow-private")
    secret = subscribe(srv, receiver.url)
    receiver.answers.append(500)
    uid = srv.upload_ok(clip, name="hooked.mp4")["uid"]

    first, second = receiver.wait_for(uid, count=2, deadline_s=DELIVERY_DEADLINE_S
                                      + RETRY_DEADLINE_S)[:2]
    for d in (first, second):
        assert d.headers["content-type"] == "application/json"
        verify_signature(d, secret)
        video = d.video
        assert video["uid"] == uid
        assert video["status"]["state"] == "ready"
        assert video["readyToStream"] is True
        assert video["meta"]["name"] == "hooked.mp4"
        assert "result" not in video, "the video object itself, not the envelope"
    # The body is the video object as the API renders it.
    api = srv.get_video(uid)
    assert first.video["playback"] == api["playback"] and first.video["created"] == api["created"]
    # The retry came after the backoff (2 s), not at once.
    assert second.received - first.received >= 1.5


def test_a_non_video_is_notified_as_an_error(make_server, receiver):
    srv = make_server("--copy-allow-private")
    secret = subscribe(srv, receiver.url)
    uid = srv.upload_ok(data=b"this is plain text, not a video\n" * 64, name="notes.txt")["uid"]
    (d,) = receiver.wait_for(uid)[:1]
    verify_signature(d, secret)
    assert d.video["uid"] == uid
    assert d.video["status"]["state"] == "error"
    assert d.video["status"]["errorReasonCode"] == "ERR_NON_VIDEO"
    assert d.video["readyToStream"] is False


def test_a_hanging_receiver_delays_neither_packaging_nor_other_notifications(
        make_server, receiver, clip):
    srv = make_server("--copy-allow-private")
    secret = subscribe(srv, receiver.url)
    stuck = srv.upload_ok(clip, name="stuck.mp4")["uid"]
    receiver.hang_for.add(stuck)
    receiver.wait_for(stuck)
    assert stuck in receiver.hanging

    other = srv.upload_ok(clip, name="other.mp4")["uid"]
    video, _ = srv.wait_for_state(other)
    assert video.status.state == "ready"
    (d,) = receiver.wait_for(other)[:1]
    verify_signature(d, secret)
    assert d.video["status"]["state"] == "ready"
    receiver.release.set()


def test_no_webhook_no_delivery_and_deleting_it_stops_them(make_server, receiver, clip):
    srv = make_server("--copy-allow-private")
    cf, acct = srv.client("a"), srv.acct("a")
    subscribe(srv, receiver.url)
    assert cf.stream.webhooks.delete(account_id=acct) == "ok"
    quiet = srv.upload_ok(clip, name="quiet.mp4")["uid"]
    video, _ = srv.wait_for_state(quiet)
    assert video.status.state == "ready"
    # Subscribe again: the next video is notified, the one that finished unsubscribed
    # never is (its outcome enqueued nothing, so no fixed wait is needed to be sure).
    subscribe(srv, receiver.url)
    loud = srv.upload_ok(clip, name="loud.mp4")["uid"]
    receiver.wait_for(loud)
    assert receiver.for_video(quiet) == []


def test_the_reaper_deletes_videos_past_their_scheduled_deletion(make_server, clip):
    srv = make_server("--copy-allow-private", "--reaper-interval-secs", "1")
    cf, acct = srv.client("a"), srv.acct("a")
    doomed = srv.upload_ok(clip, name="doomed.mp4")["uid"]
    kept = srv.upload_ok(clip, name="kept.mp4")["uid"]
    for uid in (doomed, kept):
        video, _ = srv.wait_for_state(uid)
        assert video.status.state == "ready"
    media = srv.data_dir / "media"
    dirs = [media / "videos" / doomed, media / "uploads" / doomed]
    assert all(d.exists() for d in dirs), dirs

    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    edited = cf.stream.edit(identifier=doomed, account_id=acct, scheduled_deletion=when)
    assert edited is not None and edited.scheduled_deletion is not None
    assert abs((edited.scheduled_deletion - when).total_seconds()) < 0.001
    # Later than the test lasts: must survive.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    cf.stream.edit(identifier=kept, account_id=acct, scheduled_deletion=later)

    deadline = time.monotonic() + REAPER_DEADLINE_S
    while True:
        try:
            cf.stream.get(identifier=doomed, account_id=acct)
        except cloudflare.NotFoundError:
            break
        assert time.monotonic() < deadline, f"not reaped\n{srv.log_tail()}"
        time.sleep(0.25)
    assert time.time() >= when.timestamp() - 0.5, "deleted before it was due"
    assert not any(d.exists() for d in dirs), [d for d in dirs if d.exists()]
    # The edge stops serving it at once.
    assert requests.get(f"{srv.url}/{doomed}/manifest/video.m3u8", timeout=10).status_code == 404
    assert cf.stream.get(identifier=kept, account_id=acct).uid == kept
    assert (media / "videos" / kept).exists()


def webhook_job_error(srv, uid: str, deadline_s: float = DELIVERY_DEADLINE_S) -> str:
    """Waits until the video's webhook job has recorded why an attempt failed."""
    deadline = time.monotonic() + deadline_s
    while True:
        with sqlite3.connect(srv.data_dir / "usher.db", timeout=30) as db:
            rows = db.execute("SELECT last_error FROM jobs WHERE video_uid = ? AND kind = 'webhook'",
                              (uid,)).fetchall()
        errors = [e for (e,) in rows if e]
        if errors:
            return errors[0]
        assert time.monotonic() < deadline, f"no webhook attempt failed for {uid}: {rows}"
        time.sleep(0.1)


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254",
                                  "10.0.0.5", "192.168.1.20", "0.0.0.0", "2130706433"])
def test_a_private_notification_url_is_refused_by_default(server, receiver, host):
    """SSRF: without --copy-allow-private, loopback, link-local and private addresses
    are refused when the webhook is set, and nothing is ever sent there."""
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://{host}:{port}/hooks/stream"
    resp = server.request("PUT", f"/accounts/{server.acct('a')}/stream/webhook",
                          json={"notificationUrl": url})
    env = assert_error_envelope(resp, 400)
    assert "notificationUrl" in env["errors"][0]["message"]
    assert receiver.deliveries == []
    # Control: a public name is accepted (nothing is delivered by this test).
    ok = server.request("PUT", f"/accounts/{server.acct('a')}/stream/webhook",
                        json={"notificationUrl": "https://hooks.example.com/stream"})
    assert ok.status_code == 200, ok.text
    server.request("DELETE", f"/accounts/{server.acct('a')}/stream/webhook")


def test_a_name_that_resolves_to_loopback_is_never_delivered_to(make_server, receiver, clip):
    srv = make_server()  # the default, public-only policy
    url = receiver.url.replace("127.0.0.1", "localhost")
    resp = srv.request("PUT", f"/accounts/{srv.acct('a')}/stream/webhook",
                       json={"notificationUrl": url})
    if resp.status_code == 400:  # refused up front: as good
        assert receiver.deliveries == []
        return
    assert resp.status_code == 200, resp.text
    uid = srv.upload_ok(clip)["uid"]
    srv.wait_for_state(uid)
    why = webhook_job_error(srv, uid)
    assert "not allowed" in why, why
    assert receiver.deliveries == [], "a refused address was contacted"


def test_deliveries_follow_no_redirect(make_server, receiver, clip):
    """A receiver that redirects does not get the delivery sent on (to what could be an
    internal address the policy would refuse)."""
    srv = make_server("--copy-allow-private")
    redirects: list[str] = []

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            redirects.append(self.path)
            self.send_response(307)
            self.send_header("Location", receiver.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    redirector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        subscribe(srv, f"http://127.0.0.1:{redirector.server_address[1]}/hook")
        uid = srv.upload_ok(clip)["uid"]
        srv.wait_for_state(uid)
        why = webhook_job_error(srv, uid)
        assert "307" in why, why
        assert redirects, "the redirecting receiver was asked"
        assert receiver.deliveries == [], "the redirect was followed"
    finally:
        redirector.shutdown()
        redirector.server_close()
