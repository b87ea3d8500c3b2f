"""The soak's load and bookkeeping (run by bench/soak.sh, which starts the server).

Threads, each with its own loopback source address so the server sees several clients:
- players: a valid token (from `POST …/token`, renewed every minute) for one of the
  private videos; master, variant playlist, init segment, a media segment (sometimes by
  range). Anything but 200/206 for a valid token is a "refused valid token".
- pests: garbage, tampered and expired tokens; anything but 401/404 is counted, a 5xx
  is a failure.
- uploaders: tus uploads cut off mid-PATCH (the socket closed under the body), resumed
  from the offset HEAD reports; an upload that does not end ready with the right size
  is lost. Finished videos are deleted, so the disk stays flat.
- a revoker: a fresh signing key signs a token offline, the token plays, the key is
  revoked; the time until the edge refuses it is recorded (bar: 1 s).
- an editor: renames the videos being played (each edit moves the edges' caches).
- a sampler: the server's RSS and open descriptors every 10 s.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt

SAMPLE_EVERY_S = 10
TOKEN_RENEW_S = 60
REVOKE_EVERY_S = 15
EDIT_EVERY_S = 5
REVOCATION_BAR_S = 1.0
REVOCATION_DEADLINE_S = 30
PLAYERS = 6
PESTS = 2
UPLOADERS = 2
# 409s an upload may meet (a cut-off request still holding it) before it counts as lost.
MAX_CONFLICTS = 50


@dataclass
class Counts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    server_errors: int = 0
    refused_valid: int = 0
    pest_unexpected: int = 0
    uploads_done: int = 0
    uploads_lost: int = 0
    interruptions: int = 0
    revocations: list[float] = field(default_factory=list)
    edits: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def note(self, text: str) -> None:
        with self.lock:
            if len(self.notes) < 50:
                self.notes.append(text)


class Client:
    """One keep-alive HTTP/1.1 connection from a chosen loopback address."""

    def __init__(self, url: str, source: str):
        u = urlsplit(url)
        self.host, self.port, self.source = u.hostname, u.port, source
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60,
                                                       source_address=(self.source, 0))
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data, {k.lower(): v for k, v in r.getheaders()}
            except (http.client.HTTPException, OSError):
                # A keep-alive the server closed (idle timeout): one retry on a new one.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.api = f"/client/v4/accounts/{args.account}"
        self.auth = {"Authorization": f"Bearer {args.token}"}
        self.counts = Counts()
        self.stop = threading.Event()
        self.videos: list[str] = []
        self.tokens: dict[str, str] = {}
        self.tokens_lock = threading.Lock()

    # --- the API ---------------------------------------------------------------------

    def call(self, c: Client, method: str, path: str, payload=None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> dict:
        body = json.dumps(payload).encode() if payload is not None else raw
        h = {**self.auth, **(headers or {})}
        if payload is not None:
            h["Content-Type"] = "application/json"
        status, data, _ = c.request(method, self.api + path, body, h)
        if status >= 500:
            self.counts.add(server_errors=1)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
        return json.loads(data)["result"]

    def upload_ready(self, c: Client, clip: str) -> str:
        data = open(clip, "rb").read()
        b = "soakboundary"
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.mp4\"\r\n"
                "\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
        uid = self.call(c, "POST", "/stream", raw=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={b}"})["uid"]
        self.wait_ready(c, uid)
        return uid

    def wait_ready(self, c: Client, uid: str, deadline_s: float = 300) -> dict:
        deadline = time.monotonic() + deadline_s
        while True:
            v = self.call(c, "GET", f"/stream/{uid}")
            if v["status"]["state"] in ("ready", "error"):
                return v
            if time.monotonic() > deadline:
                raise RuntimeError(f"{uid} stuck in {v['status']['state']}")
            time.sleep(0.2)

    def renew_tokens(self, c: Client) -> None:
        fresh = {uid: self.call(c, "POST", f"/stream/{uid}/token", {})["token"]
                 for uid in self.videos}
        with self.tokens_lock:
            self.tokens = fresh

    # --- the load --------------------------------------------------------------------

    def player(self, n: int) -> None:
        c = Client(self.args.url, f"127.0.0.{10 + n}")
        rng = random.Random(n)
        while not self.stop.is_set():
            with self.tokens_lock:
                uid, token = rng.choice(list(self.tokens.items()))
            try:
                segments: list[str] = []
                for path in ("manifest/video.m3u8", "manifest/v0/index.m3u8",
                             "manifest/v0/init.mp4", "segment"):
                    headers = {}
                    if path == "segment":
                        # One of the segments the variant playlist lists, sometimes by range.
                        path = f"manifest/v0/{rng.choice(segments)}"
                        if rng.random() < 0.3:
                            headers = {"Range": "bytes=0-1023"}
                    status, body, _ = c.request("GET", f"/{token}/{path}", headers=headers)
                    self.counts.add(requests=1)
                    if path.endswith("v0/index.m3u8") and status == 200:
                        segments = [ln for ln in body.decode().splitlines()
                                    if ln and not ln.startswith("#")]
                    if status >= 500:
                        self.counts.add(server_errors=1)
                        self.counts.note(f"player {n}: {status} for {path}")
                    elif status not in (200, 206):
                        self.counts.add(refused_valid=1)
                        self.counts.note(f"player {n}: {status} for a valid token ({path})")
                        break
            except (OSError, IndexError) as e:
                self.counts.note(f"player {n}: {e}")

    def pest(self, n: int) -> None:
        c = Client(self.args.url, f"127.0.0.{40 + n}")
        rng = random.Random(100 + n)
        key = self.expired_key
        while not self.stop.is_set():
            uid = rng.choice(self.videos)
            kind = rng.randrange(3)
            if kind == 0:
                token = base64.urlsafe_b64encode(os.urandom(rng.randrange(10, 300))).decode()
            elif kind == 1:
                with self.tokens_lock:
                    good = self.tokens[uid]
                at = rng.randrange(len(good))
                token = good[:at] + ("A" if good[at] != "A" else "B") + good[at + 1:]
            else:
                now = int(time.time())
                token = jwt.encode({"sub": uid, "kid": key["id"], "exp": now - 3600,
                                    "nbf": now - 7200}, base64.b64decode(key["pem"]),
                                   algorithm="RS256", headers={"kid": key["id"]})
            try:
                status, _, _ = c.request("GET", f"/{token}/manifest/video.m3u8")
            except OSError as e:
                self.counts.note(f"pest {n}: {e}")
                continue
            self.counts.add(requests=1)
            if status >= 500:
                self.counts.add(server_errors=1)
                self.counts.note(f"pest {n}: {status}")
            elif status not in (400, 401, 404):
                self.counts.add(pest_unexpected=1)
                self.counts.note(f"pest {n}: {status} for an invalid token (kind {kind})")

    def uploader(self, n: int) -> None:
        c = Client(self.args.url, f"127.0.0.{60 + n}")
        rng = random.Random(200 + n)
        data = open(self.args.clips[n % len(self.args.clips)], "rb").read()
        tus = {"Tus-Resumable": "1.0.0"}
        while not self.stop.is_set():
            try:
                status, _, h = c.request("POST", self.api + "/stream", None, {
                    **self.auth, **tus, "Upload-Length": str(len(data))})
                if status != 201:
                    raise RuntimeError(f"tus create: {status}")
                location = urlsplit(h["location"]).path
                uid = h["stream-media-id"]
                offset, conflicts = 0, 0
                while offset < len(data):
                    if rng.random() < 0.5:
                        self.cut_off(location, offset, data[offset:])
                        self.counts.add(interruptions=1)
                        _, _, hh = c.request("HEAD", location, None, {**self.auth, **tus})
                        offset = int(hh["upload-offset"])
                        continue
                    step = rng.randint(256 << 10, 1 << 20)
                    status, _, hh = c.request("PATCH", location, data[offset:offset + step], {
                        **self.auth, **tus, "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream"})
                    self.counts.add(requests=1)
                    if status == 409 and conflicts < MAX_CONFLICTS:
                        # The cut-off request may still hold the upload, or moved the
                        # offset: ask again, as tus clients do.
                        conflicts += 1
                        time.sleep(0.2)
                        _, _, hh = c.request("HEAD", location, None, {**self.auth, **tus})
                        offset = int(hh["upload-offset"])
                        continue
                    if status != 204:
                        raise RuntimeError(f"PATCH at {offset}: {status}")
                    offset = int(hh["upload-offset"])
                v = self.wait_ready(c, uid)
                if v["status"]["state"] == "ready" and v["size"] == len(data):
                    self.counts.add(uploads_done=1)
                else:
                    self.counts.add(uploads_lost=1)
                    self.counts.note(f"upload {uid}: {v['status']} size {v['size']}")
                self.call(c, "DELETE", f"/stream/{uid}")
            except (RuntimeError, OSError, KeyError) as e:
                self.counts.add(uploads_lost=1)
                self.counts.note(f"uploader {n}: {e}")

    def cut_off(self, location: str, offset: int, rest: bytes) -> None:
        """Starts a PATCH for all of `rest` and closes the socket part-way through."""
        u = urlsplit(self.args.url)
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        try:
            head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                    f"Authorization: {self.auth['Authorization']}\r\nUpload-Offset: {offset}\r\n"
                    "Content-Type: application/offset+octet-stream\r\n"
                    f"Content-Length: {len(rest)}\r\n\r\n").encode()
            s.sendall(head + rest[: max(1, len(rest) // 3)])
            time.sleep(0.05)
        finally:
            s.close()

    def revoker(self) -> None:
        c = Client(self.args.url, "127.0.0.80")
        while not self.stop.wait(REVOKE_EVERY_S):
            try:
                uid = random.choice(self.videos)
                key = self.call(c, "POST", "/stream/keys")
                now = int(time.time())
                token = jwt.encode({"sub": uid, "kid": key["id"], "exp": now + 600, "nbf": now - 60},
                                   base64.b64decode(key["pem"]), algorithm="RS256",
                                   headers={"kid": key["id"]})
                path = f"/{token}/manifest/v0/init.mp4"
                status, _, _ = c.request("GET", path)
                if status != 200:
                    self.counts.add(refused_valid=1)
                    self.counts.note(f"revoker: {status} before revocation")
                self.call(c, "DELETE", f"/stream/keys/{key['id']}")
                t = time.monotonic()
                while True:
                    status, _, _ = c.request("GET", path)
                    if status == 401:
                        break
                    if time.monotonic() - t > REVOCATION_DEADLINE_S:
                        self.counts.note("revoker: never refused")
                        break
                    time.sleep(0.005)
                with self.counts.lock:
                    self.counts.revocations.append(time.monotonic() - t)
            except (RuntimeError, OSError) as e:
                self.counts.note(f"revoker: {e}")

    def editor(self) -> None:
        c = Client(self.args.url, "127.0.0.81")
        i = 0
        while not self.stop.wait(EDIT_EVERY_S):
            try:
                uid = self.videos[i % len(self.videos)]
                self.call(c, "POST", f"/stream/{uid}", {"meta": {"name": f"soak {i}"}})
                self.counts.add(edits=1)
                i += 1
            except (RuntimeError, OSError) as e:
                self.counts.note(f"editor: {e}")

    def sampler(self, rows: list[tuple[int, int, int]]) -> None:
        start = time.monotonic()
        while True:
            rows.append((round(time.monotonic() - start), rss_kib(self.args.pid),
                         open_fds(self.args.pid)))
            if self.stop.wait(SAMPLE_EVERY_S):
                rows.append((round(time.monotonic() - start), rss_kib(self.args.pid),
                             open_fds(self.args.pid)))
                return

    def renewer(self) -> None:
        c = Client(self.args.url, "127.0.0.82")
        while not self.stop.wait(TOKEN_RENEW_S):
            try:
                self.renew_tokens(c)
            except (RuntimeError, OSError) as e:
                self.counts.note(f"renewer: {e}")

    # --- the run ---------------------------------------------------------------------

    def run(self) -> int:
        c = Client(self.args.url, "127.0.0.1")
        self.videos = [self.upload_ready(c, clip) for clip in self.args.clips]
        for uid in self.videos:
            self.call(c, "POST", f"/stream/{uid}", {"requireSignedURLs": True})
        self.renew_tokens(c)
        self.expired_key = self.call(c, "POST", "/stream/keys")
        rows: list[tuple[int, int, int]] = []
        threads = [threading.Thread(target=self.sampler, args=(rows,))]
        threads += [threading.Thread(target=self.player, args=(i,)) for i in range(PLAYERS)]
        threads += [threading.Thread(target=self.pest, args=(i,)) for i in range(PESTS)]
        threads += [threading.Thread(target=self.uploader, args=(i,)) for i in range(UPLOADERS)]
        threads += [threading.Thread(target=f) for f in (self.revoker, self.editor, self.renewer)]
        for t in threads:
            t.daemon = True
            t.start()
        self.stop.wait(self.args.minutes * 60)
        self.stop.set()
        for t in threads:
            t.join(timeout=120)
        return self.report(rows)

    def report(self, rows: list[tuple[int, int, int]]) -> int:
        k = self.counts
        print("\nseconds  RSS MiB  open fds")
        for t, rss, fds in rows:
            print(f"{t:7d}  {rss / 1024:7.1f}  {fds:8d}")
        rss = [r for _, r, _ in rows]
        fds = [f for _, _, f in rows]
        rev = k.revocations
        slow = sum(1 for r in rev if r > REVOCATION_BAR_S)
        print(f"\n{self.args.minutes} minutes, {k.requests} requests (players, pests, PATCHes)")
        print(f"RSS: first {rss[0] / 1024:.1f} MiB, last {rss[-1] / 1024:.1f}, max {max(rss) / 1024:.1f}")
        print(f"open fds: first {fds[0]}, last {fds[-1]}, max {max(fds)}")
        print(f"5xx: {k.server_errors}; valid tokens refused: {k.refused_valid}; "
              f"invalid tokens not refused as such: {k.pest_unexpected}")
        print(f"uploads: {k.uploads_done} completed after {k.interruptions} cut-offs, "
              f"{k.uploads_lost} lost")
        if rev:
            print(f"revocations: {len(rev)}, median {statistics.median(rev) * 1000:.0f} ms, "
                  f"max {max(rev) * 1000:.0f} ms, slower than 1 s: {slow}")
        print(f"edits during playback: {k.edits}")
        for n in k.notes:
            print(f"  note: {n}")
        failed = (k.server_errors or k.refused_valid or k.pest_unexpected or k.uploads_lost
                  or slow or not rev or not k.uploads_done)
        print("RESULT:", "FAIL" if failed else "PASS")
        return 1 if failed else 0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    p = argparse.ArgumentParser()
    for name in ("usher", "url", "account", "token", "work"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--clips", nargs="+", required=True)
    return Soak(p.parse_args()).run()


if __name__ == "__main__":
    raise SystemExit(main())
