"""Scoring beside abuse: clean traffic alone, then beside each abusive pattern the service has
limits for, on one ``parcelscreen serve --workers 2`` on 127.0.0.1.

Clean traffic: ``clients`` keep-alive connections posting distinct simulated parcels to
``POST /v1/parcels:score`` for ``seconds``. Beside it, one pattern at a time, each at a fixed,
bounded rate from a process of its own (loopback only, for ``seconds``):

- oversized bodies: score requests declaring 50 MB (413 from the head) or streaming 3 MB
  chunked (413 past ``MAX_BODY_BYTES``, 2 MB), ``oversized_rate`` a second;
- header floods: heads of 20 KB in one header or of 150 header lines (431, cut at the first
  read past the limit), ``header_rate`` a second;
- slow-loris: ``slow_sockets`` connections each sending one header line a second and never
  finishing the head (408 after ``HEADER_TIMEOUT``, 10 s; then they connect again);
- metrics scrape flood: ``GET /metrics`` with a monitor key, ``scrape_rate`` a second (a
  Prometheus server scrapes every 15 to 60 s);
- all four at once.

Clean alone runs just before each pattern and once more at the end (the machine drifts); the
figure is the clean requests per second and p99 beside each pattern, as a fraction of clean
alone just before and after it (their mean; target: at least 0.8), and the count of 5xx
answers other than 503 to anyone, clean or abusive (target: 0).
The load generators are plain asyncio sockets with pre-built requests, each pattern and the
clean traffic in processes of their own; on a 2-core machine they share the cores with the
service, so their own work is part of what the abuse costs here. So the service's own CPU is
measured too (its processes' CPU time while the clean traffic runs): cores busy, and per clean
request answered, beside the same figures of clean alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench._serve import HOST, free_port, wait_ready

KEY = "bench-pseudonymisation-key-0123"
PATTERNS = ("oversized", "headers", "slowloris", "metrics")


# -- a minimal HTTP/1.1 client: cheap enough to leave the cores to the service --------------


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one answer: its status and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


def _post(path: str, key: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _clean(
    port: int, key: str, bodies: list[bytes], seconds: float, clients: int, start: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        i = start + k
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                request = _post("/v1/parcels:score", key, bodies[i % len(bodies)])
                i += clients
                began = time.perf_counter()
                try:
                    writer.write(request)
                    status, close = await asyncio.wait_for(_answer(reader), 30)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    status, close = 0, True  # no answer: counted as a failure (0)
                latencies.append(time.perf_counter() - began)
                statuses[status] += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    lat = np.array(latencies) * 1e3
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "seconds": seconds,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "statuses": {str(s): n for s, n in statuses.items()},
    }


async def _paced(rate: float, seconds: float, attempt: Any, workers: int = 8) -> None:
    """Run ``attempt()`` about ``rate`` times a second for ``seconds``, from ``workers``
    concurrent tasks (fewer when the server is slow to answer: the rate is a ceiling)."""
    deadline = time.perf_counter() + seconds
    gap = workers / rate

    async def worker(k: int) -> None:
        due = time.perf_counter() + k * gap / workers
        while due < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            due += gap
            await attempt()

    await asyncio.gather(*(worker(k) for k in range(workers)))


async def _once(port: int, head: bytes, body: Any, statuses: Counter[int]) -> None:
    """Open a connection, send ``head`` and then ``body`` (bytes, or a generator of chunks sent
    while the server reads them), count the answer's status (0: none, the connection cut)."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        statuses[-1] += 1  # refused to connect
        return
    answer = asyncio.ensure_future(asyncio.wait_for(_answer(reader), 40))
    try:
        writer.write(head)
        for chunk in [body] if isinstance(body, bytes) else body:
            if answer.done() or writer.is_closing():
                break
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass  # the server cut the connection: its answer may have come first
    try:
        status, _ = await answer
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        status = 0
    statuses[status] += 1
    writer.close()


def _chunks(total: int, size: int = 65_536) -> Any:
    piece = b"x" * size
    for _ in range(total // size):
        yield b"%x\r\n" % size + piece + b"\r\n"
    yield b"0\r\n\r\n"


async def _abuse(
    pattern: str, port: int, keys: dict[str, str], seconds: float, rates: dict[str, float]
) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    sorter = keys["sorter"]
    turn = [0]

    async def oversized() -> None:
        turn[0] += 1
        base = (
            f"POST /v1/parcels:score HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer "
            f"{sorter}\r\nContent-Type: application/json\r\n"
        )
        if turn[0] % 2:  # declares 50 MB: refused from the head
            head = (base + "Content-Length: 50000000\r\n\r\n").encode()
            await _once(port, head, b"x" * 65_536, statuses)
        else:  # streams 3 MB chunked: refused past the limit
            head = (base + "Transfer-Encoding: chunked\r\n\r\n").encode()
            await _once(port, head, _chunks(3_000_000), statuses)

    async def headers() -> None:
        turn[0] += 1
        if turn[0] % 2:  # one header of 20 KB
            head = f"GET /v1/status HTTP/1.1\r\nHost: {HOST}\r\nX-Pad: {'a' * 20_000}\r\n\r\n"
        else:  # 150 header lines
            lines = "".join(f"X-H{i}: v\r\n" for i in range(150))
            head = f"GET /v1/status HTTP/1.1\r\nHost: {HOST}\r\n{lines}\r\n"
        await _once(port, head.encode(), b"", statuses)

    async def scrape() -> None:
        head = (
            f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer "
            f"{keys['monitor']}\r\nConnection: close\r\n\r\n"
        ).encode()
        await _once(port, head, b"", statuses)

    async def slowloris() -> None:
        deadline = time.perf_counter() + seconds

        async def one() -> None:
            while time.perf_counter() < deadline:
                try:
                    reader, writer = await asyncio.open_connection(HOST, port)
                except OSError:
                    statuses[-1] += 1
                    await asyncio.sleep(1)
                    continue
                try:
                    writer.write(b"POST /v1/parcels:score HTTP/1.1\r\nHost: x\r\n")
                    answer = asyncio.ensure_future(_answer(reader))
                    n = 0
                    while not answer.done() and time.perf_counter() < deadline:
                        await asyncio.wait([answer], timeout=1.0)
                        if not answer.done():
                            writer.write(b"X-Slow-%d: 1\r\n" % n)
                            n += 1
                    if answer.done():
                        statuses[answer.result()[0]] += 1
                    else:
                        answer.cancel()
                except (OSError, asyncio.IncompleteReadError):
                    statuses[0] += 1
                finally:
                    writer.close()

        await asyncio.gather(*(one() for _ in range(int(rates["slowloris"]))))

    started = time.perf_counter()
    if pattern == "oversized":
        await _paced(rates["oversized"], seconds, oversized)
    elif pattern == "headers":
        await _paced(rates["headers"], seconds, headers)
    elif pattern == "metrics":
        await _paced(rates["metrics"], seconds, scrape, workers=4)
    else:
        await slowloris()
    return {
        "pattern": pattern,
        "seconds": time.perf_counter() - started,
        "statuses": {str(s): n for s, n in statuses.items()},
    }


def main_process(role: str, port: int, args: dict[str, Any]) -> None:
    """Entry of a load process: the clean traffic or one abusive pattern; JSON on stdout,
    with the CPU seconds the process itself used (``cpu``)."""
    cpu = time.process_time()
    if role == "clean":
        bodies = [line.encode() for line in Path(args["bodies"]).read_text().splitlines()]
        out = asyncio.run(
            _clean(port, args["key"], bodies, args["seconds"], args["clients"], args["start"])
        )
    else:
        out = asyncio.run(_abuse(role, port, args["keys"], args["seconds"], args["rates"]))
    print(json.dumps(out | {"cpu": time.process_time() - cpu}), flush=True)


def _spawn(role: str, port: int, args: dict[str, Any]) -> subprocess.Popen[str]:
    code = (
        "import json, sys; from bench.abuse import main_process; "
        "main_process(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, role, str(port), json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"a load process failed ({proc.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def _cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (the service's workers)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _phase(
    port: int,
    keys: dict[str, str],
    bodies: Path,
    seconds: float,
    clients: int,
    start: int,
    patterns: tuple[str, ...],
    rates: dict[str, float],
    server: int,
) -> dict[str, Any]:
    """One phase: the clean traffic for ``seconds``, beside ``patterns``; with the service's
    CPU seconds while the clean traffic ran (``server_cpu``)."""
    abusers = [
        _spawn(p, port, {"keys": keys, "seconds": seconds + 1.5, "rates": rates}) for p in patterns
    ]
    if abusers:
        time.sleep(1.0)  # the abuse under way before the clean traffic is measured
    used = _cpu(server)
    clean = _spawn(
        "clean",
        port,
        {
            "key": keys["sorter"],
            "bodies": str(bodies),
            "seconds": seconds,
            "clients": clients,
            "start": start,
        },
    )
    out: dict[str, Any] = {"clean": _result(clean, seconds + 120)}
    out["server_cpu"] = (_cpu(server) - used) / out["clean"]["seconds"]
    out["abuse"] = [_result(a, seconds + 120) for a in abusers]
    return out


def _bad_5xx(statuses: dict[str, int]) -> int:
    return sum(n for s, n in statuses.items() if int(s) >= 500 and int(s) != 503)


def run(
    seconds: float = 10.0,
    clients: int = 16,
    workers: int = 2,
    oversized_rate: float = 50,
    header_rate: float = 200,
    slow_sockets: int = 500,
    scrape_rate: float = 20,
) -> list[dict[str, Any]]:
    from bench.http import _declarations
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    rates = {
        "oversized": oversized_rate,
        "headers": header_rate,
        "slowloris": slow_sockets,
        "metrics": scrape_rate,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = SimulationConfig(
            parcels=60_000, inspection_rate=0.3, random_share=0.3, seed=3, prevalence=0.005
        )  # enough seizures to train on
        write_simulation(simulate(config), work / "data")
        run_training(work / "data", work / "registry", KEY, validate=False)
        bodies = work / "bodies.jsonl"
        bodies.write_text("\n".join(json.dumps(d) for d in _declarations(work / "data")) + "\n")
        port = free_port()
        env = os.environ | {
            "PARCELSCREEN_REGISTRY": str(work / "registry"),
            "PARCELSCREEN_DATA_DIR": str(work / "state"),
            "PARCELSCREEN_PSEUDONYMISATION_KEY": KEY,
            "PARCELSCREEN_RELOAD_SECONDS": "0",
            "PARCELSCREEN_POSTED_DAYS_BACK": "36500",  # the simulated days lie in the past
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
            ),
        }
        keys = {
            role: json.loads(_cli(env, "keys", "create", "--role", role))["key"]
            for role in ("sorter", "monitor")
        }
        log = (work / "serve.log").open("w")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parcelscreen",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            wait_ready(f"http://{HOST}:{port}", server, log=work / "serve.log")
            # clean alone before each pattern and once more at the end: each pattern's
            # baseline is the mean of the runs just before and just after it (the machine
            # drifts by tens of percent within minutes)
            plan: list[tuple[str, tuple[str, ...]]] = [("warm-up", ())]
            for name, patterns in (*((p, (p,)) for p in PATTERNS), ("all four", PATTERNS)):
                plan += [(f"alone before {name}", ()), (name, patterns)]
            plan.append(("alone at the end", ()))
            runs: dict[str, dict[str, Any]] = {}
            for k, (name, patterns) in enumerate(plan):
                runs[name] = _phase(
                    port,
                    keys,
                    bodies,
                    3.0 if name == "warm-up" else seconds,
                    clients,
                    k * 5_000,
                    patterns,
                    rates,
                    server.pid,
                )
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
    return _rows(runs, rates, clients, workers)


def _rows(
    runs: dict[str, dict[str, Any]], rates: dict[str, float], clients: int, workers: int
) -> list[dict[str, Any]]:
    what = {
        "oversized": f"oversized bodies, {rates['oversized']:g}/s",
        "headers": f"header floods, {rates['headers']:g}/s",
        "slowloris": f"slow-loris, {rates['slowloris']:g} sockets",
        "metrics": f"metrics scrapes, {rates['metrics']:g}/s",
        "all four": "all four at once",
    }
    names = (*PATTERNS, "all four")
    alone = [runs[f"alone before {n}"]["clean"] for n in names] + [
        runs["alone at the end"]["clean"]
    ]

    def row(figure: str, ours: float, base: float | None, unit: str) -> dict[str, Any]:
        return {
            "figure": figure,
            "ours": round(ours, 3),
            "baseline": None if base is None else round(base, 3),
            "unit": unit,
            "ratio": None if not base else round(ours / base, 2),
        }

    rows = [
        row(
            f"clean score alone, {clients} clients, {workers} workers, mean",
            float(np.mean([r["rps"] for r in alone])),
            None,
            "requests/s",
        ),
        row("  p99, mean", float(np.mean([r["p99"] for r in alone])), None, "ms"),
        row("  runs: lowest requests/s", min(r["rps"] for r in alone), None, "requests/s"),
        row("  runs: highest requests/s", max(r["rps"] for r in alone), None, "requests/s"),
    ]
    bad = sum(_bad_5xx(r["statuses"]) for r in alone) + _bad_5xx(
        runs["warm-up"]["clean"]["statuses"]
    )
    lone = [runs[f"alone before {n}"] for n in names] + [runs["alone at the end"]]
    for k, name in enumerate(names):
        before, after = alone[k], alone[k + 1]
        base_rps, base_p99 = (before["rps"] + after["rps"]) / 2, (before["p99"] + after["p99"]) / 2
        clean = runs[name]["clean"]
        rows += [
            row(
                f"clean beside {what[name]}: requests/s",
                clean["rps"],
                base_rps,
                "requests/s; baseline: clean alone just before and after (target: ratio >= 0.8)",
            ),
            row("  p99", clean["p99"], base_p99, "ms"),
            row(
                "  service CPU, cores busy",
                runs[name]["server_cpu"],
                (lone[k]["server_cpu"] + lone[k + 1]["server_cpu"]) / 2,
                "cores",
            ),
            row(
                "  service CPU per clean request",
                runs[name]["server_cpu"] / clean["rps"] * 1e3,
                (lone[k]["server_cpu"] / before["rps"] + lone[k + 1]["server_cpu"] / after["rps"])
                / 2
                * 1e3,
                "ms",
            ),
            row(
                "  load generators' CPU, cores busy (abuse / clean)",
                sum(a["cpu"] for a in runs[name]["abuse"]) / clean["seconds"],
                clean["cpu"] / clean["seconds"],
                "cores",
            ),
        ]
        seen: Counter[str] = Counter(clean["statuses"])
        for abuse in runs[name]["abuse"]:
            seen.update(abuse["statuses"])
            answered = ", ".join(f"{s}: {n}" for s, n in sorted(abuse["statuses"].items()))
            rows.append(
                {
                    "figure": f"  {abuse['pattern']} answers ({answered})"[:52],
                    "ours": sum(abuse["statuses"].values()),
                    "baseline": None,
                    "unit": f"attempts ({answered}; 0: connection cut, no answer)",
                }
            )
        rows.append(
            row(
                "  clean answers not 200",
                sum(n for s, n in clean["statuses"].items() if s != "200"),
                None,
                "count",
            )
        )
        bad += _bad_5xx(dict(seen))
    rows.append(row("5xx other than 503, to anyone, whole run (target 0)", bad, None, "count"))
    return rows


if __name__ == "__main__":
    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0):
        print(json.dumps(r))
