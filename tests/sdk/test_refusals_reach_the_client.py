"""A refusal must reach the client as an HTTP answer, never as a reset (issue 14 item 2).

Node's `fetch` (undici) and browsers send a request body without `Expect:
100-continue` and read the answer only once the whole body is out; Python `requests`
does the same. Every refusal that comes before the body is read — a used or unknown
direct upload URL, tus PATCH refusals (409, 412, 413, 415), bad or missing credentials,
a basic upload over the limit — is sent with bodies of 64 KiB, 1 MiB and 20 MiB by both
clients, and each must see the status, not "fetch failed" or a broken pipe.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from helpers import HTTP_TIMEOUT_S

SIZES = {"64KiB": 64 << 10, "1MiB": 1 << 20, "20MiB": 20 << 20}
NODE_SCRIPT = Path(__file__).parent / "node" / "send_bodies.mjs"


@pytest.fixture
def refusals(make_server):
    """A server with a small basic-upload limit, and the refused requests to send."""
    srv = make_server("--max-upload-bytes", "10000")
    acct, bearer = srv.acct("a"), srv.bearer("a")
    tus = {"Tus-Resumable": "1.0.0"}
    # A direct upload URL used once, and a tus upload of 1000 bytes.
    du = srv.request("POST", f"/accounts/{acct}/stream/direct_upload",
                     json={"maxDurationSeconds": 60}).json()["result"]["uploadURL"]
    tiny = {"file": ("a.mp4", b"x" * 100)}
    assert requests.post(du, files=tiny, timeout=HTTP_TIMEOUT_S).status_code in (200, 400)
    created = srv.request("POST", f"/accounts/{acct}/stream",
                          headers={**tus, "Upload-Length": "1000"})
    assert created.status_code == 201, created.text
    tus_url = created.headers["location"]
    octet = {"Content-Type": "application/offset+octet-stream"}
    cases = [
        ("used direct upload URL", "POST", du, {"Content-Type": "application/octet-stream"}, 409),
        ("unknown direct upload URL", "POST", f"{srv.url}/upload/nope", {}, 404),
        ("tus wrong offset", "PATCH", tus_url, {**bearer, **tus, **octet, "Upload-Offset": "7"},
         409),
        ("tus wrong content type", "PATCH", tus_url,
         {**bearer, **tus, "Upload-Offset": "0", "Content-Type": "text/plain"}, 415),
        ("tus wrong version", "PATCH", tus_url,
         {**bearer, "Tus-Resumable": "0.2.0", **octet, "Upload-Offset": "0"}, 412),
        ("tus past its length", "PATCH", tus_url, {**bearer, **tus, **octet, "Upload-Offset": "0"},
         413),
        ("tus without credentials", "PATCH", tus_url, {**tus, **octet, "Upload-Offset": "0"}, 400),
        ("upload with wrong credentials", "POST", f"{srv.api}/accounts/{acct}/stream",
         {"Authorization": "Bearer wrong", "Content-Type": "multipart/form-data; boundary=x"},
         403),
        # Over the limit by its Content-Length (20 MiB, 1 MiB); 64 KiB is within the
        # allowance for multipart framing, and then refused as not multipart at all.
        ("upload over the limit", "POST", f"{srv.api}/accounts/{acct}/stream",
         {**bearer, "Content-Type": "multipart/form-data; boundary=x"},
         {"64KiB": 400, "1MiB": 413, "20MiB": 413}),
    ]
    return srv, cases


def expected(cases, size_name: str) -> dict[str, int]:
    return {f"{name} ({size_name})": status[size_name] if isinstance(status, dict) else status
            for name, _, _, _, status in cases}


@pytest.mark.parametrize("size_name", list(SIZES))
def test_node_fetch_sees_every_refusal(refusals, size_name):
    srv, cases = refusals
    plan = {"requests": [{"name": f"{name} ({size_name})", "method": method, "url": url,
                          "headers": headers, "size": SIZES[size_name]}
                         for name, method, url, headers, _ in cases]}
    out = subprocess.run(["node", str(NODE_SCRIPT)], input=json.dumps(plan), text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = {r["name"]: r.get("status", r.get("error")) for r in json.loads(out.stdout)["results"]}
    assert got == expected(cases, size_name), srv.log_tail()


@pytest.mark.parametrize("size_name", list(SIZES))
def test_python_requests_sees_every_refusal(refusals, size_name):
    srv, cases = refusals
    got = {}
    for name, method, url, headers, _ in cases:
        try:
            r = requests.request(method, url, headers=headers, data=b"a" * SIZES[size_name],
                                 timeout=HTTP_TIMEOUT_S)
            got[f"{name} ({size_name})"] = r.status_code
        except requests.RequestException as e:
            got[f"{name} ({size_name})"] = f"{type(e).__name__}: {e}"
    assert got == expected(cases, size_name), srv.log_tail()
