"""Storage usage (SPEC §7) through the official SDK's `stream.videos.storage_usage`.

Counted are the videos whose bytes Usher holds (queued, in progress, ready); minutes
are the sum of their known durations. Videos still waiting for their bytes
(`pendingupload`, `downloading`) and failed ones are not counted. Usher has no storage
quota: `totalStorageMinutesLimit` is null.
"""

from __future__ import annotations

import cloudflare
import pytest

from helpers import assert_error_envelope, expect_sdk_error


def usage(srv, account: str = "a", **kw):
    u = srv.client(account).stream.videos.storage_usage(account_id=srv.acct(account), **kw)
    assert u is not None
    return u


def test_an_empty_account_uses_nothing(make_server):
    srv = make_server(accounts=("a",))
    u = usage(srv)
    assert (u.total_storage_minutes, u.total_storage_minutes_limit, u.video_count,
            u.creator) == (0, None, 0, None)
    raw = srv.request("GET", f"/accounts/{srv.acct('a')}/stream/storage-usage").json()
    assert raw["result"] == {"creator": None, "totalStorageMinutes": 0.0,
                             "totalStorageMinutesLimit": None, "videoCount": 0}


def test_usage_counts_stored_minutes_per_account_and_creator(make_server, clip):
    srv = make_server()
    cf, acct = srv.client("a"), srv.acct("a")
    first = srv.upload_ok(clip, name="first.mp4")
    second = srv.upload_ok(clip, name="second.mp4")
    broken = srv.upload_ok(data=b"not a video at all", name="broken.mp4")
    durations = []
    for v in (first, second):
        done, _ = srv.wait_for_state(v["uid"])
        assert done.status.state == "ready", (done.status, srv.log_tail())
        durations.append(done.duration)
    assert srv.wait_for_state(broken["uid"])[0].status.state == "error"
    cf.stream.edit(identifier=first["uid"], account_id=acct, creator="alice")
    # Waiting for bytes: not stored, not counted.
    cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60,
                                   upload_creator="alice")
    # Account b's video counts for b only.
    other = srv.upload_ok(clip, account="b")
    assert srv.wait_for_state(other["uid"], account="b")[0].status.state == "ready"

    u = usage(srv)
    assert u.video_count == 2
    assert u.total_storage_minutes == pytest.approx(sum(durations) / 60, abs=1e-9)
    assert 7.5 / 60 < u.total_storage_minutes < 8.5 / 60  # two 4 s clips
    assert u.total_storage_minutes_limit is None and u.creator is None

    alice = usage(srv, creator="alice")
    assert (alice.creator, alice.video_count) == ("alice", 1)
    assert alice.total_storage_minutes == pytest.approx(durations[0] / 60, abs=1e-9)
    nobody = usage(srv, creator="nobody")
    assert (nobody.creator, nobody.video_count, nobody.total_storage_minutes) == (
        "nobody", 0, 0)

    b = usage(srv, "b")
    assert b.video_count == 1 and b.total_storage_minutes > 0
    # B's credentials never read A's usage.
    r = srv.request("GET", f"/accounts/{acct}/stream/storage-usage", auth="b")
    assert_error_envelope(r, (403, 404))

    # A deleted video no longer counts.
    cf.stream.delete(identifier=second["uid"], account_id=acct)
    after = usage(srv)
    assert after.video_count == 1
    assert after.total_storage_minutes == pytest.approx(durations[0] / 60, abs=1e-9)


def test_a_creator_longer_than_a_creator_can_be_is_refused(server):
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: usage(server, creator="x" * 65), 400)
    assert e.response.json()["errors"][0]["message"].startswith("creator: ")
    assert usage(server, creator="x" * 64).video_count == 0
