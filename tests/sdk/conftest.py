"""Fixtures for the SDK suite.

- `server`: one `usher serve` per session (fresh temp data dir) with two accounts,
  "a" and "b", created by `usher account create --json` before it starts.
- `make_server`: extra servers with special flags (tiny upload limit, token rate
  limit), stopped at the end of the test.
- `clip`: a 4 s 320x240 H.264/AAC MP4 made with ffmpeg lavfi, once per session.
- `ready_video`: that clip uploaded to account "a" and processed to `ready`, shared.
- `video_b`, `key_b`: account "b"'s own video and signing key, for isolation tests.
- `origins`: throwaway HTTP origins on loopback, recording what they were asked for
  (for copies from a URL: videos, audio tracks, watermark images).

Every server is stopped with SIGTERM and must exit 0 (SPEC §2).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import helpers
from helpers import Origin, Respond, UsherServer, create_account, make_clip


def pytest_configure(config: pytest.Config) -> None:
    try:
        helpers.usher_bin()
    except RuntimeError as e:
        raise pytest.UsageError(str(e)) from None


_serial = itertools.count()


def _start(tmp_factory: pytest.TempPathFactory, accounts: tuple[str, ...],
           extra_args: tuple[str, ...]) -> UsherServer:
    n = next(_serial)
    data_dir = tmp_factory.mktemp(f"usher-data-{n}")
    logs = tmp_factory.mktemp(f"usher-log-{n}")  # outside the data dir on purpose
    srv = UsherServer(data_dir=data_dir, log_path=logs / "serve.log", extra_args=extra_args)
    for name in accounts:
        srv.accounts[name] = create_account(data_dir, f"{name}-{n}@example.com")
    return srv.start()


def _stop(srv: UsherServer) -> None:
    code = srv.stop()
    assert code == 0, f"usher serve exited {code} after SIGTERM\n--- log ---\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = _start(tmp_path_factory, ("a", "b"), ())
    yield srv
    _stop(srv)


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., UsherServer]:
    started: list[UsherServer] = []

    def make(*extra_args: str, accounts: tuple[str, ...] = ("a", "b"),
             share: UsherServer | None = None) -> UsherServer:
        """A new server; with `share`, a second process on that server's data dir."""
        if share is None:
            srv = _start(tmp_path_factory, accounts, tuple(extra_args))
        else:
            logs = tmp_path_factory.mktemp(f"usher-log-{next(_serial)}")
            srv = UsherServer(data_dir=share.data_dir, log_path=logs / "serve.log",
                              extra_args=tuple(extra_args), accounts=dict(share.accounts))
            srv.start()
        started.append(srv)
        return srv

    yield make
    errors = []
    for srv in reversed(started):
        try:
            _stop(srv)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, errors


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


@dataclass
class ReadyVideo:
    uid: str
    upload_result: dict  # the video object in the upload response
    states_seen: list[str]  # distinct states seen while polling, in order
    size: int


@pytest.fixture(scope="session")
def ready_video(server: UsherServer, clip: Path) -> ReadyVideo:
    uploaded = server.upload_ok(clip)
    video, seen = server.wait_for_state(uploaded["uid"])
    assert video.status.state == "ready", (video.status, server.log_tail())
    return ReadyVideo(uid=uploaded["uid"], upload_result=uploaded, states_seen=seen,
                      size=clip.stat().st_size)


@pytest.fixture(scope="session")
def video_b(server: UsherServer, clip: Path) -> dict:
    """Account b's video (its processing state does not matter to the tests using it)."""
    return server.upload_ok(clip, name="b-private.mp4", account="b")


@pytest.fixture(scope="session")
def key_b(server: UsherServer):
    key = server.client("b").stream.keys.create(account_id=server.acct("b"))
    assert key is not None and key.id
    return key


@pytest.fixture
def origins():
    started: list[Origin] = []

    def start(host: str, respond: Respond) -> Origin:
        o = Origin(host, respond)
        started.append(o)
        return o

    yield start
    for o in started:
        o.close()
