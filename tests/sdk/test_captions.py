"""Captions (`stream.captions.get`, `stream.captions.language.update/get/delete/create`,
`stream.captions.language.vtt.get`) through the official SDK, curl's file part, SRT
converted to WebVTT, isolation between accounts by every path, and bad input refused
with the line or field named and nothing stored.

The SDK sends `update(file=TEXT)` as a multipart field `file` without a filename whose
value is the caption text; curl's `-F file=@subs.vtt` sends a file part. Both work.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cloudflare
import pytest
import requests

from helpers import HTTP_TIMEOUT_S, assert_error_envelope, expect_sdk_error

VTT_EN = (
    "WEBVTT\n"
    "\n"
    "1\n"
    "00:00:00.500 --> 00:00:01.500 align:start\n"
    "Hello from the <b>captions</b> test\n"
    "\n"
    "00:01.600 --> 00:03.000\n"
    "Second cue\n"
)
VTT_EN_2 = "WEBVTT\n\n00:00.000 --> 00:02.000\nReplaced\n"
SRT_PT = (
    "1\r\n00:00:00,500 --> 00:00:01,500\r\nOlá <i>mundo</i> & amigos\r\n\r\n"
    "2\r\n00:00:01,600 --> 00:00:03,000\r\nSegunda\r\nlinha\r\n"
)
SRT_PT_AS_VTT = (
    "WEBVTT\n\n1\n00:00:00.500 --> 00:00:01.500\nOlá <i>mundo</i> &amp; amigos\n\n"
    "2\n00:00:01.600 --> 00:00:03.000\nSegunda\nlinha\n"
)
# crates/usher-api/src/routes/captions.rs: MAX_CAPTION_BYTES.
MAX_CAPTION_BYTES = 4 * 1024 * 1024
# crates/usher-api/src/routes/captions.rs: MAX_CAPTIONS_PER_VIDEO.
MAX_CAPTIONS_PER_VIDEO = 100


@pytest.fixture(scope="module")
def video(server, clip) -> str:
    """A ready video of account a for these tests alone (captions change its masters)."""
    uid = server.upload_ok(clip, name="captions.mp4")["uid"]
    v, _ = server.wait_for_state(uid)
    assert v.status.state == "ready", server.log_tail()
    return uid


def _path(server, uid: str, suffix: str = "", account: str = "a") -> str:
    return f"/accounts/{server.acct(account)}/stream/{uid}/captions{suffix}"


def _put_raw(server, uid: str, lang: str, files=None, data=None, headers=None,
             account: str = "a", **kw) -> requests.Response:
    return server.request("PUT", _path(server, uid, f"/{lang}", account), auth=account,
                          files=files, data=data, headers=headers, **kw)


def _languages(cf, acct: str, uid: str) -> list[tuple[str, str]]:
    return [(c.language, c.label) for c in cf.stream.captions.get(uid, account_id=acct)]


def test_captions_are_added_read_replaced_and_deleted_with_the_sdk(server, video):
    cf, acct = server.client("a"), server.acct("a")
    lang = cf.stream.captions.language
    assert _languages(cf, acct, video) == []

    added = lang.update("en", account_id=acct, identifier=video, file=VTT_EN)
    assert added is not None, "update returned None (success:false with HTTP 200?)"
    assert (added.language, added.label, added.generated, added.status) == (
        "en", "English", False, "ready")
    got = lang.get("en", account_id=acct, identifier=video)
    assert got is not None and got.model_dump() == added.model_dump()
    assert lang.vtt.get("en", account_id=acct, identifier=video) == VTT_EN

    # SRT is converted; the tag comes back in canonical case with its own label.
    pt = lang.update("pt-br", account_id=acct, identifier=video, file=SRT_PT)
    assert (pt.language, pt.label, pt.generated, pt.status) == (
        "pt-BR", "Português (BR)", False, "ready")
    assert lang.vtt.get("pt-BR", account_id=acct, identifier=video) == SRT_PT_AS_VTT
    assert lang.vtt.get("PT-br", account_id=acct, identifier=video) == SRT_PT_AS_VTT
    assert _languages(cf, acct, video) == [("en", "English"), ("pt-BR", "Português (BR)")]

    # A second PUT replaces the file and keeps the caption's place.
    again = lang.update("en", account_id=acct, identifier=video, file=VTT_EN_2)
    assert again.language == "en"
    assert lang.vtt.get("en", account_id=acct, identifier=video) == VTT_EN_2
    assert _languages(cf, acct, video) == [("en", "English"), ("pt-BR", "Português (BR)")]

    assert lang.delete("en", account_id=acct, identifier=video) == ""
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: lang.get("en", account_id=acct, identifier=video), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: lang.vtt.get("en", account_id=acct, identifier=video), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: lang.delete("en", account_id=acct, identifier=video), 404)
    assert _languages(cf, acct, video) == [("pt-BR", "Português (BR)")]
    assert lang.delete("pt-BR", account_id=acct, identifier=video) == ""
    assert _languages(cf, acct, video) == []


def test_a_caption_is_published_in_the_manifests_at_once(server, video):
    cf, acct = server.client("a"), server.acct("a")
    lang = cf.stream.captions.language
    master = f"{server.url}/{video}/manifest/video.m3u8"

    def subtitles() -> list[str]:
        r = requests.get(master, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
        return [line for line in r.text.splitlines() if "TYPE=SUBTITLES" in line]

    assert subtitles() == []
    lang.update("en-us", account_id=acct, identifier=video, file=SRT_PT)
    lines = subtitles()
    assert len(lines) == 1, lines
    assert 'NAME="English (US)"' in lines[0] and 'LANGUAGE="en-US"' in lines[0], lines
    r = requests.get(f"{server.url}/{video}/manifest/cc-en-US/captions.vtt",
                     timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200 and r.text == SRT_PT_AS_VTT, (r.status_code, r.text)
    mpd = requests.get(f"{server.url}/{video}/manifest/video.mpd", timeout=HTTP_TIMEOUT_S)
    assert mpd.status_code == 200 and 'lang="en-US"' in mpd.text, mpd.text

    assert lang.delete("en-US", account_id=acct, identifier=video) == ""
    assert subtitles() == [], "a deleted caption leaves the masters at once"


def test_generating_captions_is_refused_clearly(server, video):
    cf, acct = server.client("a"), server.acct("a")
    e = expect_sdk_error(
        cloudflare.BadRequestError,
        lambda: cf.stream.captions.language.create("en", account_id=acct, identifier=video),
        400, code=10010)
    message = e.response.json()["errors"][0]["message"]
    assert "speech-to-text" in message, message
    assert _languages(cf, acct, video) == [], "nothing was created"
    # The usual checks come first: a bad tag or another account's video say so.
    expect_sdk_error(cloudflare.BadRequestError,
                     lambda: cf.stream.captions.language.create(
                         "xx", account_id=acct, identifier=video), 400, code=10005)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.captions.language.create(
                         "en", account_id=acct, identifier="0" * 32), 404)


def test_curl_uploads_a_file_part_and_reads_the_vtt(server, video, tmp_path: Path):
    acct, token = server.acct("a"), server.accounts["a"].api_token
    subs = tmp_path / "subs.vtt"
    # Windows line endings and a byte-order mark, as some editors save files.
    subs.write_bytes(b"\xef\xbb\xbf" + VTT_EN.replace("\n", "\r\n").encode())
    url = f"{server.api}{_path(server, video, '/fr-ca')}"
    out = subprocess.run(
        ["curl", "-sS", "-X", "PUT", "-H", f"Authorization: Bearer {token}",
         "-F", f"file=@{subs}", "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=HTTP_TIMEOUT_S, check=True).stdout
    body, status = out.rsplit("\n", 1)
    assert status == "200", out
    assert json.loads(body)["result"]["label"] == "Français (CA)", body

    r = server.request("GET", _path(server, video, "/fr-CA/vtt"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/vtt"), r.headers
    assert r.content.decode() == VTT_EN, "stored normalised: no BOM, LF endings"

    # An SRT file part, named as such.
    r = _put_raw(server, video, "ja",
                 files={"file": ("subs.srt", SRT_PT.encode(), "application/x-subrip")})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"language": "ja", "label": "日本語", "generated": False,
                                  "status": "ready"}
    r = server.request("GET", _path(server, video, "/ja/vtt"))
    assert r.text == SRT_PT_AS_VTT

    cf = server.client("a")
    for lang in ("fr-CA", "ja"):
        assert cf.stream.captions.language.delete(lang, account_id=acct, identifier=video) == ""


def test_another_account_reaches_no_caption_by_any_path(server, video, video_b):
    a, b = server.client("a"), server.client("b")
    acct_a, acct_b = server.acct("a"), server.acct("b")
    a.stream.captions.language.update("de", account_id=acct_a, identifier=video, file=VTT_EN)
    b.stream.captions.language.update("de", account_id=acct_b, identifier=video_b["uid"],
                                      file=VTT_EN_2)

    # b, with its own credentials and account, naming a's video: nothing exists.
    calls = {
        "captions.get": lambda: b.stream.captions.get(video, account_id=acct_b),
        "language.get": lambda: b.stream.captions.language.get(
            "de", account_id=acct_b, identifier=video),
        "vtt.get": lambda: b.stream.captions.language.vtt.get(
            "de", account_id=acct_b, identifier=video),
        "language.update": lambda: b.stream.captions.language.update(
            "de", account_id=acct_b, identifier=video, file=VTT_EN_2),
        "language.update (new)": lambda: b.stream.captions.language.update(
            "es", account_id=acct_b, identifier=video, file=VTT_EN_2),
        "language.delete": lambda: b.stream.captions.language.delete(
            "de", account_id=acct_b, identifier=video),
        "language.create": lambda: b.stream.captions.language.create(
            "de", account_id=acct_b, identifier=video),
    }
    for name, call in calls.items():
        e = expect_sdk_error(cloudflare.NotFoundError, call, 404)
        assert "VTT" not in e.response.text and "Hello" not in e.response.text, name

    # b's credentials on a's account id: refused before anything is looked up.
    for method, suffix in (("GET", ""), ("GET", "/de"), ("GET", "/de/vtt"),
                           ("DELETE", "/de"), ("POST", "/de/generate")):
        r = server.request(method, _path(server, video, suffix), auth="b")
        assert_error_envelope(r, 403, code=10000)
    r = _put_raw(server, video, "de", files={"file": ("x.vtt", VTT_EN_2.encode())},
                 account="a", headers=server.bearer("b"))
    assert_error_envelope(r, 403, code=10000)

    # Positive control: a's caption is as a left it, and b's own is b's.
    assert a.stream.captions.language.vtt.get(
        "de", account_id=acct_a, identifier=video) == VTT_EN
    assert [c.language for c in a.stream.captions.get(video, account_id=acct_a)] == ["de"]
    assert b.stream.captions.language.vtt.get(
        "de", account_id=acct_b, identifier=video_b["uid"]) == VTT_EN_2
    # And a cannot reach b's either.
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: a.stream.captions.language.vtt.get(
                         "de", account_id=acct_a, identifier=video_b["uid"]), 404)
    assert a.stream.captions.language.delete("de", account_id=acct_a, identifier=video) == ""


BROKEN = [
    # (file, the error message must contain)
    ("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nbackwards\n",
     "file: line 3: the cue ends (00:00:01.000) before it starts (00:00:02.000)"),
    ("WEBVTT\n\n1\n00:00:01,000 --> 00:00:02,000\nSRT times in a VTT file\n",
     "file: line 4: bad start time"),
    ("WEBVTT\n00:00:01.000 --> 00:00:02.000\nno blank line\n", "file: line 2: a blank line"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\none\n00:03.000 --> 00:04.000\ntwo\n",
     "file: line 5: cue text must not contain"),
    ("WEBVTT\n\nNOTE only a comment\n", "file: line 3: the file has no cues"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:0x,000\nbad\n",
     "file: line 6: bad end time"),
    ("Just some text.\n", "file: line 1: the file is neither WebVTT"),
    ("12345", "file: line 2: expected a timing line"),
]


@pytest.mark.parametrize("text,want", BROKEN,
                         ids=[f"{i}-{w.split(': ')[1]}" for i, (_, w) in enumerate(BROKEN)])
def test_a_broken_file_is_refused_naming_the_line(server, video, text, want):
    cf, acct = server.client("a"), server.acct("a")
    e = expect_sdk_error(cloudflare.BadRequestError,
                         lambda: cf.stream.captions.language.update(
                             "it", account_id=acct, identifier=video, file=text), 400, code=10005)
    message = e.response.json()["errors"][0]["message"]
    assert message.startswith(want), message
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.captions.language.get(
                         "it", account_id=acct, identifier=video), 404)


def test_bad_language_tags_are_refused_naming_them(server, video):
    cf, acct = server.client("a"), server.acct("a")
    for tag, want in (("xx", 'language: "xx": unknown language'),
                      ("fra", 'language: "fra": unknown language'),
                      ("en_US", 'language: "en_US" is not a BCP 47 language tag'),
                      ("en-", 'language: "en-" is not a BCP 47 language tag'),
                      ("en-US-US", 'language: "en-US-US" is not a BCP 47 language tag'),
                      ("x-klingon", 'language: "x-klingon"')):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda t=tag: cf.stream.captions.language.update(
                                 t, account_id=acct, identifier=video, file=VTT_EN),
                             400, code=10005)
        message = e.response.json()["errors"][0]["message"]
        assert message.startswith(want), (tag, message)
        expect_sdk_error(cloudflare.BadRequestError,
                         lambda t=tag: cf.stream.captions.language.get(
                             t, account_id=acct, identifier=video), 400)
    assert _languages(cf, acct, video) == [], "nothing was stored"
    # Positive control: a well-formed tag of a known language in any case.
    c = cf.stream.captions.language.update("ZH-hant-tw", account_id=acct, identifier=video,
                                           file=VTT_EN)
    assert (c.language, c.label) == ("zh-Hant-TW", "繁體中文 (TW)")
    assert cf.stream.captions.language.delete("zh-Hant-TW", account_id=acct,
                                              identifier=video) == ""


def test_bad_requests_are_refused_and_store_nothing(server, video):
    cf, acct = server.client("a"), server.acct("a")

    # No `file` field: another field only, or an empty multipart body.
    r = _put_raw(server, video, "en", files={"other": ("x.vtt", VTT_EN.encode())})
    body = assert_error_envelope(r, 400, code=10005)
    assert body["errors"][0]["message"] == "file: the multipart body has no file field"
    r = _put_raw(server, video, "en", files={"file": ("empty.vtt", b"")})
    body = assert_error_envelope(r, 400, code=10005)
    assert body["errors"][0]["message"] == "file: the file is empty"
    # Not multipart: JSON, or a bare body.
    r = _put_raw(server, video, "en", json={"file": VTT_EN})
    assert_error_envelope(r, 415)
    r = _put_raw(server, video, "en", data=VTT_EN.encode(),
                 headers={"Content-Type": "text/vtt"})
    assert_error_envelope(r, 415)
    # Text that is not UTF-8.
    r = _put_raw(server, video, "en",
                 files={"file": ("latin1.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\ncafé\n"
                                 .encode("latin-1"))})
    body = assert_error_envelope(r, 400, code=10005)
    assert body["errors"][0]["message"] == (
        "file: line 4: the file is not UTF-8 text (save it as UTF-8)")
    # Wrong types through the SDK: a number is sent as its text, None and containers
    # as no `file` field at all (lists and dicts become `file[0]`, `file[x]`).
    for value, want in ((123, "file: line 2: expected a timing line"),
                        (1.5, "file: line 1: the file is neither WebVTT"),
                        (None, "file: the multipart body has no file field"),
                        (["WEBVTT"], "file: the multipart body has no file field"),
                        ({"x": 1}, "file: the multipart body has no file field")):
        e = expect_sdk_error(cloudflare.BadRequestError,
                             lambda v=value: cf.stream.captions.language.update(
                                 "en", account_id=acct, identifier=video, file=v),
                             400, code=10005)
        message = e.response.json()["errors"][0]["message"]
        assert message.startswith(want), (value, message)
    # Binary junk where the text belongs.
    r = _put_raw(server, video, "en", files={"file": ("clip.vtt", bytes(range(256)))})
    assert_error_envelope(r, 400, code=10005)
    # Unknown or malformed video ids.
    for uid in ("0" * 32, "not-a-uid"):
        expect_sdk_error(cloudflare.NotFoundError,
                         lambda u=uid: cf.stream.captions.language.update(
                             "en", account_id=acct, identifier=u, file=VTT_EN), 404)
        expect_sdk_error(cloudflare.NotFoundError,
                         lambda u=uid: cf.stream.captions.get(u, account_id=acct), 404)
    assert _languages(cf, acct, video) == [], "no refused request stored anything"


def test_an_oversized_file_is_refused(server, video):
    cf, acct = server.client("a"), server.acct("a")
    cue = "00:00.000 --> 00:01.000\n" + "x" * 1000 + "\n\n"
    big = "WEBVTT\n\n" + cue * (MAX_CAPTION_BYTES // len(cue) + 1)
    assert len(big.encode()) > MAX_CAPTION_BYTES
    e = expect_sdk_error(cloudflare.APIStatusError,
                         lambda: cf.stream.captions.language.update(
                             "en", account_id=acct, identifier=video, file=big), 413, code=10007)
    assert str(MAX_CAPTION_BYTES) in e.response.json()["errors"][0]["message"]
    # Without a Content-Length, the limit holds while reading.
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
        yield big.encode()
        yield b"\r\n--b--\r\n"
    r = _put_raw(server, video, "en", data=chunks(),
                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error_envelope(r, 413, code=10007)
    assert _languages(cf, acct, video) == []
    # Positive control: just under the limit is accepted.
    fits = big.encode()[: MAX_CAPTION_BYTES - 2 * len(cue)]
    fits = fits[: fits.rindex(b"\n\n") + 2]
    c = cf.stream.captions.language.update("en", account_id=acct, identifier=video,
                                           file=fits.decode())
    assert c.language == "en"
    assert cf.stream.captions.language.delete("en", account_id=acct, identifier=video) == ""


def test_a_video_has_at_most_a_hundred_languages(server, clip):
    cf, acct = server.client("a"), server.acct("a")
    uid = server.upload_ok(clip, name="many-captions.mp4")["uid"]
    # Two-letter codes in table order: every one is a known language.
    langs = ["aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba",
             "be", "bg", "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co",
             "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo",
             "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl",
             "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia",
             "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg",
             "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky",
             "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg"]
    assert len(langs) == MAX_CAPTIONS_PER_VIDEO + 1
    for lang in langs[:MAX_CAPTIONS_PER_VIDEO]:
        r = _put_raw(server, uid, lang, files={"file": ("c.vtt", VTT_EN_2.encode())})
        assert r.status_code == 200, (lang, r.text)
    r = _put_raw(server, uid, langs[-1], files={"file": ("c.vtt", VTT_EN_2.encode())})
    body = assert_error_envelope(r, 400, code=10009)
    assert "Too many captions" in body["errors"][0]["message"]
    # Replacing one is not a new language.
    r = _put_raw(server, uid, "en", files={"file": ("c.vtt", VTT_EN.encode())})
    assert r.status_code == 200, r.text
    assert len(list(cf.stream.captions.get(uid, account_id=acct))) == MAX_CAPTIONS_PER_VIDEO

    # Deleting the video deletes its captions.
    cf.stream.delete(uid, account_id=acct)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.captions.get(uid, account_id=acct), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.captions.language.vtt.get(
                         "en", account_id=acct, identifier=uid), 404)
