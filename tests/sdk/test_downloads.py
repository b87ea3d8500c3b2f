"""Downloads API (`stream.downloads.create/get/delete`) through the official SDK, and the
edge serving the MP4 only while downloads are enabled, and to a token only with
`downloadable`."""

from __future__ import annotations

import cloudflare
import requests

from helpers import HTTP_TIMEOUT_S, expect_sdk_error


def _edge(url: str) -> requests.Response:
    return requests.get(url, timeout=HTTP_TIMEOUT_S)


def test_downloads_are_enabled_served_and_disabled(server, clip):
    cf, acct = server.client("a"), server.acct("a")
    uid = server.upload_ok(clip, name="downloads.mp4")["uid"]
    video, _ = server.wait_for_state(uid)
    assert video.status.state == "ready"
    mp4 = f"{server.url}/{uid}/downloads/default.mp4"

    # Off until asked for: the API says nothing is there, the edge has no such file.
    assert cf.stream.downloads.get(identifier=uid, account_id=acct).default is None
    assert _edge(mp4).status_code == 404

    created = cf.stream.downloads.create(identifier=uid, account_id=acct)
    assert created.default is not None
    assert created.default.status == "ready"
    assert created.default.percent_complete == 100
    assert created.default.url == mp4
    got = cf.stream.downloads.get(identifier=uid, account_id=acct)
    assert got.default is not None and got.default.url == mp4
    r = _edge(mp4 + "?filename=talk.mp4")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert r.content[4:8] == b"ftyp"
    assert r.headers["content-disposition"] == 'attachment; filename="talk.mp4"'

    # Private: a token needs `downloadable`, manifests do not.
    cf.stream.edit(identifier=uid, account_id=acct, require_signed_urls=True)
    r = _edge(mp4)
    assert r.status_code == 401
    assert r.text.strip() == "this video requires a signed URL"
    plain = cf.stream.token.create(identifier=uid, account_id=acct).token
    r = _edge(f"{server.url}/{plain}/downloads/default.mp4")
    assert r.status_code == 403
    assert r.text.strip() == "downloads are not allowed for this token"
    assert _edge(f"{server.url}/{plain}/manifest/video.m3u8").status_code == 200
    allowed = cf.stream.token.create(identifier=uid, account_id=acct, downloadable=True).token
    r = _edge(f"{server.url}/{allowed}/downloads/default.mp4")
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("private")

    # Disabled again: gone for everyone, at once.
    assert cf.stream.downloads.delete(identifier=uid, account_id=acct) == "ok"
    assert cf.stream.downloads.get(identifier=uid, account_id=acct).default is None
    assert _edge(f"{server.url}/{allowed}/downloads/default.mp4").status_code == 404


def test_downloads_belong_to_the_video_s_account(server, video_b):
    cf, acct = server.client("a"), server.acct("a")
    for call in (cf.stream.downloads.create, cf.stream.downloads.get,
                 cf.stream.downloads.delete):
        expect_sdk_error(cloudflare.NotFoundError,
                         lambda c=call: c(identifier=video_b["uid"], account_id=acct), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.downloads.create(identifier="0" * 32, account_id=acct),
                     404)
