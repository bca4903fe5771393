"""What answers without a key: only health. Model and server metadata, the API document and
its viewer need a sorter's key; /metrics any key (``monitor`` is the least role) or a client
in the ``metrics_networks`` allow-list; and ``parcelscreen serve`` trusts no proxy's
``X-Forwarded-For`` unless told which."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parcelscreen import _listen
from parcelscreen.cli import main
from serving import Settings, SettingsError
from tests.conftest import Trained
from tests.serving.conftest import Server, make_settings, start_server

MODEL = "/v2/models/parcelscreen-xgboost"


@pytest.mark.parametrize(
    ("path", "least", "below"),
    [
        ("/metrics", "monitor", None),  # a Prometheus scrape key is enough
        ("/v2", "sorter", "monitor"),  # server metadata
        (MODEL, "sorter", "monitor"),  # the feature names and the bundle hash
        (f"{MODEL}/ready", "sorter", "monitor"),
        ("/openapi.json", "sorter", "monitor"),  # the API document
        ("/docs", "sorter", "monitor"),  # and its viewer
    ],
)
def test_doors_are_closed_without_a_key(
    server: Server, path: str, least: str, below: str | None
) -> None:
    anonymous = server.client(None).get(path)
    assert anonymous.status_code == 401, anonymous.text[:200]
    assert "feature_names" not in anonymous.text and "parcelscreen_" not in anonymous.text
    if below is not None:
        assert server.client(below).get(path).status_code == 403
    assert server.client(least).get(path).status_code == 200


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_health_stays_open(server: Server, path: str) -> None:
    assert server.client(None).get(path).status_code == 200


def test_redoc_is_not_served(server: Server) -> None:
    assert server.client("admin").get("/redoc").status_code == 404


@pytest.fixture(scope="module")
def allowing(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose metrics are open to loopback clients (a Prometheus on the host)."""
    yield from start_server(
        make_settings(
            tmp_path_factory.mktemp("allow"), trained.registry, metrics_networks="127.0.0.0/8, ::1"
        )
    )


def test_an_allow_listed_network_scrapes_without_a_key(allowing: Server) -> None:
    scrape = allowing.client(None).get("/metrics")
    assert scrape.status_code == 200 and "parcelscreen_model_info{" in scrape.text
    assert allowing.client(None).get(MODEL).status_code == 401  # the list opens /metrics only


@pytest.mark.parametrize("value", ["10.0.5.0/24, 10.0.6.7", "::1", ""])
def test_metrics_networks_setting_accepts_networks(value: str, tmp_path: Path) -> None:
    Settings(data_dir=tmp_path, metrics_networks=value)


def test_metrics_networks_setting_refuses_what_is_no_network(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PARCELSCREEN_METRICS_NETWORKS: expected"):
        Settings(data_dir=tmp_path, metrics_networks="10.0.5.0/24, intranet")


class _Supervisor:
    """Stands in for uvicorn's supervisor: keeps the config, starts nothing."""

    seen: list[Any] = []

    def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
        self.seen.append(config)
        for sock in sockets:
            sock.close()

    def run(self) -> None:
        return None


@pytest.mark.skipif(not _listen.AVAILABLE, reason="workers share one socket off Linux")
@pytest.mark.parametrize(("setting", "trusted"), [(None, ""), ("10.0.0.1", "10.0.0.1")])
def test_serve_trusts_no_forwarding_proxy_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str | None, trusted: str
) -> None:
    """uvicorn's own default trusts X-Forwarded-For from loopback, where anyone on the host
    may connect and claim to be any client."""
    import uvicorn.supervisors

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", _Supervisor)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARCELSCREEN_WORKERS", "1")  # serve sets it; put back afterwards
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's variable does not count
    if setting is not None:
        monkeypatch.setenv("PARCELSCREEN_FORWARDED_ALLOW_IPS", setting)
    _Supervisor.seen.clear()
    assert main(["serve", "--workers", "2", "--port", "0"]) == 0
    (config,) = _Supervisor.seen
    assert config.forwarded_allow_ips == trusted
