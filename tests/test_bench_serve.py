"""bench._serve: the one start-and-wait of the benchmarks that run the service (http, chaos,
abuse), against real processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._serve import free_port, wait_ready

# A stand-in for the service: answers GET /v2/health/ready with the status it is given.
_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(int(sys.argv[2]) if self.path == "/v2/health/ready" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


def _serve(started: list[subprocess.Popen[bytes]], status: int) -> str:
    port = free_port()
    started.append(subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(status)]))
    return f"http://127.0.0.1:{port}"


def test_waits_until_the_service_answers_ready(serving: list[subprocess.Popen[bytes]]) -> None:
    url = _serve(serving, 200)
    wait_ready(url, serving[0], timeout=60)
    assert serving[0].poll() is None


def test_a_service_never_ready_is_an_error(serving: list[subprocess.Popen[bytes]]) -> None:
    url = _serve(serving, 503)
    with pytest.raises(RuntimeError, match="did not become ready in 1 s"):
        wait_ready(url, serving[0], timeout=1)


def test_a_service_that_exits_is_an_error_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text("error: no model in the registry\n")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    proc.wait(timeout=30)
    with pytest.raises(RuntimeError, match="exit status 3.*no model in the registry"):
        wait_ready(f"http://127.0.0.1:{free_port()}", proc, timeout=60, log=log)
