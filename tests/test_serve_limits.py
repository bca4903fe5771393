"""``parcelscreen serve`` bounds what a client can make it hold (issue 16): request heads by
size and by number of lines, the time a head and a body may take, idle connections.

The service runs here under the uvicorn options ``serve`` uses (``uvicorn_options``), on
127.0.0.1, with time-outs of one second; every test is bounded in bytes and in time. The
tests assert what the server did (closed the connection, answered 408 naming its time-out),
not how quickly: the clock bounds here (``GUARD``) only keep a broken server from hanging
the suite, and are far above the time-outs under test, whatever the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from parcelscreen import _serve_cmd
from parcelscreen._protocol import HttpLimits, LimitedHttpToolsProtocol
from serving import Settings, create_app
from tests.conftest import Trained
from tests.serving.conftest import make_settings

TIMEOUT = 1.0  # header_timeout and body_timeout of the server under test
HEAD = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
GUARD = 60.0  # seconds: longer than any time-out under test, only against a hang


@pytest.fixture(scope="module")
def address(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    settings = make_settings(
        tmp_path_factory.mktemp("limits"),
        trained.registry,
        header_timeout=TIMEOUT,
        body_timeout=TIMEOUT,
        keep_alive_timeout=int(GUARD) * 10,
    )
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_level="error",
        access_log=False,
        lifespan="on",
        **_serve_cmd.uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=10)


def _answer(sock: socket.socket, seconds: float = GUARD) -> bytes:
    """What the server sends until it closes the connection (b"" if it resets it)."""
    sock.settimeout(seconds)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def _stream(sock: socket.socket, prefix: bytes, filler: bytes, total: int) -> int:
    """Send ``prefix`` then ``filler`` until ``total`` bytes or the server cuts the
    connection; return the bytes sent."""
    sent = 0
    try:
        sock.sendall(prefix)
        sent = len(prefix)
        while sent < total:
            sock.sendall(filler)
            sent += len(filler)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent


def test_ordinary_requests_pass_and_connections_are_kept_alive(address: tuple[str, int]) -> None:
    with httpx.Client(base_url=f"http://{address[0]}:{address[1]}", timeout=10) as client:
        for _ in range(3):  # one connection, kept alive between them
            assert client.get("/v2/health/live", headers={"x-a": "b" * 8000}).status_code == 200


def test_a_head_over_the_limit_gets_431(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sock.sendall(HEAD + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"larger than the limit of 16384 bytes" in answer


def test_a_100_mb_header_is_cut_off_after_the_first_reads(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sent = _stream(sock, HEAD + b"X-Big: ", b"a" * 65536, 100 * 1024 * 1024)
        answer = _answer(sock)
    assert sent < 32 * 1024 * 1024, f"{sent} bytes of the header were taken in"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")


def test_100000_header_lines_are_cut_off(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sent = _stream(sock, HEAD, b"X-L: 1\r\n" * 1000, 100_000 * 8)
        answer = _answer(sock)
    assert sent < 100_000 * 8 or answer.startswith(b"HTTP/1.1 431 ")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")


def test_more_header_lines_than_the_limit_get_431(address: tuple[str, int]) -> None:
    with _connect(address) as sock:  # 101 short lines: well under the byte limit
        sock.sendall(HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"more than 100 header lines" in answer


def test_slow_loris_sockets_are_closed_after_the_header_timeout(address: tuple[str, int]) -> None:
    """60 sockets send a head a byte every 0.2 s and 10 more send nothing: all are closed
    by the header time-out (408 naming it), not held for ever."""
    slow = [_connect(address) for _ in range(60)]
    idle = [_connect(address) for _ in range(10)]
    started = time.monotonic()
    try:
        for sock in slow:
            sock.sendall(HEAD)
        open_ = {s.fileno(): s for s in slow + idle}
        answers: dict[int, bytes] = {}
        while open_ and time.monotonic() - started < GUARD:
            readable, _, _ = select.select(list(open_.values()), [], [], 0.2)
            for sock in readable:
                answers[sock.fileno()] = _answer(sock)
                del open_[sock.fileno()]
            for sock in open_.values():
                if sock in slow:
                    with contextlib.suppress(OSError):
                        sock.send(b"X")
        took = time.monotonic() - started
        assert not open_, f"{len(open_)} of 70 sockets still open after {took:.1f} s"
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408 ") for a in answers.values())
        assert any(
            a.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 1 s" in a
            for a in answers.values()
        )
    finally:
        for sock in slow + idle:
            sock.close()


def test_a_body_that_stops_coming_is_cut_off(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/parcels:score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a"'
        )
        _answer(sock)  # the server closes it (a TimeoutError here: it never did)
        took = time.monotonic() - started
    assert took > TIMEOUT * 0.9  # the body's time-out (keep-alive is far longer), no earlier


def test_serve_runs_uvicorn_with_the_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import serving

    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: called.update(options))
    monkeypatch.setattr(serving, "create_app", lambda settings: None)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARCELSCREEN_MAX_HEADERS", "50")
    assert _serve_cmd.run(argparse.Namespace(port=None, workers=None)) == 0
    protocol = called["http"]
    assert protocol.func is LimitedHttpToolsProtocol
    assert protocol.keywords["limits"] == HttpLimits(16_384, 50, 10.0, 30.0)
    assert (called["timeout_keep_alive"], called["limit_concurrency"]) == (5, 1000)
    # the options travel to each worker process of ``serve --workers N``
    assert pickle.loads(pickle.dumps(protocol)).keywords == protocol.keywords


def test_the_defaults_are_the_documented_ones() -> None:
    defaults = {name: f.default for name, f in Settings.model_fields.items()}
    assert {
        name: defaults[name]
        for name in (
            "max_header_bytes",
            "max_headers",
            "header_timeout",
            "body_timeout",
            "keep_alive_timeout",
            "max_concurrency",
            "posted_days_back",
            "posted_days_ahead",
        )
    } == {
        "max_header_bytes": 16_384,
        "max_headers": 100,
        "header_timeout": 10.0,
        "body_timeout": 30.0,
        "keep_alive_timeout": 5,
        "max_concurrency": 1000,
        "posted_days_back": 90.0,
        "posted_days_ahead": 2.0,
    }
    assert HttpLimits() == HttpLimits(16_384, 100, 10.0, 30.0)
