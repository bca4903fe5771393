"""The state of a run in its output folder, so that a killed run resumes where it stopped.

    OUT/run.json                 what the run is (manifest, its size and time, settings)
    OUT/parts/results-NNNNNN.parquet, quarantine-NNNNNN.parquet   one pair per chunk
    OUT/journal.jsonl            one line per finished chunk: counts and drift counts

Part files are written to a temporary name, synced, then renamed; a chunk's journal line is
appended (and synced) only after both of its parts are in place. A run killed at any point
(SIGKILL included) therefore leaves finished chunks that are complete and a chunk in flight
that is simply done again; a torn last journal line is ignored.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ._errors import ManifestError, ResumeError

STATE_FORMAT = 2  # 2: parcels counted towards each other (issue 18); 1 is not resumed


@dataclass(frozen=True)
class ChunkDone:
    """A finished chunk as the journal records it."""

    chunk: int
    first_row: int
    rows: int
    scored: int
    quarantined: int
    problems: int
    drift: dict[str, list[int]]


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, fsync the file, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    write_atomic(
        path,
        lambda tmp: tmp.write_text(
            json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        ),
    )


#: everything a run writes in its folder: ``--fresh`` removes it all, so nothing of an
#: earlier run (say its results.csv, when this one writes no CSV) stays beside the new one
OUTPUTS = (
    "parts",
    "journal.jsonl",
    "run.json",
    "summary.json",
    "results.parquet",
    "results.csv",
    "quarantine.parquet",
    "quarantine.csv",
    "inspection_list.parquet",
    "inspection_list.csv",
    "drift.json",
    "in-run",
)
SNAPSHOT = "history-snapshot"  # <SNAPSHOT>-<time>.sqlite (and its -wal, -shm) while running


class RunState:
    """Output folder of one run: identity, finished chunks, part files."""

    def __init__(self, out: Path, identity: dict[str, Any], fresh: bool = False) -> None:
        self.out = out
        self.parts = out / "parts"
        self.journal = out / "journal.jsonl"
        identity = {"state_format": STATE_FORMAT, **identity}
        self.identity = identity
        run_file = out / "run.json"
        if fresh and out.exists():
            for target in [out / name for name in OUTPUTS] + list(out.glob(f"{SNAPSHOT}-*")):
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        if run_file.exists():
            known = json.loads(run_file.read_text(encoding="utf-8"))
            if known != identity:
                changed = sorted(
                    k for k in set(known) | set(identity) if known.get(k) != identity.get(k)
                )
                older = "keys" not in known  # started before key fingerprints were kept
                raise ResumeError(
                    f"{out} holds another run (differs in: {', '.join(changed)})"
                    + (
                        "; it was started by an earlier version, which did not record the "
                        "keys' fingerprint"
                        if older
                        else ""
                    )
                    + "; use --fresh to start over or another --out folder"
                )
        else:
            write_json(run_file, identity)
        self.done: dict[int, ChunkDone] = {c.chunk: c for c in self._read_journal()}

    def _read_journal(self) -> Iterator[ChunkDone]:
        if not self.journal.exists():
            return
        text = self.journal.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            with self.journal.open("a", encoding="utf-8") as handle:
                handle.write("\n")  # close a torn line so the next entry starts clean
        for line in text.splitlines():
            try:
                entry = ChunkDone(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line torn by a kill: that chunk is done again
            if self.part("results", entry.chunk).exists():
                yield entry

    def part(self, kind: str, chunk: int) -> Path:
        return self.parts / f"{kind}-{chunk:06d}.parquet"

    def finish(self, entry: ChunkDone, results: pa.Table, quarantine: pa.Table) -> None:
        """Write a chunk's parts atomically, then journal it."""
        for kind, table in (("results", results), ("quarantine", quarantine)):
            write_atomic(self.part(kind, entry.chunk), lambda tmp, t=table: pq.write_table(t, tmp))
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(entry)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.done[entry.chunk] = entry

    def finished(self) -> list[ChunkDone]:
        return [self.done[k] for k in sorted(self.done)]


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file that others may be writing (SQLite's backup, in one
    read transaction), written under a temporary name and renamed into place."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise ManifestError(f"{source}: cannot copy the history store: {exc}") from exc
    finally:
        src.close()
    os.replace(tmp, target)
