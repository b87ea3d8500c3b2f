"""Watermark profiles (SPEC §7) through the official SDK's `stream.watermarks.*`, and
`watermark` on every kind of upload.

`watermarks.create(url=…)` sends JSON (the SDK has no file upload for it); curl users
send multipart with a `file` part, which these tests send with `requests`. Images are
made by ffmpeg; the URL tests fetch them from origins on loopback, which only a server
started with `--copy-allow-private` may reach.
"""

from __future__ import annotations

import base64
import subprocess
import zlib
from pathlib import Path

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

# Cloudflare's limit on the image, which Usher keeps (usher_core::watermark).
MAX_IMAGE_BYTES = 2 * 1024 * 1024
DEFAULTS = {"opacity": 1.0, "padding": 0.05, "scale": 0.15, "position": "upperRight"}


def _image(out: Path, size: str, source: str = "testsrc2") -> bytes:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"{source}=s={size}", "-frames:v", "1", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out.read_bytes()


@pytest.fixture(scope="module")
def png(tmp_path_factory) -> bytes:
    """A 64x32 PNG."""
    return _image(tmp_path_factory.mktemp("wm") / "logo.png", "64x32")


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory) -> bytes:
    """A 40x24 JPEG."""
    return _image(tmp_path_factory.mktemp("wm") / "logo.jpg", "40x24")


def padded_png(png: bytes, total: int) -> bytes:
    """`png` grown to exactly `total` bytes by a private ancillary chunk before IEND:
    still a valid PNG (decoders skip such chunks)."""
    iend = png.rindex(b"IEND") - 4
    fill = total - len(png) - 12
    assert fill >= 0
    data = b"\0" * fill
    chunk = len(data).to_bytes(4, "big") + b"usHr" + data
    chunk += zlib.crc32(b"usHr" + data).to_bytes(4, "big")
    out = png[:iend] + chunk + png[iend:]
    assert len(out) == total
    return out


def post_file(srv, data: bytes, *, account: str = "a", filename: str = "logo.png",
              **fields: str) -> requests.Response:
    return requests.post(f"{srv.api}/accounts/{srv.acct(account)}/stream/watermarks",
                         files={"file": (filename, data)}, data=fields,
                         headers=srv.bearer(account), timeout=60)


def create_file(srv, data: bytes, **kw) -> dict:
    return assert_ok_envelope(post_file(srv, data, **kw))


def wm_path(srv, account: str, uid: str) -> Path:
    return srv.data_dir / "media" / "watermarks" / srv.acct(account) / uid


def video_copy(srv, video_uid: str) -> Path:
    return srv.data_dir / "media" / "uploads" / video_uid / "watermark"


def uids(cf, acct: str) -> list[str]:
    return [w.uid for w in cf.stream.watermarks.list(account_id=acct)]


def serving(body: bytes, **headers: str):
    return lambda path: (200, {"Content-Type": "image/png", **headers}, body)


# --- profiles --------------------------------------------------------------------------------


def test_a_file_profile_round_trips_through_get_list_and_delete(server, png):
    cf, acct = server.client("a"), server.acct("a")
    w = create_file(server, png, name="Corner logo", opacity="0.5", padding="0.1",
                    scale="0.25", position="lowerLeft")
    assert HEX32.match(w["uid"]), w
    assert RFC3339_MICROS.match(w["created"]), w
    assert w == {"uid": w["uid"], "created": w["created"], "size": len(png), "width": 64,
                 "height": 32, "downloadedFrom": None, "name": "Corner logo",
                 "opacity": 0.5, "padding": 0.1, "scale": 0.25, "position": "lowerLeft"}
    assert wm_path(server, "a", w["uid"]).read_bytes() == png

    got = cf.stream.watermarks.get(w["uid"], account_id=acct)
    assert got is not None
    assert (got.uid, got.size, got.width, got.height, got.name) == (
        w["uid"], len(png), 64, 32, "Corner logo")
    assert (got.opacity, got.padding, got.scale, got.position) == (0.5, 0.1, 0.25, "lowerLeft")
    assert got.downloaded_from is None and got.created is not None
    assert w["uid"] in uids(cf, acct)

    assert cf.stream.watermarks.delete(w["uid"], account_id=acct) == "ok"
    assert w["uid"] not in uids(cf, acct)
    assert not wm_path(server, "a", w["uid"]).exists()
    for call in (lambda: cf.stream.watermarks.get(w["uid"], account_id=acct),
                 lambda: cf.stream.watermarks.delete(w["uid"], account_id=acct)):
        expect_sdk_error(cloudflare.NotFoundError, call, 404)


def test_defaults_are_cloudflares_and_jpeg_is_accepted(server, jpeg):
    w = create_file(server, jpeg, filename="logo.jpg")
    assert {k: w[k] for k in DEFAULTS} == DEFAULTS
    assert (w["name"], w["width"], w["height"], w["size"]) == ("", 40, 24, len(jpeg))


def test_the_size_limit_holds_at_the_byte(server, png):
    cf, acct = server.client("a"), server.acct("a")
    before = uids(cf, acct)
    at_limit = create_file(server, padded_png(png, MAX_IMAGE_BYTES))
    assert at_limit["size"] == MAX_IMAGE_BYTES and at_limit["width"] == 64
    over = post_file(server, padded_png(png, MAX_IMAGE_BYTES + 1))
    body = assert_error_envelope(over, 413)
    assert body["errors"][0]["message"] == f"file: larger than the limit of {MAX_IMAGE_BYTES} bytes"
    # A 20 MB "PNG": refused from its Content-Length, and streamed without one.
    huge = png[:100] + b"\0" * 20_000_000
    assert_error_envelope(post_file(server, huge), 413)

    def chunked():
        yield (b"--wmboundary\r\nContent-Disposition: form-data; name=\"file\"; "
               b"filename=\"huge.png\"\r\nContent-Type: image/png\r\n\r\n")
        for i in range(0, len(huge), 1 << 20):
            yield huge[i:i + (1 << 20)]
        yield b"\r\n--wmboundary--\r\n"

    r = requests.post(f"{server.api}/accounts/{acct}/stream/watermarks", data=chunked(),
                      headers={**server.bearer("a"),
                               "Content-Type": "multipart/form-data; boundary=wmboundary"},
                      timeout=60)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error_envelope(r, 413)
    assert sorted(uids(cf, acct)) == sorted(before + [at_limit["uid"]])


@pytest.mark.parametrize("data, message", [
    (b"", "file: the file is empty"),
    (b"just some text, not an image", "file: not a PNG or JPEG image"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "file: not a PNG or JPEG image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "file: not a PNG or JPEG image"),
])
def test_non_images_are_refused(server, data, message):
    before = uids(server.client("a"), server.acct("a"))
    body = assert_error_envelope(post_file(server, data), 400)
    assert body["errors"][0]["message"] == message
    assert uids(server.client("a"), server.acct("a")) == before


def test_damaged_images_are_refused(server, png, jpeg):
    cf, acct = server.client("a"), server.acct("a")
    before = uids(cf, acct)
    flipped = bytearray(png)
    flipped[20] ^= 1  # inside IHDR: its CRC no longer matches
    sof = jpeg.index(b"\xff\xc0")
    arithmetic = bytearray(jpeg)
    arithmetic[sof + 1] = 0xc9
    for data, start in ((png[:len(png) // 2], "file: the PNG is malformed"),
                        (bytes(flipped), "file: the PNG is malformed"),
                        (jpeg[:sof + 4], "file: the JPEG is malformed"),
                        (bytes(arithmetic), "file: the JPEG uses a coding")):
        body = assert_error_envelope(post_file(server, data), 400)
        assert body["errors"][0]["message"].startswith(start), body
    assert uids(cf, acct) == before
    # Positive control: the undamaged files.
    assert create_file(server, png)["width"] == 64
    assert create_file(server, jpeg)["width"] == 40


def test_bad_settings_name_the_field(server, png):
    cf, acct = server.client("a"), server.acct("a")
    before = uids(cf, acct)
    for fields, field in (({"opacity": "1.5"}, "opacity"), ({"padding": "-0.1"}, "padding"),
                          ({"scale": "large"}, "scale"), ({"position": "top"}, "position"),
                          ({"name": "x" * 257}, "name")):
        body = assert_error_envelope(post_file(server, png, **fields), 400)
        assert body["errors"][0]["message"].startswith(f"{field}: "), (fields, body)
    # The SDK validates nothing: wrong JSON types reach the server, which names them.
    for kw, field in (({"opacity": "high"}, "opacity"), ({"scale": True}, "scale"),
                      ({"position": 3}, "position"), ({"name": ["x"]}, "name")):
        e = expect_sdk_error(cloudflare.BadRequestError, lambda: cf.stream.watermarks.create(
            account_id=acct, url="https://example.invalid/logo.png", **kw), 400)
        assert e.response.json()["errors"][0]["message"].startswith(f"{field}: "), kw
    # No image at all, or two.
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: cf.stream.watermarks.create(account_id=acct, name="x"), 400)
    assert "file" in e.response.json()["errors"][0]["message"]
    both = post_file(server, png, url="https://example.invalid/logo.png")
    assert_error_envelope(both, 400)
    assert uids(cf, acct) == before
    # Positive control: the same settings in range.
    w = create_file(server, png, opacity="0", padding="1", scale="1.0", position="center")
    assert (w["opacity"], w["padding"], w["scale"], w["position"]) == (0.0, 1.0, 1.0, "center")


def test_profiles_are_invisible_to_other_accounts(server, png):
    a, b = server.client("a"), server.client("b")
    mine = create_file(server, png, name="a's")
    theirs = create_file(server, png, name="b's", account="b")
    assert mine["uid"] not in uids(b, server.acct("b"))
    assert theirs["uid"] not in uids(a, server.acct("a"))
    for call in (lambda: b.stream.watermarks.get(mine["uid"], account_id=server.acct("b")),
                 lambda: b.stream.watermarks.delete(mine["uid"], account_id=server.acct("b"))):
        expect_sdk_error(cloudflare.NotFoundError, call, 404)
    # B's credentials on A's account path: refused before anything is looked up.
    r = requests.get(f"{server.api}/accounts/{server.acct('a')}/stream/watermarks/{mine['uid']}",
                     headers=server.bearer("b"), timeout=30)
    assert_error_envelope(r, (403, 404))
    assert a.stream.watermarks.get(mine["uid"], account_id=server.acct("a")).name == "a's"
    assert wm_path(server, "a", mine["uid"]).exists()


# --- from a URL --------------------------------------------------------------------------------


def test_the_sdk_creates_a_profile_from_a_url(make_server, origins, png):
    srv = make_server("--copy-allow-private")
    origin = origins("127.0.0.1", serving(png))
    cf, acct = srv.client("a"), srv.acct("a")
    url = origin.url("/brand/logo.png")
    w = cf.stream.watermarks.create(account_id=acct, url=url, name="from a URL", opacity=0.5)
    assert w is not None
    assert (w.downloaded_from, w.name, w.opacity, w.size, w.width, w.height) == (
        url, "from a URL", 0.5, len(png), 64, 32)
    assert (w.padding, w.scale, w.position) == (0.05, 0.15, "upperRight")
    assert origin.requests == ["/brand/logo.png"]
    assert wm_path(srv, "a", w.uid).read_bytes() == png
    assert cf.stream.watermarks.get(w.uid, account_id=acct).downloaded_from == url
    assert uids(cf, acct) == [w.uid]
    assert cf.stream.watermarks.delete(w.uid, account_id=acct) == "ok"
    assert uids(cf, acct) == []


def test_loopback_urls_are_refused_without_the_flag(server, origins, png):
    origin = origins("127.0.0.1", serving(png))
    cf, acct = server.client("a"), server.acct("a")
    before = uids(cf, acct)
    for url in (origin.url("/logo.png"), origin.url("/logo.png", host="localhost"),
                f"http://[::1]:{origin.port}/logo.png", "http://169.254.169.254/latest",
                "ftp://example.com/logo.png", "not a url"):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda: cf.stream.watermarks.create(account_id=acct, url=url), 400)
        assert e.response.json()["errors"][0]["message"].startswith("url: "), url
    assert origin.requests == [], "a refused address was contacted"
    assert uids(cf, acct) == before


def test_what_a_url_serves_is_checked_like_a_file(make_server, origins, png):
    srv = make_server("--copy-allow-private")
    cf, acct = srv.client("a"), srv.acct("a")
    huge = png[:100] + b"\0" * 20_000_000
    cases = {
        "/missing.png": ((404, {}, b"no"), "url: the origin answered HTTP 404"),
        "/text.png": ((200, {}, b"hello"), "url: not a PNG or JPEG image"),
        "/empty.png": ((200, {}, b""), "url: the image is empty"),
        "/huge.png": ((200, {}, huge),
                      f"url: the image is larger than the limit of {MAX_IMAGE_BYTES} bytes"),
        # No Content-Length: the limit holds while the body streams in.
        "/huge-streamed.png": ((200, {"X-No-Length": "1"}, huge),
                               f"url: the image is larger than the limit of {MAX_IMAGE_BYTES} bytes"),
    }
    origin = origins("127.0.0.1", lambda path: cases[path][0] if path in cases
                     else (200, {}, png))
    for path, (_, message) in cases.items():
        e = expect_sdk_error(cloudflare.BadRequestError, lambda: cf.stream.watermarks.create(
            account_id=acct, url=origin.url(path)), 400)
        assert e.response.json()["errors"][0]["message"] == message, path
    assert uids(cf, acct) == []
    assert srv.media_files() == [], "a refused image was stored"
    # Positive control on the same origin.
    w = cf.stream.watermarks.create(account_id=acct, url=origin.url("/fine.png"))
    assert w is not None and w.width == 64


# --- watermark on uploads ------------------------------------------------------------------------


def test_a_basic_upload_carries_the_profile_and_its_own_copy_of_the_image(server, png, clip):
    cf, acct = server.client("a"), server.acct("a")
    w = create_file(server, png, name="burn me", opacity="0.75", position="center")
    r = requests.post(f"{server.api}/accounts/{acct}/stream", headers=server.bearer("a"),
                      files={"file": ("with-logo.mp4", clip.read_bytes())},
                      data={"watermark": w["uid"]}, timeout=60)
    video = assert_ok_envelope(r)
    assert video["watermark"] == w
    assert video["clippedFrom"] is None
    assert video_copy(server, video["uid"]).read_bytes() == png
    got = cf.stream.get(identifier=video["uid"], account_id=acct)
    assert got.watermark is not None
    assert (got.watermark.uid, got.watermark.opacity, got.watermark.position) == (
        w["uid"], 0.75, "center")

    # Deleting the profile leaves the video's snapshot and image alone.
    assert cf.stream.watermarks.delete(w["uid"], account_id=acct) == "ok"
    assert cf.stream.get(identifier=video["uid"], account_id=acct).watermark.uid == w["uid"]
    assert video_copy(server, video["uid"]).read_bytes() == png
    # The video's processing is not held up by it.
    done, _ = server.wait_for_state(video["uid"])
    assert done.status.state == "ready", (done.status, server.log_tail())
    assert done.watermark.uid == w["uid"]
    # Deleting the video deletes its copy.
    cf.stream.delete(identifier=video["uid"], account_id=acct)
    assert not video_copy(server, video["uid"]).exists()


def test_the_field_may_come_before_the_file(server, png, clip):
    w = create_file(server, png)
    boundary = "wmorder"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"watermark\"\r\n\r\n"
            f"{w['uid']}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"first.mp4\"\r\n\r\n").encode() + clip.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    r = requests.post(f"{server.api}/accounts/{server.acct('a')}/stream", data=body,
                      headers={**server.bearer("a"),
                               "Content-Type": f"multipart/form-data; boundary={boundary}"},
                      timeout=60)
    assert assert_ok_envelope(r)["watermark"]["uid"] == w["uid"]


def test_tus_copy_and_direct_uploads_take_a_watermark(server, png):
    cf, acct = server.client("a"), server.acct("a")
    w = create_file(server, png, name="everywhere")

    meta = f"name {base64.b64encode(b'tus').decode()},watermark {base64.b64encode(w['uid'].encode()).decode()}"
    raw = cf.stream.with_raw_response.create(account_id=acct, tus_resumable="1.0.0",
                                             upload_length=1000, upload_metadata=meta)
    tus_uid = raw.headers["stream-media-id"]
    v = cf.stream.get(identifier=tus_uid, account_id=acct)
    assert v.status.state == "pendingupload" and v.watermark.uid == w["uid"]
    assert video_copy(server, tus_uid).read_bytes() == png

    copied = cf.stream.copy.create(account_id=acct, url="https://example.invalid/v.mp4",
                                   watermark={"uid": w["uid"]})
    assert copied.watermark is not None and copied.watermark.uid == w["uid"]
    assert copied.watermark.name == "everywhere"
    assert video_copy(server, copied.uid).read_bytes() == png

    d = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60,
                                       watermark={"uid": w["uid"]})
    assert d.watermark is not None and d.watermark.uid == w["uid"]
    assert cf.stream.get(identifier=d.uid, account_id=acct).watermark.uid == w["uid"]
    assert video_copy(server, d.uid).read_bytes() == png
    # Without one, none.
    plain = cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60)
    assert plain.watermark is None
    assert cf.stream.get(identifier=plain.uid, account_id=acct).watermark is None
    for uid in (tus_uid, copied.uid, d.uid, plain.uid):
        cf.stream.delete(identifier=uid, account_id=acct)


def test_an_unknown_or_foreign_watermark_is_a_400_naming_the_field(server, png, clip):
    cf, acct = server.client("a"), server.acct("a")
    foreign = create_file(server, png, account="b")["uid"]
    before = server.video_count("a")
    media_before = server.media_files()
    for bad in (foreign, "0" * 32, "not-a-uid"):
        r = requests.post(f"{server.api}/accounts/{acct}/stream", headers=server.bearer("a"),
                          files={"file": ("x.mp4", clip.read_bytes())},
                          data={"watermark": bad}, timeout=60)
        body = assert_error_envelope(r, 400)
        assert body["errors"][0]["message"] == "watermark: no such watermark profile"

        meta = f"watermark {base64.b64encode(bad.encode()).decode()}"
        e = expect_sdk_error(cloudflare.BadRequestError, lambda: cf.stream.create(
            account_id=acct, tus_resumable="1.0.0", upload_length=10, upload_metadata=meta), 400)
        assert e.response.json()["errors"][0]["message"] == \
            "Upload-Metadata: watermark: no such watermark profile"

        for call in (lambda: cf.stream.copy.create(account_id=acct, url="https://example.invalid/v.mp4",
                                                   watermark={"uid": bad}),
                     lambda: cf.stream.direct_upload.create(account_id=acct, max_duration_seconds=60,
                                                            watermark={"uid": bad})):
            e = expect_sdk_error(cloudflare.BadRequestError, call, 400)
            assert e.response.json()["errors"][0]["message"] == \
                "watermark.uid: no such watermark profile"
    # Wrong shapes.
    for wm, start in (("just-a-string", "watermark: "), ({}, "watermark.uid: required"),
                      ({"uid": 5}, "watermark.uid: ")):
        e = expect_sdk_error(cloudflare.BadRequestError, lambda: cf.stream.direct_upload.create(
            account_id=acct, max_duration_seconds=60, watermark=wm), 400)
        assert e.response.json()["errors"][0]["message"].startswith(start), wm
    assert server.video_count("a") == before
    assert server.media_files() == media_before, "a refused upload left files behind"
