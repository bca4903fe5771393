"""``python -m bench [NAME ...]``: run benchmarks, print one table, save the figures as JSON.

Each benchmark runs in its own process (so its peak memory is its own) and returns rows of
``figure, ours, baseline, unit``: this project's figure beside a peer baseline measured in the
same run, with the ratio. Machines are shared and noisy: read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NAMES = (
    "simulate",
    "train",
    "quality",
    "score",
    "http",
    "batch",
    "explain",
    "chaos",
    "loop",
    "abuse",
    "realdata",
    "exchange",
)
QUICK = {
    "simulate": {"parcels": 200_000},
    "train": {"parcels": 200_000},
    "quality": {"parcels": 100_000},
    "batch": {"rows": 200_000, "memory_rows": None},
    "explain": {"rows": 20_000, "baseline_rows": 2_000},
    "loop": {"quick": True},
    "http": {"seconds": 5.0, "rounds": 1},
    "chaos": {"rounds": 6},
    "abuse": {"seconds": 4.0},
    "realdata": {"seeds": "1,2"},
    "exchange": {"seeds": "1,2", "parcels_per_week": 1000},
}


def _run_one(name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    code = (
        f"import json, sys; from bench.{name} import run; json.dump(run(**{params!r}), sys.stdout)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return [
            {
                "figure": f"{name}: failed",
                "ours": None,
                "baseline": None,
                "unit": "",
                "error": " | ".join(tail),
            }
        ]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _ratio(row: dict[str, Any]) -> str:
    if row.get("ratio"):
        return str(row["ratio"])
    ours, base = row.get("ours"), row.get("baseline")
    if isinstance(ours, int | float) and isinstance(base, int | float) and base:
        return f"{ours / base:.1f}x"
    return ""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(NAMES)})",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench.json"))
    loop = parser.add_argument_group("loop", "settings of the inspection loop (bench loop)")
    loop.add_argument("--seeds", help="comma list of seeds (default 1,2,3,4,5; quick 1,2,3)")
    loop.add_argument("--prevalence", help="one share or a comma list (default 0.0005)")
    loop.add_argument("--weeks", type=int, help="weeks compared (default 26; quick 13)")
    loop.add_argument("--capacity", type=float, help="share of each day opened (default 0.02)")
    train = parser.add_argument_group("train", "settings of bench train")
    train.add_argument("--parcels", type=int, help="parcels simulated (default 1,000,000)")
    train.add_argument(
        "--dask", action="store_true", help="train on a local Dask cluster beside one process"
    )
    train.add_argument("--workers", type=int, help="workers of that cluster (default 2)")
    scale = parser.add_argument_group("replicas", "settings of bench chaos and bench http")
    scale.add_argument(
        "--replicas", type=int, help="serve replicas behind HAProxy (needs --database postgresql)"
    )
    scale.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        help="where the record lives (default sqlite)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "benchmarks": {},
    }
    print(f"{'figure':52s} {'ours':>12s} {'baseline':>12s} {'ratio':>8s}  unit")
    for name in args.names or NAMES:
        started = time.perf_counter()
        params = dict(QUICK.get(name, {})) if args.quick else {}
        if name == "loop":
            params |= {
                k: v
                for k in ("seeds", "prevalence", "weeks", "capacity")
                if (v := getattr(args, k)) is not None
            }
        if name == "train":
            params |= {
                k: v
                for k in ("parcels", "dask", "workers")
                if (v := getattr(args, k)) not in (None, False)
            }
            if args.dask and args.seeds:  # the two models over seeds (bench/train_dask.py)
                params["seeds"] = args.seeds
        if name in ("chaos", "http"):
            params |= {
                k: v for k in ("replicas", "database") if (v := getattr(args, k)) is not None
            }
        rows = _run_one(name, params)
        results["benchmarks"][name] = {"seconds": time.perf_counter() - started, "rows": rows}
        for row in rows:
            print(
                f"{row['figure'][:52]:52s} {_cell(row.get('ours')):>12s} "
                f"{_cell(row.get('baseline')):>12s} {_ratio(row):>8s}  {row.get('unit', '')}"
                + (f"  {row['error']}" if row.get("error") else "")
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
