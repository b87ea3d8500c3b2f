"""Direct creator uploads: `stream.direct_upload.create` through the official SDK, then
one unauthenticated multipart POST to the `uploadURL`, as a creator's browser would."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import cloudflare
import requests

from helpers import HTTP_TIMEOUT_S, assert_error_envelope, expect_sdk_error


def _post(url: str, clip) -> requests.Response:
    with open(clip, "rb") as f:
        return requests.post(url, files={"file": ("creator.mp4", f)}, timeout=60)


def test_one_upload_through_a_one_time_url(server, clip):
    cf, acct = server.client("a"), server.acct("a")
    d = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60,
                                       require_signed_urls=True, upload_creator="creator-7",
                                       meta={"name": "from a creator"})
    assert d is not None and d.uid and d.upload_url
    assert d.upload_url.startswith(f"{server.url}/upload/")
    v = cf.stream.get(identifier=d.uid, account_id=acct)
    assert v.status.state == "pendingupload"
    assert v.require_signed_urls is True and v.creator == "creator-7"
    assert v.meta["name"] == "from a creator"
    assert v.upload_expiry is not None

    r = _post(d.upload_url, clip)  # no credentials at all
    assert r.status_code == 200, r.text
    video, _ = server.wait_for_state(d.uid)
    assert video.status.state == "ready"
    assert video.size == clip.stat().st_size

    again = _post(d.upload_url, clip)
    assert_error_envelope(again, 409)
    assert "used" in again.json()["errors"][0]["message"]


def test_expired_unknown_and_too_long_uploads_are_refused(server, clip):
    cf, acct = server.client("a"), server.acct("a")
    d = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60)
    # Let the URL's time run out (its expiry is at least two minutes away).
    with sqlite3.connect(server.data_dir / "usher.db", timeout=30) as db:
        db.execute("UPDATE direct_uploads SET expires = 0 WHERE uid = ?", (d.uid,))
    assert_error_envelope(_post(d.upload_url, clip), 410)
    assert cf.stream.get(identifier=d.uid, account_id=acct).status.state == "pendingupload"

    assert_error_envelope(_post(f"{server.url}/upload/not-a-real-secret", clip), 404)

    # A 4 s clip against a 2 s limit: uploaded, then refused by the pipeline.
    short = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=2)
    assert _post(short.upload_url, clip).status_code == 200
    video, _ = server.wait_for_state(short.uid)
    assert video.status.state == "error"
    assert video.status.error_reason_code == "ERR_DURATION_EXCEED_CONSTRAINT"


def test_a_failed_upload_does_not_use_the_url_up(server, clip):
    cf, acct = server.client("a"), server.acct("a")
    d = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60)
    bad = requests.post(d.upload_url, data=b"not multipart",
                        headers={"Content-Type": "text/plain"}, timeout=HTTP_TIMEOUT_S)
    assert bad.status_code == 415
    assert _post(d.upload_url, clip).status_code == 200


def test_direct_upload_settings_are_validated(server):
    cf, acct = server.client("a"), server.acct("a")
    too_far = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    for kwargs in ({"max_duration_seconds": 0}, {"max_duration_seconds": 60, "expiry": too_far},
                   {"max_duration_seconds": 60, "allowed_origins": ["https://nope/"]}):
        expect_sdk_error(cloudflare.BadRequestError,
                         lambda kw=kwargs: cf.stream.direct_upload.create(account_id=acct, **kw),
                         400)
    r = server.request("POST", f"/accounts/{acct}/stream/direct_upload", json={})
    assert_error_envelope(r, 400)
    assert "maxDurationSeconds" in r.json()["errors"][0]["message"]
