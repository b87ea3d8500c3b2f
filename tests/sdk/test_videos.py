"""Videos (SPEC §3 table and video object) through the SDK's `stream.*` methods.

Basic multipart upload (the SDK has none, so `requests`), processing to `ready` with the
probed duration and size, absolute playback URLs; `stream.list` ordering and filters;
`stream.edit` round trips and refusals; `stream.delete` removing the record and its
media; a non-video upload failing with ERR_NON_VIDEO; the upload limit (413), wrong
media type (415), a multipart body without `file` (400); and `stream.embed.get`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import cloudflare
import pytest
import requests

from helpers import (
    HEX32,
    RFC3339_MICROS,
    assert_error_envelope,
    assert_ok_envelope,
    expect_sdk_error,
)

STATE_ORDER = ["pendingupload", "downloading", "queued", "inprogress", "ready"]


@pytest.fixture(scope="module")
def error_video(server):
    """A text file uploaded as a video: processing must end in ERR_NON_VIDEO."""
    uploaded = server.upload_ok(data=b"these are my notes, not a video\n" * 50, name="notes.txt")
    video, _ = server.wait_for_state(uploaded["uid"])
    return video


# --- upload and processing -----------------------------------------------------------

def test_upload_response_is_the_new_video(ready_video):
    v = ready_video.upload_result
    assert HEX32.match(v["uid"])
    assert v["meta"]["name"] == "clip.mp4"
    assert v["size"] == ready_video.size
    assert v["status"]["state"] in ("queued", "inprogress", "ready"), v["status"]
    for t in ("created", "modified", "uploaded"):
        assert RFC3339_MICROS.match(v[t]), (t, v[t])
    assert v["readyToStream"] is (v["status"]["state"] == "ready")
    assert v["requireSignedURLs"] is False
    assert v["allowedOrigins"] == []


def test_states_progress_to_ready(ready_video):
    seen = ready_video.states_seen
    assert seen[-1] == "ready", seen
    assert all(s in STATE_ORDER for s in seen), seen
    positions = [STATE_ORDER.index(s) for s in seen]
    assert positions == sorted(positions), f"states went backwards: {seen}"


def test_ready_video_via_sdk(server, ready_video):
    v = server.client("a").stream.get(identifier=ready_video.uid, account_id=server.acct("a"))
    assert v is not None
    assert v.uid == ready_video.uid and HEX32.match(v.uid)
    assert v.meta["name"] == "clip.mp4"
    assert v.status.state == "ready"
    assert v.ready_to_stream is True
    assert v.ready_to_stream_at is not None
    assert abs(v.duration - 4.0) <= 0.5, v.duration
    assert (v.input.width, v.input.height) == (320, 240)
    assert v.size == ready_video.size
    assert v.status.error_reason_code in ("", None)
    float(v.status.pct_complete)  # a string holding a number
    base = f"{server.url}/{v.uid}"
    assert v.playback.hls == f"{base}/manifest/video.m3u8"
    assert v.playback.dash == f"{base}/manifest/video.mpd"
    assert v.thumbnail.startswith(base + "/") and v.preview.startswith(base + "/")
    assert v.created <= v.modified


def test_ready_video_raw_shape(server, ready_video):
    v = server.get_video(ready_video.uid)
    for field in ("uid", "created", "modified", "uploaded", "creator", "meta", "size",
                  "duration", "input", "status", "readyToStream", "readyToStreamAt",
                  "requireSignedURLs", "allowedOrigins", "thumbnail", "thumbnailTimestampPct",
                  "preview", "playback", "maxDurationSeconds", "scheduledDeletion",
                  "uploadExpiry"):
        assert field in v, field
    assert RFC3339_MICROS.match(v["readyToStreamAt"]), v["readyToStreamAt"]
    assert isinstance(v["status"]["pctComplete"], str)
    assert len(v["status"]["pctComplete"].split(".")[1]) == 6, v["status"]


def test_text_upload_ends_in_err_non_video(error_video):
    assert error_video.status.state == "error"
    assert error_video.status.error_reason_code == "ERR_NON_VIDEO"
    assert error_video.status.error_reason_text
    assert error_video.ready_to_stream is False
    assert error_video.meta["name"] == "notes.txt"


@pytest.mark.parametrize("uid", ["0" * 32, "nope", "F" * 32])
def test_get_unknown_video_is_404(server, uid):
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: server.client("a").stream.get(identifier=uid,
                                                           account_id=server.acct("a")), 404)


# --- list ------------------------------------------------------------------------------

def test_list_newest_first_and_asc(server, ready_video, error_video):
    client = server.client("a")
    acct = server.acct("a")
    videos = list(client.stream.list(account_id=acct))
    uids = [v.uid for v in videos]
    assert ready_video.uid in uids and error_video.uid in uids
    created = [v.created for v in videos]
    assert created == sorted(created, reverse=True), "default order must be newest first"
    # error_video was uploaded after ready_video
    assert uids.index(error_video.uid) < uids.index(ready_video.uid)
    asc = list(client.stream.list(account_id=acct, asc=True))
    assert [v.uid for v in asc] == list(reversed(uids))


def test_list_status_filter(server, ready_video, error_video):
    client = server.client("a")
    ready = list(client.stream.list(account_id=server.acct("a"), status="ready"))
    assert ready and all(v.status.state == "ready" for v in ready)
    assert ready_video.uid in [v.uid for v in ready]
    assert error_video.uid not in [v.uid for v in ready]
    errored = list(client.stream.list(account_id=server.acct("a"), status="error"))
    assert [v.uid for v in errored if v.uid == error_video.uid] == [error_video.uid]
    assert all(v.status.state == "error" for v in errored)


def test_list_search_in_name(server, ready_video, error_video):
    client = server.client("a")
    found = list(client.stream.list(account_id=server.acct("a"), search="notes"))
    assert [v.uid for v in found] == [error_video.uid]
    found = list(client.stream.list(account_id=server.acct("a"), search="clip.mp4"))
    assert ready_video.uid in [v.uid for v in found]
    assert all("clip.mp4" in v.meta["name"] for v in found)
    assert list(client.stream.list(account_id=server.acct("a"), search="zzz-no-such")) == []


def test_list_search_is_literal_and_case_insensitive(server):
    """`%` and `_` in a search are characters, not SQL wildcards."""
    client = server.client("a")
    acct = server.acct("a")
    pct = server.upload_ok(data=b"text", name="100%_Done.txt")["uid"]
    plain = server.upload_ok(data=b"text", name="plain-name.txt")["uid"]
    for term in ("%", "_", "100%_", "%_d"):
        found = [v.uid for v in client.stream.list(account_id=acct, search=term)]
        assert pct in found and plain not in found, (term, found)
    assert [v.uid for v in client.stream.list(account_id=acct, search="PLAIN-NAME")] == [plain]
    for uid in (pct, plain):
        server.wait_for_state(uid)


def test_list_limit_and_counts(server, ready_video, error_video):
    client = server.client("a")
    acct = server.acct("a")
    everything = list(client.stream.list(account_id=acct))
    one = list(client.stream.list(account_id=acct, limit=1))
    assert len(one) == 1 and one[0].uid == everything[0].uid
    resp = server.request("GET", f"/accounts/{acct}/stream",
                          params={"include_counts": "true", "limit": "1"})
    body = resp.json()
    assert_ok_envelope(resp)
    assert len(body["result"]) == 1
    assert body["total"] == len(everything), body
    assert body["range"] == 1
    resp = server.request("GET", f"/accounts/{acct}/stream")
    assert "total" not in resp.json()


def test_list_counts_follow_filters(server, ready_video, error_video):
    acct = server.acct("a")
    for params in ({"status": "error"}, {"status": "ready"}, {"search": "notes"}):
        resp = server.request("GET", f"/accounts/{acct}/stream",
                              params={**params, "include_counts": "true"})
        body = resp.json()
        assert_ok_envelope(resp)
        assert body["total"] == len(body["result"]) == body["range"], (params, body["total"])


def test_list_time_filters(server, ready_video):
    client = server.client("a")
    acct = server.acct("a")
    created = client.stream.get(identifier=ready_video.uid, account_id=acct).created
    earlier = (created - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    future = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def uids(**kw):
        return [v.uid for v in client.stream.list(account_id=acct, **kw)]

    assert ready_video.uid in uids(start=earlier)
    assert ready_video.uid not in uids(end=earlier)
    assert ready_video.uid in uids(end=future)
    assert uids(start=future) == []
    raw = server.request("GET", f"/accounts/{acct}/stream", params={"after": future})
    assert assert_ok_envelope(raw) == []
    raw = server.request("GET", f"/accounts/{acct}/stream", params={"before": earlier})
    assert ready_video.uid not in [v["uid"] for v in assert_ok_envelope(raw)]


def test_list_creator_filter(server):
    client = server.client("a")
    acct = server.acct("a")
    uid = server.upload_ok(data=b"text", name="by-creator.txt")["uid"]
    edited = client.stream.edit(identifier=uid, account_id=acct, creator="creator-unique-7")
    assert edited is not None and edited.creator == "creator-unique-7"
    assert [v.uid for v in client.stream.list(account_id=acct, creator="creator-unique-7")] == [uid]
    assert list(client.stream.list(account_id=acct, creator="nobody-at-all")) == []
    server.wait_for_state(uid)


def test_list_is_per_account(server, ready_video, video_b):
    a_uids = [v.uid for v in server.client("a").stream.list(account_id=server.acct("a"))]
    b_uids = [v.uid for v in server.client("b").stream.list(account_id=server.acct("b"))]
    assert video_b["uid"] in b_uids and video_b["uid"] not in a_uids
    assert ready_video.uid in a_uids and ready_video.uid not in b_uids


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "-1"}, {"limit": "ten"}, {"status": "sleeping"},
    {"asc": "maybe"}, {"start": "yesterday"},
])
def test_list_bad_params_are_400(server, params):
    resp = server.request("GET", f"/accounts/{server.acct('a')}/stream", params=params)
    assert_error_envelope(resp, 400)


# --- edit --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def edit_video(server, clip):
    """Processed before the edits, so the worker never changes it under a comparison."""
    uploaded = server.upload_ok(clip, name="edit-me.mp4")
    video, _ = server.wait_for_state(uploaded["uid"])
    assert video.status.state == "ready"
    return uploaded


def test_edit_during_processing_survives_processing(server, clip):
    """Settings edited while the worker packages the video are not lost when it finishes."""
    client = server.client("a")
    acct = server.acct("a")
    uid = server.upload_ok(clip, name="early-edit.mp4")["uid"]
    edited = client.stream.edit(identifier=uid, account_id=acct, require_signed_urls=True,
                                allowed_origins=["*.example.com"], meta={"name": "renamed.mp4"})
    assert edited is not None and edited.require_signed_urls is True
    video, _ = server.wait_for_state(uid)
    assert video.status.state == "ready"
    assert video.require_signed_urls is True
    assert video.allowed_origins == ["*.example.com"]
    assert video.meta["name"] == "renamed.mp4"
    assert abs(video.duration - 4.0) <= 0.5


def test_edit_round_trips(server, edit_video):
    client = server.client("a")
    acct = server.acct("a")
    uid = edit_video["uid"]
    before = client.stream.get(identifier=uid, account_id=acct)
    edited = client.stream.edit(identifier=uid, account_id=acct, require_signed_urls=True,
                                allowed_origins=["example.com"], meta={"name": "x"},
                                thumbnail_timestamp_pct=0.5)
    assert edited is not None, "stream.edit returned None"
    for v in (edited, client.stream.get(identifier=uid, account_id=acct)):
        assert v.uid == uid
        assert v.require_signed_urls is True
        assert v.allowed_origins == ["example.com"]
        assert v.meta["name"] == "x"
        assert v.thumbnail_timestamp_pct == 0.5
    assert edited.modified > before.modified, (before.modified, edited.modified)
    assert edited.created == before.created
    # and back again (a uid in the body is accepted)
    back = client.stream.edit(identifier=uid, account_id=acct, uid=uid,
                              require_signed_urls=False, allowed_origins=[])
    assert back.require_signed_urls is False and back.allowed_origins == []
    assert back.meta["name"] == "x", "fields not sent must be left alone"


def test_edit_via_legacy_client(server, edit_video):
    client = server.legacy_client("a")
    v = client.stream.edit(identifier=edit_video["uid"], account_id=server.acct("a"),
                           creator="creator-42")
    assert v is not None and v.creator == "creator-42"
    assert server.get_video(edit_video["uid"])["creator"] == "creator-42"


@pytest.mark.parametrize("body", [
    {"allowedOrigins": ["https://x.com/path"]},
    {"allowedOrigins": ["x.com/path"]},
    {"allowedOrigins": "example.com"},
    {"thumbnailTimestampPct": 2},
    {"thumbnailTimestampPct": -0.1},
    {"requireSignedURLs": "yes"},
    {"meta": "a string"},
    {"maxDurationSeconds": 0},
    {"scheduledDeletion": "tomorrow"},
    {"uid": "0" * 32},
])
def test_bad_edits_are_400_and_change_nothing(server, edit_video, body):
    before = server.get_video(edit_video["uid"])
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream/{edit_video['uid']}",
                          json=body)
    assert_error_envelope(resp, 400)
    assert server.get_video(edit_video["uid"]) == before


def test_bad_edit_via_sdk_is_bad_request(server, edit_video):
    client = server.client("a")
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: client.stream.edit(identifier=edit_video["uid"],
                                                account_id=server.acct("a"),
                                                allowed_origins=["https://x.com/path"]), 400)
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: client.stream.edit(identifier=edit_video["uid"],
                                                account_id=server.acct("a"),
                                                thumbnail_timestamp_pct=2), 400)


def test_edit_message_names_the_field(server, edit_video):
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream/{edit_video['uid']}",
                          json={"requireSignedURLs": "yes"})
    body = assert_error_envelope(resp, 400)
    assert "requireSignedURLs" in body["errors"][0]["message"]


def test_empty_edit_body_changes_nothing(server, edit_video):
    """An empty body (every field optional) is accepted and leaves the settings alone."""
    before = server.get_video(edit_video["uid"])
    for headers in ({"Content-Type": "application/json"}, {}):
        resp = server.request("POST", f"/accounts/{server.acct('a')}/stream/{edit_video['uid']}",
                              headers=headers, data=b"")
        v = assert_ok_envelope(resp)
        for f in ("requireSignedURLs", "allowedOrigins", "meta", "creator",
                  "thumbnailTimestampPct", "status", "duration", "input"):
            assert v[f] == before[f], f


def test_edit_unknown_video_is_404(server):
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: server.client("a").stream.edit(identifier="0" * 32,
                                                            account_id=server.acct("a"),
                                                            meta={"name": "x"}), 404)


# --- embed ---------------------------------------------------------------------------------

def test_embed_snippet(server, ready_video):
    html = server.client("a").stream.embed.get(identifier=ready_video.uid,
                                               account_id=server.acct("a"))
    assert isinstance(html, str), type(html)
    html = html.strip()
    assert html.startswith("<iframe"), html
    assert html.endswith("</iframe>"), html
    assert f'src="{server.url}/{ready_video.uid}/iframe"' in html, html


def test_embed_unknown_video_is_404(server):
    resp = server.request("GET", f"/accounts/{server.acct('a')}/stream/{'0' * 32}/embed")
    assert_error_envelope(resp, 404)


# --- delete ------------------------------------------------------------------------------

def _media_dirs(server, uid):
    root = server.data_dir / "media"
    return [root / "uploads" / uid, root / "videos" / uid]


def test_delete_removes_video_and_media(server, clip):
    client = server.client("a")
    acct = server.acct("a")
    uid = server.upload_ok(clip, name="delete-me.mp4")["uid"]
    video, _ = server.wait_for_state(uid)
    assert video.status.state == "ready"
    dirs = _media_dirs(server, uid)
    assert any(d.exists() for d in dirs), "expected media under the data dir before deleting"
    assert any(uid in str(p) for p in server.media_files())
    result = client.stream.delete(identifier=uid, account_id=acct)
    assert result is None
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.get(identifier=uid, account_id=acct), 404)
    assert uid not in [v.uid for v in client.stream.list(account_id=acct)]
    for d in dirs:
        assert not d.exists(), f"{d} still exists after delete"
    assert not [p for p in server.media_files() if uid in str(p)]
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.delete(identifier=uid, account_id=acct), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.token.create(identifier=uid, account_id=acct), 404)


def test_delete_during_processing_leaves_no_media(server, clip):
    """Deleting a video the worker is packaging: nothing of it may be left on disk."""
    client = server.client("a")
    acct = server.acct("a")
    uid = server.upload_ok(clip, name="short-lived.mp4")["uid"]
    client.stream.delete(identifier=uid, account_id=acct)
    # The worker packages one video at a time: once a later upload is ready, it is done
    # with (or has abandoned) the deleted one.
    later = server.upload_ok(clip, name="later.mp4")["uid"]
    video, _ = server.wait_for_state(later)
    assert video.status.state == "ready"
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: client.stream.get(identifier=uid, account_id=acct), 404)
    assert [p for p in server.media_files() if uid in str(p)] == []
    assert not any(uid in str(p) for p in (server.data_dir / "tmp").rglob("*")) \
        if (server.data_dir / "tmp").exists() else True
    client.stream.delete(identifier=later, account_id=acct)


def test_delete_raw_envelope(server, clip):
    uid = server.upload_ok(data=b"not a video" * 10, name="gone.txt")["uid"]
    server.wait_for_state(uid)
    resp = server.request("DELETE", f"/accounts/{server.acct('a')}/stream/{uid}",
                          headers={"Accept": "*/*"})
    assert_ok_envelope(resp)
    assert_error_envelope(server.request("GET", f"/accounts/{server.acct('a')}/stream/{uid}"), 404)


# --- upload refusals -------------------------------------------------------------------------

def test_upload_over_limit_is_413(make_server):
    srv = make_server("--max-upload-bytes", "10000", accounts=("a",))
    url = f"{srv.api}/accounts/{srv.acct('a')}/stream"
    # Just over the limit (detected while streaming) and far over it (from Content-Length).
    for size in (10_001, 20_000, 300_000):
        resp = requests.post(url, files={"file": ("big.mp4", b"\x00" * size)},
                             headers=srv.bearer("a"), timeout=30)
        body = assert_error_envelope(resp, 413)
        assert "10000" in body["errors"][0]["message"], body
    # Chunked (no Content-Length): the limit holds while streaming.
    boundary = "usherboundary"

    def chunked_body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"chunked.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
        for _ in range(40):
            yield b"\x00" * 1000
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = requests.post(url, data=chunked_body(), timeout=30, headers={
        **srv.bearer("a"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert_error_envelope(resp, 413)
    assert list(srv.client("a").stream.list(account_id=srv.acct("a"))) == []
    assert srv.video_count("a") == 0
    assert srv.media_files() == [], "a refused upload left files behind"
    # At the limit it is accepted.
    ok = requests.post(url, files={"file": ("small.bin", b"\x01" * 9000)},
                       headers=srv.bearer("a"), timeout=30)
    assert_ok_envelope(ok)
    assert srv.video_count("a") == 1


def test_non_multipart_upload_is_415(server):
    before = server.video_count("a")
    url = f"/accounts/{server.acct('a')}/stream"
    for headers, data in [({"Content-Type": "video/mp4"}, b"\x00" * 100),
                          ({"Content-Type": "application/json"}, b'{"url": "x"}'),
                          ({}, b"raw bytes")]:
        resp = server.request("POST", url, headers=headers, data=data)
        assert_error_envelope(resp, 415)
    assert server.video_count("a") == before


def test_multipart_without_file_field_is_400(server):
    before = server.video_count("a")
    resp = requests.post(f"{server.api}/accounts/{server.acct('a')}/stream",
                         files={"video": ("clip.mp4", b"\x00" * 100)},
                         data={"name": "x"}, headers=server.bearer("a"), timeout=30)
    assert_error_envelope(resp, 400)
    assert server.video_count("a") == before


def test_empty_file_is_400(server):
    before = server.video_count("a")
    resp = server.upload(data=b"", name="empty.mp4")
    assert_error_envelope(resp, 400)
    assert server.video_count("a") == before


def test_malformed_multipart_is_400(server):
    before = server.video_count("a")
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream",
                          headers={"Content-Type": "multipart/form-data"}, data=b"abc")
    assert_error_envelope(resp, 400)
    resp = server.request("POST", f"/accounts/{server.acct('a')}/stream",
                          headers={"Content-Type": "multipart/form-data; boundary=XYZ"},
                          data=b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; "
                               b"filename=\"a.mp4\"\r\n\r\nabc")  # never terminated
    assert_error_envelope(resp, 400)
    assert server.video_count("a") == before


def test_sigterm_finishes_an_upload_in_flight(make_server, clip):
    """SPEC §2: on SIGTERM the server finishes in-flight requests, then exits 0; the
    upload is kept and processed after a restart."""
    import signal
    import threading
    import time

    srv = make_server(accounts=("a",))
    data = clip.read_bytes()
    boundary = "usherboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"inflight.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    half = len(data) // 2
    sent_half = threading.Event()

    def body():
        yield head
        yield data[:half]
        sent_half.set()
        time.sleep(0.5)  # SIGTERM arrives while the request is in flight
        yield data[half:]
        yield tail

    result: dict = {}

    def send():
        try:
            result["resp"] = requests.post(
                f"{srv.api}/accounts/{srv.acct('a')}/stream", data=body(), timeout=30,
                headers={**srv.bearer("a"),
                         "Content-Type": f"multipart/form-data; boundary={boundary}"})
        except requests.RequestException as e:  # pragma: no cover - reported below
            result["error"] = e

    t = threading.Thread(target=send)
    t.start()
    assert sent_half.wait(10)
    time.sleep(0.1)
    srv.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert "error" not in result, f"in-flight upload failed on SIGTERM: {result.get('error')}"
    video = assert_ok_envelope(result["resp"])
    assert video["size"] == len(data)
    assert srv.proc.wait(timeout=10) == 0
    srv.restart()
    done, _ = srv.wait_for_state(video["uid"])
    assert done.status.state == "ready" and done.size == len(data)
