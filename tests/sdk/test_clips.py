"""Clips (SPEC §7) through the official SDK's `stream.clip.create`: a new video of a
span of one of the account's ready videos, with its own settings.

Two tests here need the media pipeline's clip cutting (the worker reads `clip` and
`clippedFrom` and cuts from the root source): `test_a_clip_lasts_what_was_asked` and
`test_a_clip_of_a_clip_is_cut_from_the_root`. The rest is the API: what a clip is
created with, where its span is recorded, and what is refused.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import cloudflare
import pytest
import requests

from helpers import HEX32, assert_error_envelope, assert_ok_envelope, expect_sdk_error

# SPEC §7: a clip's duration is within 0.1 s of the span asked for.
DURATION_TOLERANCE_S = 0.1


def clip_video(srv, source: str, start: float, end: float, account: str = "a", **kw):
    return srv.client(account).stream.clip.create(
        account_id=srv.acct(account), clipped_from_video_uid=source,
        start_time_seconds=start, end_time_seconds=end, **kw)


def stored_span(srv, uid: str) -> tuple[str | None, float | None, float | None]:
    with sqlite3.connect(srv.data_dir / "usher.db", timeout=30) as db:
        return db.execute("SELECT clipped_from, clip_start, clip_end FROM videos WHERE uid = ?",
                          (uid,)).fetchone()


def fake_ready(srv, uid: str, duration: float) -> None:
    """Makes a queued video ready with `duration` without packaging it (its job goes),
    for tests of the API alone."""
    with sqlite3.connect(srv.data_dir / "usher.db", timeout=30) as db:
        db.execute("DELETE FROM jobs WHERE video_uid = ?", (uid,))
        db.execute("UPDATE videos SET state = 'ready', duration = ? WHERE uid = ?",
                   (duration, uid))


@pytest.fixture(scope="module")
def logo(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("clips") / "logo.png"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=s=32x32", "-frames:v", "1", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def make_watermark(srv, logo: bytes, account: str = "a", **fields) -> dict:
    return assert_ok_envelope(requests.post(
        f"{srv.api}/accounts/{srv.acct(account)}/stream/watermarks",
        files={"file": ("logo.png", logo)}, data=fields, headers=srv.bearer(account),
        timeout=60))


@pytest.fixture(scope="module")
def private_source(server, clip: Path, logo: bytes) -> dict:
    """A ready video of account a with signed URLs required, an allowed origin and a
    watermark."""
    wm = make_watermark(server, logo, name="source mark")
    r = requests.post(f"{server.api}/accounts/{server.acct('a')}/stream",
                      files={"file": ("private.mp4", clip.read_bytes())},
                      data={"watermark": wm["uid"]}, headers=server.bearer("a"), timeout=60)
    uid = assert_ok_envelope(r)["uid"]
    video, _ = server.wait_for_state(uid)
    assert video.status.state == "ready", (video.status, server.log_tail())
    server.client("a").stream.edit(identifier=uid, account_id=server.acct("a"),
                                   require_signed_urls=True, allowed_origins=["example.com"])
    return {"uid": uid, "watermark": wm}


def test_a_clip_is_a_new_queued_video_of_its_own(server, ready_video):
    cf, acct = server.client("a"), server.acct("a")
    v = clip_video(server, ready_video.uid, 1, 3, name="the middle", creator="editor-1",
                   meta={"project": "trailer"}, thumbnail_timestamp_pct=0.5)
    assert v is not None and HEX32.match(v.uid) and v.uid != ready_video.uid
    assert v.clipped_from == ready_video.uid
    assert v.status.state == "queued"
    assert v.meta == {"project": "trailer", "name": "the middle"}
    assert (v.creator, v.thumbnail_timestamp_pct) == ("editor-1", 0.5)
    assert v.require_signed_urls is False and v.watermark is None
    assert v.duration == -1
    got = cf.stream.get(identifier=v.uid, account_id=acct)
    assert (got.clipped_from, got.meta["name"], got.creator) == (
        ready_video.uid, "the middle", "editor-1")
    assert stored_span(server, v.uid) == (ready_video.uid, 1.0, 3.0)
    # The source is untouched.
    assert cf.stream.get(identifier=ready_video.uid, account_id=acct).clipped_from is None
    cf.stream.delete(identifier=v.uid, account_id=acct)


def test_a_clip_lasts_what_was_asked(server, ready_video):
    """End to end: needs the media pipeline's clip cutting."""
    v = clip_video(server, ready_video.uid, 0.5, 2.5)
    video, seen = server.wait_for_state(v.uid)
    assert video.status.state == "ready", (video.status, seen, server.log_tail())
    assert abs(video.duration - 2.0) <= DURATION_TOLERANCE_S, video.duration
    assert video.clipped_from == ready_video.uid


def test_a_clip_of_a_clip_is_placed_in_the_root_timeline(server, ready_video):
    cf, acct = server.client("a"), server.acct("a")
    outer = clip_video(server, ready_video.uid, 1.0, 3.5)
    fake_ready(server, outer.uid, 2.5)
    inner = clip_video(server, outer.uid, 0.5, 2.0)
    assert inner.clipped_from == outer.uid
    # Recorded against the root (the first ancestor with an uploaded file).
    assert stored_span(server, inner.uid) == (outer.uid, 1.5, 3.0)
    # Up to the very end of the outer clip is fine; a hair past it is not.
    whole = clip_video(server, outer.uid, 0, 2.5)
    assert stored_span(server, whole.uid) == (outer.uid, 1.0, 3.5)
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: clip_video(server, outer.uid, 0, 2.51), 400)
    assert e.response.json()["errors"][0]["message"].startswith("endTimeSeconds: past the end")
    for uid in (inner.uid, whole.uid, outer.uid):
        cf.stream.delete(identifier=uid, account_id=acct)


def test_a_clip_of_a_clip_is_cut_from_the_root(server, ready_video):
    """End to end: needs the media pipeline's clip cutting."""
    outer = clip_video(server, ready_video.uid, 0.5, 3.5)
    video, _ = server.wait_for_state(outer.uid)
    assert video.status.state == "ready", (video.status, server.log_tail())
    inner = clip_video(server, outer.uid, 1.0, 2.0)
    assert stored_span(server, inner.uid) == (outer.uid, 1.5, 2.5)
    video, _ = server.wait_for_state(inner.uid)
    assert video.status.state == "ready", (video.status, server.log_tail())
    assert abs(video.duration - 1.0) <= DURATION_TOLERANCE_S, video.duration


def test_a_clip_keeps_its_sources_privacy_and_watermark_unless_told(server, private_source,
                                                                    logo):
    cf, acct = server.client("a"), server.acct("a")
    src = private_source["uid"]
    inherited = clip_video(server, src, 0, 1)
    assert inherited.require_signed_urls is True
    assert inherited.allowed_origins == ["example.com"]
    assert inherited.watermark is not None
    assert inherited.watermark.uid == private_source["watermark"]["uid"]
    copy = server.data_dir / "media" / "uploads" / inherited.uid / "watermark"
    assert copy.read_bytes() == logo

    other = make_watermark(server, logo, name="clip mark", position="center")
    own = clip_video(server, src, 0, 1, require_signed_urls=False, allowed_origins=[],
                     watermark={"uid": other["uid"]})
    assert own.require_signed_urls is False and own.allowed_origins == []
    assert (own.watermark.uid, own.watermark.position) == (other["uid"], "center")
    for uid in (inherited.uid, own.uid):
        cf.stream.delete(identifier=uid, account_id=acct)
    assert not copy.exists()


def test_spans_outside_the_video_are_refused(server, ready_video):
    cf, acct = server.client("a"), server.acct("a")
    duration = cf.stream.get(identifier=ready_video.uid, account_id=acct).duration
    before = server.video_count("a")
    for start, end, field in ((1, duration + 0.5, "endTimeSeconds"),
                              (0, 100, "endTimeSeconds"),
                              (2, 2, "endTimeSeconds"),
                              (3, 1, "endTimeSeconds"),
                              (-1, 2, "startTimeSeconds"),
                              ("one", 2, "startTimeSeconds"),
                              (0, "2s", "endTimeSeconds"),
                              (0, None, "endTimeSeconds"),
                              (True, 2, "startTimeSeconds")):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda: clip_video(server, ready_video.uid, start, end), 400)
        msg = e.response.json()["errors"][0]["message"]
        assert msg.startswith(f"{field}: "), (start, end, msg)
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: clip_video(server, ready_video.uid, 1, duration + 0.5), 400)
    assert "past the end" in e.response.json()["errors"][0]["message"]
    # Fields missing entirely.
    url = f"/accounts/{acct}/stream/clip"
    for body, field in (({"startTimeSeconds": 0, "endTimeSeconds": 1}, "clippedFromVideoUID"),
                        ({"clippedFromVideoUID": ready_video.uid, "endTimeSeconds": 1},
                         "startTimeSeconds"),
                        ({"clippedFromVideoUID": ready_video.uid, "startTimeSeconds": 0},
                         "endTimeSeconds")):
        body = assert_error_envelope(server.request("POST", url, json=body), 400)
        assert body["errors"][0]["message"] == f"{field}: required"
    assert_error_envelope(server.request("POST", url, data=b"{not json",
                                         headers={"Content-Type": "application/json"}), 400)
    assert server.video_count("a") == before
    # Positive control: the whole video, to the last frame.
    whole = clip_video(server, ready_video.uid, 0, duration)
    assert whole.clipped_from == ready_video.uid
    cf.stream.delete(identifier=whole.uid, account_id=acct)


def test_only_the_accounts_ready_videos_can_be_clipped(server, ready_video, video_b, logo):
    cf, acct = server.client("a"), server.acct("a")
    pending = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60)
    foreign_mark = make_watermark(server, logo, account="b")
    before = server.video_count("a")
    for source, message in ((video_b["uid"], "clippedFromVideoUID: no such video"),
                            ("0" * 32, "clippedFromVideoUID: no such video"),
                            ("../etc", "clippedFromVideoUID: no such video"),
                            (pending.uid, "clippedFromVideoUID: the video is not ready to be clipped")):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda: clip_video(server, source, 0, 1), 400)
        assert e.response.json()["errors"][0]["message"] == message, source
    # B cannot clip A's video either, through its own account.
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: clip_video(server, ready_video.uid, 0, 1, account="b"), 400)
    assert e.response.json()["errors"][0]["message"] == "clippedFromVideoUID: no such video"
    # Nor lend A a watermark.
    e = expect_sdk_error(cloudflare.BadRequestError, lambda: clip_video(
        server, ready_video.uid, 0, 1, watermark={"uid": foreign_mark["uid"]}), 400)
    assert e.response.json()["errors"][0]["message"] == "watermark.uid: no such watermark profile"
    # Settings are checked as for an edit.
    for kw, field in (({"allowed_origins": ["https://x.com/path"]}, "allowedOrigins"),
                      ({"thumbnail_timestamp_pct": 2}, "thumbnailTimestampPct"),
                      ({"extra_body": {"maxDurationSeconds": 0}}, "maxDurationSeconds"),
                      ({"extra_body": {"maxDurationSeconds": 1}}, "maxDurationSeconds"),
                      ({"require_signed_urls": "yes"}, "requireSignedURLs")):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda: clip_video(server, ready_video.uid, 0, 2, **kw), 400)
        assert field in e.response.json()["errors"][0]["message"], kw
    assert server.video_count("a") == before
    cf.stream.delete(identifier=pending.uid, account_id=acct)
