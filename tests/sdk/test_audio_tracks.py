"""Additional audio tracks through the official SDK (`client.stream.audio_tracks`):
copy from a URL, list, edit (label, default), delete; account isolation; bad input,
including a source on loopback, which the default server refuses like a video copy.

The origins are throwaway HTTP servers on loopback (the `origins` fixture); servers
that must fetch from them run with `--copy-allow-private`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import cloudflare
import pytest

from helpers import (PROCESS_DEADLINE_S, POLL_INTERVAL_S, HEX32, assert_error_envelope,
                     expect_sdk_error)


@pytest.fixture(scope="module")
def audio_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("audio") / "commentary.m4a"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "sine=frequency=660", "-t", "3", "-c:a", "aac", str(out)],
        check=True, capture_output=True, timeout=60,
    )
    return out.read_bytes()


def audio_path(srv, uid: str, account: str = "a", rest: str = "") -> str:
    return f"/accounts/{srv.acct(account)}/stream/{uid}/audio{rest}"


def wait_track(cf, acct: str, uid: str, track: str) -> object:
    deadline = time.monotonic() + PROCESS_DEADLINE_S
    while True:
        tracks = cf.stream.audio_tracks.get(uid, account_id=acct)
        t = next(t for t in tracks if t.uid == track)
        if t.status != "queued":
            return t
        assert time.monotonic() < deadline, f"track {track} still queued"
        time.sleep(POLL_INTERVAL_S)


def test_audio_tracks_through_the_sdk(make_server, origins, clip, audio_file):
    srv = make_server("--copy-allow-private")
    origin = origins("127.0.0.1", lambda path: (200, {"Content-Type": "audio/mp4"}, audio_file))
    cf, acct = srv.client("a"), srv.acct("a")
    uid = srv.upload_ok(clip)["uid"]

    added = cf.stream.audio_tracks.copy(uid, account_id=acct, label="Commentary",
                                        url=origin.url("/commentary.m4a"))
    assert added is not None and HEX32.match(added.uid)
    assert (added.label, added.default, added.status) == ("Commentary", False, "queued")
    video, _ = srv.wait_for_state(uid)
    assert video.status.state == "ready"
    track = wait_track(cf, acct, uid, added.uid)
    assert track.status == "ready", srv.log_tail()
    assert origin.requests == ["/commentary.m4a"], "fetched once"

    edited = cf.stream.audio_tracks.edit(added.uid, account_id=acct, identifier=uid,
                                         default=True, label="Director")
    assert edited is not None
    assert (edited.uid, edited.label, edited.default) == (added.uid, "Director", True)
    [listed] = cf.stream.audio_tracks.get(uid, account_id=acct)
    assert (listed.label, listed.default, listed.status) == ("Director", True, "ready")

    # The default track cannot be deleted (Cloudflare's rule) ...
    e = expect_sdk_error(cloudflare.ConflictError,
                         lambda: cf.stream.audio_tracks.delete(added.uid, account_id=acct,
                                                               identifier=uid), 409)
    assert "default" in e.response.json()["errors"][0]["message"]
    # ... until another is, or none.
    cf.stream.audio_tracks.edit(added.uid, account_id=acct, identifier=uid, default=False)
    assert cf.stream.audio_tracks.delete(added.uid, account_id=acct, identifier=uid) == "ok"
    assert cf.stream.audio_tracks.get(uid, account_id=acct) == []
    assert not any("/audio/" in str(p) for p in srv.media_files()), "its media is gone"


def test_a_source_that_is_not_audio_fails_the_track_not_the_video(make_server, origins, clip):
    srv = make_server("--copy-allow-private")
    origin = origins("127.0.0.1", lambda path: (200, {}, b"this is not audio at all"))
    cf, acct = srv.client("a"), srv.acct("a")
    uid = srv.upload_ok(clip)["uid"]
    srv.wait_for_state(uid)
    added = cf.stream.audio_tracks.copy(uid, account_id=acct, label="Noise",
                                        url=origin.url("/noise.m4a"))
    assert wait_track(cf, acct, uid, added.uid).status == "error"
    assert srv.get_video(uid)["status"]["state"] == "ready"
    # An origin error is the track's too.
    gone = origins("127.0.0.1", lambda path: (404, {}, b"no"))
    added = cf.stream.audio_tracks.copy(uid, account_id=acct, label="Gone",
                                        url=gone.url("/gone.m4a"))
    assert wait_track(cf, acct, uid, added.uid).status == "error"


def test_another_account_never_reaches_a_videos_tracks(server, ready_video):
    uid = ready_video.uid
    cf_b, acct_b = server.client("b"), server.acct("b")
    for call in (
        lambda: cf_b.stream.audio_tracks.get(uid, account_id=acct_b),
        lambda: cf_b.stream.audio_tracks.copy(uid, account_id=acct_b, label="x",
                                              url="https://example.com/a.m4a"),
        lambda: cf_b.stream.audio_tracks.edit("0" * 32, account_id=acct_b, identifier=uid,
                                              default=True),
        lambda: cf_b.stream.audio_tracks.delete("0" * 32, account_id=acct_b, identifier=uid),
    ):
        expect_sdk_error(cloudflare.NotFoundError, call, 404)
    # Through account a's path with b's credentials: refused before anything is read.
    r = server.request("GET", audio_path(server, uid, "a"), auth="b")
    assert r.status_code in (403, 404), r.text


@pytest.mark.parametrize("body, field", [
    ({"url": "https://example.com/a.m4a"}, "label"),
    ({"label": 7, "url": "https://example.com/a.m4a"}, "label"),
    ({"label": "  ", "url": "https://example.com/a.m4a"}, "label"),
    ({"label": "x" * 101, "url": "https://example.com/a.m4a"}, "label"),
    ({"label": "a\nb", "url": "https://example.com/a.m4a"}, "label"),
    ({"label": "x"}, "url"),
    ({"label": "x", "url": 5}, "url"),
    ({"label": "x", "url": "ftp://example.com/a.m4a"}, "url"),
    ({"label": "x", "url": "http://127.0.0.1:9/a.m4a"}, "url"),
    ({"label": "x", "url": "http://[::1]/a.m4a"}, "url"),
    ({"label": "x", "url": "http://169.254.169.254/latest"}, "url"),
])
def test_bad_copies_are_400_naming_the_field(server, ready_video, body, field):
    r = server.request("POST", audio_path(server, ready_video.uid, rest="/copy"), json=body)
    assert_error_envelope(r, 400)
    assert field in r.json()["errors"][0]["message"], r.text
    assert r.headers.get("x-should-retry") == "false"


def test_bad_edits_and_unknown_tracks(make_server, clip):
    srv = make_server()
    uid = srv.upload_ok(clip)["uid"]
    cf, acct = srv.client("a"), srv.acct("a")
    a = cf.stream.audio_tracks.copy(uid, account_id=acct, label="One",
                                    url="https://example.com/one.m4a")
    b = cf.stream.audio_tracks.copy(uid, account_id=acct, label="Two",
                                    url="https://example.com/two.m4a")
    # Labels are unique per video.
    expect_sdk_error(cloudflare.ConflictError,
                     lambda: cf.stream.audio_tracks.copy(uid, account_id=acct, label="One",
                                                         url="https://example.com/x.m4a"), 409)
    expect_sdk_error(cloudflare.ConflictError,
                     lambda: cf.stream.audio_tracks.edit(b.uid, account_id=acct,
                                                         identifier=uid, label="One"), 409)
    r = srv.request("PATCH", audio_path(srv, uid, rest=f"/{a.uid}"), json={"default": "yes"})
    assert_error_envelope(r, 400)
    assert "default" in r.json()["errors"][0]["message"]
    r = srv.request("PATCH", audio_path(srv, uid, rest=f"/{a.uid}"), data=b"{nope",
                    headers={"Content-Type": "application/json"})
    assert_error_envelope(r, 400)
    for bad in ("0" * 32, "not-a-track"):
        r = srv.request("PATCH", audio_path(srv, uid, rest=f"/{bad}"), json={"default": True})
        assert_error_envelope(r, (400, 404))
        r = srv.request("DELETE", audio_path(srv, uid, rest=f"/{bad}"))
        assert_error_envelope(r, (400, 404))
    r = srv.request("GET", audio_path(srv, "f" * 32))
    assert_error_envelope(r, 404)
    # Nothing changed by the refusals.
    tracks = cf.stream.audio_tracks.get(uid, account_id=acct)
    assert sorted((t.label, t.default) for t in tracks) == [("One", False), ("Two", False)]
