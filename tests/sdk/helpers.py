"""Shared helpers for the SDK suite: running `usher`, creating accounts, making clips
with ffmpeg, uploading, polling, and checking the Cloudflare error envelope.

Everything here talks to a real `usher` binary (env USHER_BIN) over HTTP; nothing is
mocked. Media is generated at test time with ffmpeg's lavfi sources.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import requests
from cloudflare import Cloudflare

HEX32 = re.compile(r"^[0-9a-f]{32}$")
# SPEC §3: "Times are RFC 3339 UTC with microseconds".
RFC3339_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
ENVELOPE_KEYS = {"result", "success", "errors", "messages"}

START_DEADLINE_S = 30
STOP_DEADLINE_S = 10
PROCESS_DEADLINE_S = 120
POLL_INTERVAL_S = 0.25
HTTP_TIMEOUT_S = 30


def usher_bin() -> str:
    path = os.environ.get("USHER_BIN")
    if not path:
        raise RuntimeError(
            "USHER_BIN is not set: point it at the usher binary, e.g. "
            "USHER_BIN=/work/targets/main/debug/usher"
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"USHER_BIN={path!r} is not an executable file")
    return path


@dataclass
class Account:
    account_id: str
    email: str
    api_token: str
    api_key: str


def create_account(data_dir: Path, email: str, extra_args: Iterable[str] = ()) -> Account:
    """`usher account create --json` must print exactly one JSON object."""
    proc = subprocess.run(
        [usher_bin(), "account", "create", "--email", email, "--json",
         "--data-dir", str(data_dir), *extra_args],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, f"account create failed ({proc.returncode}): {proc.stderr}"
    obj = json.loads(proc.stdout)  # raises if stdout is anything but one JSON document
    assert isinstance(obj, dict), proc.stdout
    assert set(obj) == {"account_id", "email", "api_token", "api_key"}, obj.keys()
    assert HEX32.match(obj["account_id"]), obj["account_id"]
    assert obj["email"] == email
    assert obj["api_token"] and obj["api_key"] and obj["api_token"] != obj["api_key"]
    return Account(**obj)


@dataclass
class UsherServer:
    """One `usher serve` process on an ephemeral port with its own data dir."""

    data_dir: Path
    log_path: Path
    extra_args: tuple[str, ...] = ()
    accounts: dict[str, Account] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    url: str = ""
    _lines: "queue.Queue[str | None]" = field(default_factory=queue.Queue)

    @property
    def api(self) -> str:
        return f"{self.url}/client/v4"

    def start(self) -> "UsherServer":
        # A queue of its own: an earlier process's pump may still end its queue with None.
        self._lines = queue.Queue()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [usher_bin(), "serve", "--listen", "127.0.0.1:0",
             "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
            text=True, bufsize=1,
        )
        # Keep draining stdout for the life of the process so it can never block on a full pipe.
        # The pump holds this process's queue: a restart's new queue must never receive
        # the old process's end of output.
        threading.Thread(target=self._pump, args=(self.proc, self._lines), daemon=True).start()
        deadline = time.monotonic() + START_DEADLINE_S
        pattern = re.compile(r"^usher listening on (http://127\.0\.0\.1:(\d+))\s*$")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise RuntimeError(f"usher did not report its address within {START_DEADLINE_S}s"
                                   f"\n--- log ---\n{self.log_tail()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=5)
                raise RuntimeError(f"usher serve exited ({code}) before listening"
                                   f"\n--- log ---\n{self.log_tail()}")
            m = pattern.match(line)
            if m:
                self.url = m.group(1)
                return self

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: "queue.Queue[str | None]") -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return "<no log>"

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM by PID; SPEC §2 wants exit 0. Returns the exit code (SIGKILL fallback)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self._kill()
                self._log.close()
                raise AssertionError(f"usher did not exit within {STOP_DEADLINE_S}s of SIGTERM"
                                     f"\n--- log ---\n{self.log_tail()}")
        self._log.close()
        return self.proc.returncode

    def kill9_and_restart(self) -> "UsherServer":
        """SIGKILL by PID (no chance to clean up), then serve again on the same data dir."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=STOP_DEADLINE_S)
        self._log.close()
        self.proc = None
        return self.start()

    def peak_rss_kib(self) -> int:
        """The server's peak resident set size so far (VmHWM), in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/PID/status")

    def restart(self) -> "UsherServer":
        """SIGTERM (must exit 0), then serve again on the same data dir (a new port)."""
        code = self.stop()
        assert code == 0, f"usher serve exited {code} after SIGTERM\n{self.log_tail()}"
        self.proc = None
        return self.start()

    # --- clients --------------------------------------------------------------------

    def client(self, name: str = "a", **kw: Any) -> Cloudflare:
        acct = self.accounts[name]
        return Cloudflare(api_token=acct.api_token, base_url=self.api, max_retries=0, **kw)

    def legacy_client(self, name: str = "a", **kw: Any) -> Cloudflare:
        acct = self.accounts[name]
        return Cloudflare(api_email=acct.email, api_key=acct.api_key, base_url=self.api,
                          max_retries=0, **kw)

    def acct(self, name: str = "a") -> str:
        return self.accounts[name].account_id

    def bearer(self, name: str = "a") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.accounts[name].api_token}"}

    def legacy(self, name: str = "a") -> dict[str, str]:
        a = self.accounts[name]
        return {"X-Auth-Email": a.email, "X-Auth-Key": a.api_key}

    def request(self, method: str, path: str, *, auth: str | None = "a",
                headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        """A raw request to `/client/v4{path}`, authenticated as account `auth` (bearer)."""
        h = dict(self.bearer(auth)) if auth else {}
        h.update(headers or {})
        kw.setdefault("timeout", HTTP_TIMEOUT_S)
        return requests.request(method, f"{self.api}{path}", headers=h, **kw)

    # --- videos -----------------------------------------------------------------------

    def upload(self, path: Path | None = None, *, name: str | None = None,
               data: bytes | None = None, account: str = "a") -> requests.Response:
        """Basic upload: multipart field `file` (the SDKs have no such method)."""
        if data is None:
            assert path is not None
            data = path.read_bytes()
        fname = name or (path.name if path else "upload.bin")
        return requests.post(
            f"{self.api}/accounts/{self.acct(account)}/stream",
            files={"file": (fname, data)}, headers=self.bearer(account), timeout=60,
        )

    def upload_ok(self, path: Path | None = None, **kw: Any) -> dict:
        resp = self.upload(path, **kw)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        body = resp.json()
        assert body["success"] is True and body["errors"] == [], body
        video = body["result"]
        assert HEX32.match(video["uid"]), video
        return video

    def get_video(self, uid: str, account: str = "a") -> dict:
        resp = self.request("GET", f"/accounts/{self.acct(account)}/stream/{uid}", auth=account)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        return resp.json()["result"]

    def wait_for_state(self, uid: str, account: str = "a",
                       states: tuple[str, ...] = ("ready", "error"),
                       deadline_s: float = PROCESS_DEADLINE_S) -> tuple[Any, list[str]]:
        """Poll `client.stream.get` until the state is one of `states`.

        Returns the SDK video and the distinct states seen, in order."""
        client = self.client(account)
        seen: list[str] = []
        deadline = time.monotonic() + deadline_s
        while True:
            video = client.stream.get(identifier=uid, account_id=self.acct(account))
            assert video is not None, "stream.get returned None (success:false with HTTP 200?)"
            state = video.status.state
            if not seen or seen[-1] != state:
                seen.append(state)
            if state in states:
                return video, seen
            if time.monotonic() > deadline:
                raise AssertionError(f"video {uid} still {state!r} after {deadline_s}s "
                                     f"(states seen {seen})\n--- log ---\n{self.log_tail()}")
            time.sleep(POLL_INTERVAL_S)

    def video_count(self, account: str = "a") -> int:
        resp = self.request("GET", f"/accounts/{self.acct(account)}/stream",
                            params={"include_counts": "true"}, auth=account)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["total"] == len(body["result"]), body  # fewer than 1000 in tests
        return body["total"]

    def key_ids(self, account: str = "a") -> list[str]:
        resp = self.request("GET", f"/accounts/{self.acct(account)}/stream/keys", auth=account)
        assert resp.status_code == 200, resp.text
        return sorted(k["id"] for k in resp.json()["result"])

    def media_files(self) -> list[Path]:
        root = self.data_dir / "media"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def make_clip(out: Path, seconds: int = 4, size: str = "320x240") -> Path:
    """A small H.264/AAC MP4 from lavfi test sources."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine",
         "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-movflags", "+faststart", str(out)],
        check=True, capture_output=True, timeout=60,
    )
    assert out.stat().st_size > 0
    return out


# An origin's handler decides each response from the request path: (status, headers,
# body). The pseudo-header `X-No-Length` sends the body without a Content-Length (an
# HTTP/1.0 body that ends when the connection closes).
Respond = Callable[[str], tuple[int, dict[str, str], bytes]]


class Origin:
    """A throwaway HTTP origin on `host`, port 0, recording every request path."""

    def __init__(self, host: str, respond: Respond):
        self.requests: list[str] = []
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                origin.requests.append(self.path)
                status, headers, body = respond(self.path)
                headers = dict(headers)
                self.send_response(status)
                no_length = headers.pop("X-No-Length", None) is not None
                for k, v in headers.items():
                    self.send_header(k, v)
                if not no_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a size limit): that is its right

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/clip.mp4", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def assert_error_envelope(resp: requests.Response, status: int | tuple[int, ...],
                          code: int | None = None) -> dict:
    """The Cloudflare error envelope, a fitting status and `x-should-retry: false`."""
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status_code in statuses, (resp.status_code, resp.text[:500])
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert body["result"] is None, body
    assert body["success"] is False, body
    assert body["messages"] == [], body
    assert isinstance(body["errors"], list) and body["errors"], body
    for err in body["errors"]:
        assert set(err) == {"code", "message"}, err
        assert isinstance(err["code"], int) and not isinstance(err["code"], bool), err
        assert isinstance(err["message"], str) and err["message"], err
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    if resp.status_code != 429 and resp.status_code < 500:
        assert resp.headers.get("x-should-retry") == "false", dict(resp.headers)
    return body


def assert_ok_envelope(resp: requests.Response) -> Any:
    assert resp.status_code == 200, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert ENVELOPE_KEYS <= set(body), body
    assert body["success"] is True and body["errors"] == [] and body["messages"] == [], body
    return body["result"]


def expect_sdk_error(exc_type: type, fn: Callable[[], Any], status: int,
                     code: int | None = None) -> Any:
    """Call an SDK method that must fail with `exc_type` and an error envelope."""
    try:
        result = fn()
    except exc_type as e:  # noqa: PERF203
        assert e.status_code == status, (e.status_code, e.response.text)
        assert_error_envelope(e.response, status, code)
        return e
    raise AssertionError(f"expected {exc_type.__name__} ({status}), the SDK returned {result!r}")


def b64decode(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


def b64url_to_int(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def start_of_a_minute() -> None:
    """Limits count in one-minute windows, and a sliding minute is estimated from the
    current window and a decaying share of the previous one. A test that crosses a
    minute boundary sees the estimate drop by a few percent; so a test that needs the
    exact count starts early in a minute (waiting at most 15 s)."""
    into = time.time() % 60
    if into > 45:
        time.sleep(60.2 - into)
