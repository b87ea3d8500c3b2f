"""Live inputs (SPEC §8) through the official SDK: `stream.live_inputs.create/list/get/
update/delete` and `stream.live_inputs.outputs.create/list/update/delete`, the answers
parsed into the SDK's own types with their fields set; the stream key's shape; tokens
for a live input; isolation between accounts; bad input; secrets kept out of the log.

The SDK has no method for `GET …/live_inputs/{uid}/videos` (the recordings): those
tests call it with the SDK client's raw `get`. Nothing here broadcasts: the ingest and
recordings have tests of their own.
"""

from __future__ import annotations

import re
import uuid

import cloudflare
import jwt
import pytest
from cloudflare.types.stream import LiveInput, LiveInputListResponse
from cloudflare.types.stream.live_inputs import Output

from helpers import (
    HEX32,
    RFC3339_MICROS,
    assert_error_envelope,
    assert_ok_envelope,
    expect_sdk_error,
)

HEX = re.compile(r"^[0-9a-f]+$")
# Usher's limit on outputs per live input (usher_store::MAX_LIVE_OUTPUTS).
MAX_OUTPUTS = 50


def inputs_path(server, acct="a", rest=""):
    return f"/accounts/{server.acct(acct)}/stream/live_inputs{rest}"


def create(server, acct="a", **kw) -> LiveInput:
    li = server.client(acct).stream.live_inputs.create(account_id=server.acct(acct), **kw)
    assert isinstance(li, LiveInput), li
    return li


def recordings(server, uid, acct="a"):
    """`GET …/live_inputs/{uid}/videos` through the SDK's raw client (no method for it)."""
    body = server.client(acct).get(inputs_path(server, acct, f"/{uid}/videos"), cast_to=object)
    assert body["success"] is True, body
    return body["result"]


def test_create_answers_the_whole_input_in_cloudflares_shape(server):
    li = create(server, meta={"name": "town hall"}, default_creator="alice",
                delete_recording_after_days=45, prefer_low_latency=True,
                recording={"mode": "automatic", "require_signed_urls": True,
                           "timeout_seconds": 3, "allowed_origins": ["*.example.com"],
                           "hide_live_viewer_count": True})
    uid = li.uid
    assert HEX32.match(uid), uid
    assert li.meta == {"name": "town hall"}
    assert li.enabled is True
    assert li.delete_recording_after_days == 45
    assert li.prefer_low_latency is True
    assert li.recording.mode == "automatic"
    assert li.recording.require_signed_urls is True
    assert li.recording.timeout_seconds == 3
    assert li.recording.allowed_origins == ["*.example.com"]
    assert li.recording.hide_live_viewer_count is True
    # The broadcaster's secrets: `{uid}k{32 hex}` (65 characters) and an SRT passphrase.
    assert re.fullmatch(rf"{uid}k[0-9a-f]{{32}}", li.rtmps.stream_key), li.rtmps
    assert re.fullmatch(r"rtmps?://127\.0\.0\.1:\d+/live/", li.rtmps.url), li.rtmps.url
    assert li.srt.stream_id == uid
    assert re.fullmatch(r"[0-9a-f]{32}", li.srt.passphrase), li.srt
    assert re.fullmatch(r"srt://127\.0\.0\.1:\d+", li.srt.url), li.srt.url
    assert li.playback.hls == f"{server.url}/{uid}/manifest/video.m3u8"
    assert li.playback.dash == f"{server.url}/{uid}/manifest/video.mpd"
    assert li.status is None, "never connected"
    assert li.created is not None and li.created == li.modified

    raw = assert_ok_envelope(server.request("GET", inputs_path(server, rest=f"/{uid}")))
    assert RFC3339_MICROS.match(raw["created"]) and RFC3339_MICROS.match(raw["modified"]), raw
    assert raw["defaultCreator"] == "alice"
    assert raw["status"] is None
    for absent in ("rtmpsPlayback", "srtPlayback", "webRTC", "webRTCPlayback"):
        assert raw[absent] is None, (absent, raw[absent])


def test_defaults_are_cloudflares(server):
    li = create(server)
    assert li.enabled is True
    assert li.meta == {}
    assert li.prefer_low_latency is False
    assert li.delete_recording_after_days is None
    assert li.recording.mode == "off"
    assert li.recording.require_signed_urls is False
    assert li.recording.allowed_origins == []
    assert li.recording.timeout_seconds == 0
    assert li.recording.hide_live_viewer_count is False


def test_get_and_list_find_it_and_only_get_shows_the_secrets(server):
    cf, acct = server.client("a"), server.acct("a")
    older = create(server, meta={"name": "older"})
    newer = create(server, meta={"name": "newer"})
    got = cf.stream.live_inputs.get(newer.uid, account_id=acct)
    assert isinstance(got, LiveInput)
    assert got.uid == newer.uid and got.meta == {"name": "newer"}
    assert got.rtmps.stream_key == newer.rtmps.stream_key
    assert got.srt.passphrase == newer.srt.passphrase

    listed = cf.stream.live_inputs.list(account_id=acct, include_counts=True)
    assert isinstance(listed, LiveInputListResponse), listed
    uids = [li.uid for li in listed.live_inputs]
    assert uids.index(newer.uid) < uids.index(older.uid), "newest first"
    assert listed.range == listed.total == len(uids)
    entry = next(li for li in listed.live_inputs if li.uid == newer.uid)
    assert entry.enabled is True and entry.meta == {"name": "newer"} and entry.created

    body = server.request("GET", inputs_path(server)).json()
    assert body["success"] is True and isinstance(body["result"]["liveInputs"], list), body
    text = server.request("GET", inputs_path(server)).text
    assert newer.rtmps.stream_key not in text and newer.srt.passphrase not in text


def test_update_changes_what_it_names_and_keeps_the_rest(server):
    cf, acct = server.client("a"), server.acct("a")
    li = create(server, meta={"name": "keep"}, default_creator="alice",
                recording={"mode": "automatic", "require_signed_urls": True,
                           "allowed_origins": ["example.com"], "timeout_seconds": 5})
    off = cf.stream.live_inputs.update(li.uid, account_id=acct, enabled=False)
    assert isinstance(off, LiveInput)
    assert off.enabled is False
    assert off.meta == {"name": "keep"}
    assert off.recording.mode == "automatic" and off.recording.require_signed_urls is True
    assert off.recording.allowed_origins == ["example.com"]
    assert off.recording.timeout_seconds == 5
    assert off.rtmps.stream_key == li.rtmps.stream_key, "an update does not rotate keys"
    assert off.modified > li.modified and off.created == li.created

    changed = cf.stream.live_inputs.update(
        li.uid, account_id=acct, meta={"name": "renamed"}, delete_recording_after_days=30,
        recording={"mode": "off", "allowed_origins": []})
    assert changed.meta == {"name": "renamed"}
    assert changed.delete_recording_after_days == 30
    assert changed.recording.mode == "off" and changed.recording.allowed_origins == []
    assert changed.recording.require_signed_urls is True and changed.enabled is False
    got = cf.stream.live_inputs.get(li.uid, account_id=acct)
    assert got.model_dump() == changed.model_dump()

    # `null` clears deleteRecordingAfterDays (the SDK cannot send null; raw JSON can).
    raw = assert_ok_envelope(server.request("PUT", inputs_path(server, rest=f"/{li.uid}"),
                                            json={"deleteRecordingAfterDays": None}))
    assert raw["deleteRecordingAfterDays"] is None and raw["meta"] == {"name": "renamed"}


def test_delete_removes_the_input_and_its_outputs(server):
    cf, acct = server.client("a"), server.acct("a")
    li = create(server)
    cf.stream.live_inputs.outputs.create(li.uid, account_id=acct,
                                         url="rtmp://live.example.com/app", stream_key="k")
    assert cf.stream.live_inputs.delete(li.uid, account_id=acct) is None
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.live_inputs.get(li.uid, account_id=acct), 404)
    expect_sdk_error(cloudflare.NotFoundError,
                     lambda: cf.stream.live_inputs.delete(li.uid, account_id=acct), 404)
    assert_error_envelope(server.request("GET", inputs_path(server, rest=f"/{li.uid}/outputs")),
                          404)
    uids = [x.uid for x in cf.stream.live_inputs.list(account_id=acct).live_inputs]
    assert li.uid not in uids


def test_stream_keys_and_passphrases_differ_between_inputs(server):
    one, two = create(server), create(server)
    assert one.rtmps.stream_key != two.rtmps.stream_key
    assert one.rtmps.stream_key[33:] != two.rtmps.stream_key[33:]
    assert one.srt.passphrase != two.srt.passphrase
    for li in (one, two):
        assert len(li.rtmps.stream_key) == 65 and li.rtmps.stream_key.startswith(li.uid + "k")


def test_a_new_input_has_no_recordings(server):
    li = create(server, recording={"mode": "automatic"})
    assert recordings(server, li.uid) == []


def test_outputs_round_trip_through_the_sdk(server):
    cf, acct = server.client("a"), server.acct("a")
    li = create(server)
    outputs = cf.stream.live_inputs.outputs
    first = outputs.create(li.uid, account_id=acct, url="rtmp://a.rtmp.youtube.com/live2",
                           stream_key="abcd-efgh-ijkl")
    assert isinstance(first, Output), first
    assert HEX32.match(first.uid), first
    assert first.url == "rtmp://a.rtmp.youtube.com/live2"
    assert first.stream_key == "abcd-efgh-ijkl"
    assert first.enabled is True
    second = outputs.create(li.uid, account_id=acct, url="rtmps://live.example.com:443/app/",
                            stream_key="second", enabled=False)
    assert second.enabled is False

    listed = list(outputs.list(li.uid, account_id=acct))
    assert all(isinstance(o, Output) for o in listed)
    assert [o.uid for o in listed] == [first.uid, second.uid]
    assert listed[1].stream_key == "second" and listed[1].enabled is False

    on = outputs.update(second.uid, account_id=acct, live_input_identifier=li.uid, enabled=True)
    assert isinstance(on, Output) and on.enabled is True and on.uid == second.uid
    assert on.url == second.url and on.stream_key == "second"

    assert outputs.delete(first.uid, account_id=acct, live_input_identifier=li.uid) is None
    assert [o.uid for o in outputs.list(li.uid, account_id=acct)] == [second.uid]
    expect_sdk_error(cloudflare.NotFoundError, lambda: outputs.delete(
        first.uid, account_id=acct, live_input_identifier=li.uid), 404)
    expect_sdk_error(cloudflare.NotFoundError, lambda: outputs.update(
        first.uid, account_id=acct, live_input_identifier=li.uid, enabled=False), 404)
    # An output is found only under its own input.
    other = create(server)
    expect_sdk_error(cloudflare.NotFoundError, lambda: outputs.update(
        second.uid, account_id=acct, live_input_identifier=other.uid, enabled=False), 404)


def test_outputs_are_limited_per_input(server):
    cf, acct = server.client("a"), server.acct("a")
    li = create(server)
    for i in range(MAX_OUTPUTS):
        cf.stream.live_inputs.outputs.create(li.uid, account_id=acct,
                                             url=f"rtmp://live{i}.example.com/app", stream_key="k")
    resp = server.request("POST", inputs_path(server, rest=f"/{li.uid}/outputs"),
                          json={"url": "rtmp://one-more.example.com/app", "streamKey": "k"})
    body = assert_error_envelope(resp, 400, 10009)
    assert "outputs" in body["errors"][0]["message"], body
    # Another input has room of its own.
    other = create(server)
    cf.stream.live_inputs.outputs.create(other.uid, account_id=acct,
                                         url="rtmp://live.example.com/app", stream_key="k")


def test_outputs_to_private_addresses_need_the_operators_consent(server, make_server):
    li = create(server)
    for url in ("rtmp://127.0.0.1:1936/live", "rtmp://2130706433/live", "srt://10.0.0.1:9000",
                "rtmp://localhost/live", "rtmp://[::1]/live"):
        resp = server.request("POST", inputs_path(server, rest=f"/{li.uid}/outputs"),
                              json={"url": url, "streamKey": "k"})
        body = assert_error_envelope(resp, 400)
        assert body["errors"][0]["message"].startswith("url:"), (url, body)

    srv = make_server("--copy-allow-private")
    li = create(srv)
    out = srv.client("a").stream.live_inputs.outputs.create(
        li.uid, account_id=srv.acct("a"), url="rtmp://127.0.0.1:1936/live", stream_key="k")
    assert out.url == "rtmp://127.0.0.1:1936/live"


def test_a_token_is_minted_for_a_live_input(server):
    li = create(server, recording={"require_signed_urls": True})
    result = server.client("a").stream.token.create(identifier=li.uid, account_id=server.acct("a"))
    assert result is not None and result.token
    claims = jwt.decode(result.token, options={"verify_signature": False})
    assert claims["sub"] == li.uid
    # Deleted: no more tokens.
    server.client("a").stream.live_inputs.delete(li.uid, account_id=server.acct("a"))
    expect_sdk_error(cloudflare.NotFoundError, lambda: server.client("a").stream.token.create(
        identifier=li.uid, account_id=server.acct("a")), 404)


def test_a_live_input_is_not_a_video(server):
    li = create(server)
    cf, acct = server.client("a"), server.acct("a")
    expect_sdk_error(cloudflare.NotFoundError, lambda: cf.stream.get(li.uid, account_id=acct), 404)
    assert li.uid not in [v.uid for v in cf.stream.list(account_id=acct)]


def test_rotating_the_keys_replaces_both_secrets(server):
    li = create(server, meta={"name": "leaked"})
    r = server.request("POST", inputs_path(server, "a", f"/{li.uid}/rotate_keys"), auth="a")
    assert r.status_code == 200, r.text
    rotated = r.json()["result"]
    assert rotated["uid"] == li.uid
    assert rotated["rtmps"]["streamKey"] != li.rtmps.stream_key
    assert rotated["rtmps"]["streamKey"].startswith(f"{li.uid}k")
    assert len(rotated["rtmps"]["streamKey"]) == 65
    assert rotated["srt"]["passphrase"] != li.srt.passphrase
    got = server.client("a").stream.live_inputs.get(li.uid, account_id=server.acct("a"))
    assert got.rtmps.stream_key == rotated["rtmps"]["streamKey"]
    assert got.meta == {"name": "leaked"}


def test_another_account_cannot_reach_an_input_by_any_path(server):
    a, acct_a = server.client("a"), server.acct("a")
    li = create(server, meta={"name": "a's"})
    out = a.stream.live_inputs.outputs.create(li.uid, account_id=acct_a,
                                              url="rtmp://live.example.com/app", stream_key="a-key")
    b, acct_b = server.client("b"), server.acct("b")
    calls = {
        "get": lambda: b.stream.live_inputs.get(li.uid, account_id=acct_b),
        "update": lambda: b.stream.live_inputs.update(li.uid, account_id=acct_b, enabled=False),
        "delete": lambda: b.stream.live_inputs.delete(li.uid, account_id=acct_b),
        "token": lambda: b.stream.token.create(identifier=li.uid, account_id=acct_b),
        "outputs.create": lambda: b.stream.live_inputs.outputs.create(
            li.uid, account_id=acct_b, url="rtmp://evil.example.com/x", stream_key="x"),
        "outputs.list": lambda: list(b.stream.live_inputs.outputs.list(li.uid, account_id=acct_b)),
        "outputs.update": lambda: b.stream.live_inputs.outputs.update(
            out.uid, account_id=acct_b, live_input_identifier=li.uid, enabled=False),
        "outputs.delete": lambda: b.stream.live_inputs.outputs.delete(
            out.uid, account_id=acct_b, live_input_identifier=li.uid),
    }
    for name, call in calls.items():
        e = expect_sdk_error(cloudflare.NotFoundError, call, 404)
        assert li.rtmps.stream_key not in e.response.text, name
    assert_error_envelope(server.request("GET", inputs_path(server, "b", f"/{li.uid}/videos"),
                                         auth="b"), 404)
    assert_error_envelope(server.request("POST", inputs_path(server, "b", f"/{li.uid}/rotate_keys"),
                                         auth="b"), 404)
    assert li.uid not in [x.uid for x in b.stream.live_inputs.list(account_id=acct_b).live_inputs]
    # B's credentials on A's account path are refused outright.
    assert_error_envelope(server.request("GET", inputs_path(server, "a", f"/{li.uid}"), auth="b"),
                          (401, 403))
    # Nothing changed for A.
    got = a.stream.live_inputs.get(li.uid, account_id=acct_a)
    assert got.enabled is True and got.meta == {"name": "a's"}
    listed = list(a.stream.live_inputs.outputs.list(li.uid, account_id=acct_a))
    assert [(o.uid, o.enabled) for o in listed] == [(out.uid, True)]


@pytest.mark.parametrize("uid", ["0" * 32, uuid.uuid4().hex, "not-an-id", "A" * 32])
def test_unknown_ids_are_404(server, uid):
    for method in ("GET", "PUT", "DELETE"):
        assert_error_envelope(server.request(method, inputs_path(server, rest=f"/{uid}"),
                                             json={}), 404, 10003)
    for method, rest in (("GET", "/outputs"), ("POST", "/outputs"), ("GET", "/videos")):
        body = {"url": "rtmp://live.example.com/app", "streamKey": "k"}
        assert_error_envelope(server.request(method, inputs_path(server, rest=f"/{uid}{rest}"),
                                             json=body), 404)
    li = create(server)
    for method in ("PUT", "DELETE"):
        resp = server.request(method, inputs_path(server, rest=f"/{li.uid}/outputs/{uid}"),
                              json={"enabled": True})
        assert_error_envelope(resp, 404, 10003)


INPUT_REFUSALS = [
    ({"meta": "not an object"}, "meta"),
    ({"enabled": "yes"}, "enabled"),
    ({"defaultCreator": "x" * 65}, "defaultCreator"),
    ({"deleteRecordingAfterDays": 29}, "deleteRecordingAfterDays"),
    ({"deleteRecordingAfterDays": 30.5}, "deleteRecordingAfterDays"),
    ({"preferLowLatency": 1}, "preferLowLatency"),
    ({"recording": "automatic"}, "recording"),
    ({"recording": {"mode": "always"}}, "recording.mode"),
    ({"recording": {"timeoutSeconds": -1}}, "recording.timeoutSeconds"),
    ({"recording": {"timeoutSeconds": 3601}}, "recording.timeoutSeconds"),
    ({"recording": {"allowedOrigins": ["https://example.com/path"]}}, "recording.allowedOrigins"),
    ({"recording": {"requireSignedURLs": "true"}}, "recording.requireSignedURLs"),
]


@pytest.mark.parametrize("body,field", INPUT_REFUSALS)
def test_bad_settings_are_400_naming_the_field(server, body, field):
    li = create(server)
    for method, rest in (("POST", ""), ("PUT", f"/{li.uid}")):
        resp = server.request(method, inputs_path(server, rest=rest), json=body)
        err = assert_error_envelope(resp, 400, 10005)
        assert err["errors"][0]["message"].startswith(f"{field}:"), err
    # The refused update changed nothing.
    assert server.client("a").stream.live_inputs.get(li.uid, account_id=server.acct("a")) \
        .model_dump() == li.model_dump()


def test_bad_input_through_the_sdk_and_malformed_json(server):
    cf, acct = server.client("a"), server.acct("a")
    e = expect_sdk_error(cloudflare.BadRequestError, lambda: cf.stream.live_inputs.create(
        account_id=acct, recording={"mode": "always", "timeout_seconds": 3}), 400)
    assert "recording.mode" in e.response.text
    resp = server.request("POST", inputs_path(server), data=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert_error_envelope(resp, 400, 10006)
    resp = server.request("POST", inputs_path(server), json=["not", "an", "object"])
    assert_error_envelope(resp, 400)


OUTPUT_REFUSALS = [
    ({"streamKey": "k"}, "url"),
    ({"url": "rtmp://live.example.com/app"}, "streamKey"),
    ({"url": "https://live.example.com/app", "streamKey": "k"}, "url"),
    ({"url": "rtmp:///app", "streamKey": "k"}, "url"),
    ({"url": "not a url", "streamKey": "k"}, "url"),
    ({"url": 5, "streamKey": "k"}, "url"),
    ({"url": "rtmp://live.example.com/app", "streamKey": "a\nb"}, "streamKey"),
    ({"url": "rtmp://live.example.com/app", "streamKey": "k", "enabled": "no"}, "enabled"),
]


@pytest.mark.parametrize("body,field", OUTPUT_REFUSALS)
def test_bad_outputs_are_400_naming_the_field(server, body, field):
    li = create(server)
    resp = server.request("POST", inputs_path(server, rest=f"/{li.uid}/outputs"), json=body)
    err = assert_error_envelope(resp, 400, 10005)
    assert err["errors"][0]["message"].startswith(f"{field}:"), err
    assert list(server.client("a").stream.live_inputs.outputs.list(
        li.uid, account_id=server.acct("a"))) == []


def test_an_output_update_needs_enabled(server):
    cf, acct = server.client("a"), server.acct("a")
    li = create(server)
    out = cf.stream.live_inputs.outputs.create(li.uid, account_id=acct,
                                               url="rtmp://live.example.com/app", stream_key="k")
    path = inputs_path(server, rest=f"/{li.uid}/outputs/{out.uid}")
    for body in ({}, {"enabled": "no"}, {"enabled": None}):
        err = assert_error_envelope(server.request("PUT", path, json=body), 400, 10005)
        assert err["errors"][0]["message"].startswith("enabled:"), (body, err)


def test_secrets_never_reach_the_log(make_server, monkeypatch):
    # The most talkative level the server has: nothing it logs may carry a secret.
    monkeypatch.setenv("USHER_LOG", "debug")
    srv = make_server()
    cf, acct = srv.client("a"), srv.acct("a")
    li = create(srv, recording={"mode": "automatic", "require_signed_urls": True})
    cf.stream.live_inputs.get(li.uid, account_id=acct)
    cf.stream.live_inputs.update(li.uid, account_id=acct, enabled=False)
    cf.stream.live_inputs.list(account_id=acct)
    out_key = "target-secret-" + uuid.uuid4().hex
    cf.stream.live_inputs.outputs.create(li.uid, account_id=acct,
                                         url="rtmp://live.example.com/app", stream_key=out_key)
    list(cf.stream.live_inputs.outputs.list(li.uid, account_id=acct))
    # A refused request that carries a secret in its body.
    srv.request("POST", inputs_path(srv, rest=f"/{li.uid}/outputs"),
                json={"url": "ftp://x", "streamKey": out_key})
    cf.stream.live_inputs.delete(li.uid, account_id=acct)
    log = srv.log_path.read_text(errors="replace")
    assert "DEBUG" in log, "the server logged at debug level"
    for secret in (li.rtmps.stream_key, li.rtmps.stream_key[33:], li.srt.passphrase, out_key):
        assert secret not in log, f"a secret is in the log:\n{log[-2000:]}"
