"""docker-compose.yml and deploy/haproxy.cfg, checked without a Docker engine: the services
of a replicated deployment, wired as docs/OPERATIONS.md ("Replicas") says, and the balancer's
configuration exactly the one the two-replica test runs (tests/serving/test_replicas.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.replica_set import haproxy_config

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def test_the_compose_file_runs_a_balancer_two_replicas_and_postgresql() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", "replica1", "replica2", "balancer"}
    for name in ("replica1", "replica2", "migrate"):
        env = services[name]["environment"]
        assert "@postgres:5432/" in env["PARCELSCREEN_DATABASE_URL"]
        assert {"PARCELSCREEN_SECRET_KEY", "PARCELSCREEN_PSEUDONYMISATION_KEY"} <= set(env)
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("replica1", "replica2"):
        assert services[name]["command"] == ["serve"]
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )  # the schema first
        assert f"{name}:/data/state" in services[name]["volumes"]  # each its own anchor
    assert "8080:8080" in services["balancer"]["ports"]
    assert (
        "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
        in (services["balancer"]["volumes"])
    )


def test_the_balancer_config_is_the_tested_one_for_the_compose_replicas() -> None:
    expected = haproxy_config("0.0.0.0:8080", ["replica1:8080", "replica2:8080"], docker=True)
    assert (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8") == expected


def test_haproxy_accepts_the_balancer_config() -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("HAProxy is not installed (.ci/install-haproxy installs it)")
    done = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
