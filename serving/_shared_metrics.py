"""Metrics across worker processes: prometheus_client's multiprocess mode, in a directory of
the service's own (setting ``metrics_dir``, by default a folder of ``/dev/shm`` named after
the record database: memory-mapped files on the record's disk would turn a full disk into a
worker's SIGBUS).

Each worker process keeps its counters and histograms in memory-mapped files of that
directory (``counter_<pid>.db``, ``histogram_<pid>.db``, prometheus_client's format) and its
recent scores, the drift window, in ``scores_<pid>.f32``. A scrape, whichever worker answers
it, reads every worker's files (prometheus_client's ``MultiProcessCollector``) and writes
nothing: not to the state database, not to the directory.

A worker holds a lock on ``alive_<pid>.lock`` while it runs; the kernel lets go of it when
the process ends, however it ends. The first worker of a run (it finds no live one) empties
the directory, as prometheus_client asks between runs: counters start again from zero when
the whole service restarts, which Prometheus reads as a reset. A worker started beside live
ones (uvicorn replacing one that died) keeps the dead one's counters, so that totals do not
go backwards, and removes only what described the dead process while it lived: its live
gauges (prometheus_client's ``mark_process_dead``), its drift window and its lock file.

prometheus_client reads the directory of its multiprocess mode from a process-wide variable
(``PROMETHEUS_MULTIPROC_DIR``). Here one process may hold several services (tests; an app
factory called twice), each with a directory of its own, so a metric's values are bound to a
directory when its labelled child is created inside :meth:`MetricsDirectory.binding`; every
other metric in the process keeps prometheus_client's own storage.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import re
import struct
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
from prometheus_client import values
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import mark_process_dead

#: A file of one worker: ``<kind>_<pid>.db`` (prometheus_client), ``.f32`` or ``.lock``.
_WORKER_FILE = re.compile(r"_(\d+)\.(db|f32|lock)$")
_COUNT = struct.Struct("<q")

_BOUND: ContextVar[MetricsDirectory | None] = ContextVar("metrics_directory", default=None)
_DEFAULT_VALUE = values.ValueClass


def _value(*args: Any, **kwargs: Any) -> Any:
    """prometheus_client's value factory: a file value while a directory is bound."""
    directory = _BOUND.get()
    if directory is None:
        return _DEFAULT_VALUE(*args, **kwargs)
    return _FileValue(directory, *args, **kwargs)


setattr(values, "ValueClass", _value)  # noqa: B010 (mypy: the module types it as a class)


class _FileValue:
    """One sample's value in this process's file of a metrics directory: prometheus_client's
    ``MmapedValue`` with the directory given instead of read from the environment. Values
    are read from the file and written back under the directory's lock, so that services of
    one process that share a directory count into the same sample."""

    _multiprocess = True

    def __init__(
        self,
        directory: MetricsDirectory,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Any,
        labelvalues: Any,
        help_text: str,
        multiprocess_mode: str = "",
        **_kwargs: Any,
    ) -> None:
        self._directory = directory
        self._prefix = f"{typ}_{multiprocess_mode}" if typ == "gauge" else typ
        self._key = mmap_key(metric_name, name, labelnames, labelvalues, help_text)
        self.get()  # written as 0 at once, as prometheus_client does

    def inc(self, amount: float) -> None:
        with self._directory.lock:
            file = self._directory.file(self._prefix)
            if file is not None:
                file.write_value(self._key, file.read_value(self._key)[0] + amount, 0.0)

    def set(self, value: float, timestamp: float | None = None) -> None:
        with self._directory.lock:
            file = self._directory.file(self._prefix)
            if file is not None:
                file.write_value(self._key, value, timestamp or 0.0)

    def get(self) -> float:
        with self._directory.lock:
            file = self._directory.file(self._prefix)
            return 0.0 if file is None else float(file.read_value(self._key)[0])

    def set_exemplar(self, exemplar: Any) -> None:
        return None

    def get_exemplar(self) -> None:
        return None


class ScoreWindow:
    """The last ``size`` scores of this worker in a file: a count (8 bytes), then a ring of
    float32 scores. Other workers read it at a scrape, for the drift (PSI) gauge."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        self._file: IO[bytes] = open(path, "w+b")  # noqa: SIM115 (closed by close())
        self._file.truncate(_COUNT.size + 4 * size)
        self._map = mmap.mmap(self._file.fileno(), _COUNT.size + 4 * size)
        self._ring: np.ndarray | None = np.ndarray((size,), np.float32, self._map, _COUNT.size)
        self._count = 0

    def add(self, score: float) -> None:
        """Called under the directory's lock."""
        if self._ring is None:
            return
        self._ring[self._count % self.size] = score
        self._count += 1
        _COUNT.pack_into(self._map, 0, self._count)

    def close(self) -> None:
        self._ring = None  # the array holds the map's buffer: it goes first
        self._map.close()
        self._file.close()


def read_window(path: Path) -> np.ndarray:
    """A worker's recent scores from its window file (empty if it is gone)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return np.empty(0)
    if len(data) < _COUNT.size:
        return np.empty(0)
    count = _COUNT.unpack_from(data)[0]
    ring = np.frombuffer(data, np.float32, offset=_COUNT.size)
    return ring[: max(0, min(count, len(ring)))].astype(np.float64)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _alive(lock: Path) -> bool:
    """Whether the worker of ``alive_<pid>.lock`` runs: it holds the lock while it does."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class MetricsDirectory:
    """This process's part of a service's metrics directory: its value files, its drift
    window and its liveness lock. One per directory and process, shared by the services of
    the process that use it (:meth:`open`, :meth:`close`)."""

    _open: ClassVar[dict[Path, MetricsDirectory]] = {}
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def open(cls, path: Path | str, window: int = 5000) -> MetricsDirectory:
        path = Path(path).resolve()
        with cls._open_lock:
            found = cls._open.get(path)
            if found is None:
                found = cls._open[path] = cls(path, window)
            found._users += 1
            return found

    def __init__(self, path: Path, window: int) -> None:
        self.path, self.pid = path, os.getpid()
        #: Guards this process's files of the directory.
        self.lock = threading.Lock()
        self._files: dict[str, MmapedDict] = {}
        self._users = 0
        self._closed = False
        path.mkdir(parents=True, exist_ok=True)
        with _locked(path / "directory.lock"):
            self._clean()
            self._alive = os.open(path / f"alive_{self.pid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._alive, fcntl.LOCK_EX)
            self._window = ScoreWindow(path / f"scores_{self.pid}.f32", window)

    def _workers(self) -> set[int]:
        found = (_WORKER_FILE.search(p.name) for p in self.path.iterdir())
        return {int(m[1]) for m in found if m} - {self.pid}

    def _clean(self) -> None:
        workers = self._workers()
        live = {pid for pid in workers if _alive(self.path / f"alive_{pid}.lock")}
        for pid in workers - live:
            mark_process_dead(pid, str(self.path))
            for name in (f"scores_{pid}.f32", f"alive_{pid}.lock"):
                (self.path / name).unlink(missing_ok=True)
        if not live:  # the first worker of a run: the last run's counts go
            for file in self.path.glob("*.db"):
                file.unlink()

    @contextlib.contextmanager
    def binding(self) -> Iterator[None]:
        """Values of metric children created inside live in this directory."""
        token = _BOUND.set(self)
        try:
            yield
        finally:
            _BOUND.reset(token)

    def file(self, prefix: str) -> MmapedDict | None:
        """This process's file of ``prefix`` values (None once closed); call under ``lock``."""
        found = self._files.get(prefix)
        if found is None and not self._closed:
            found = self._files[prefix] = MmapedDict(str(self.path / f"{prefix}_{self.pid}.db"))
        return found

    def add_score(self, score: float) -> None:
        with self.lock:
            if not self._closed:
                self._window.add(score)

    def recent_scores(self) -> np.ndarray:
        """The drift windows of every live worker (this one's included), one after another."""
        windows = [
            read_window(p)
            for p in sorted(self.path.glob("scores_*.f32"))
            if p.name == self._window.path.name or _alive(self.path / f"alive_{p.name[7:-4]}.lock")
        ]
        return np.concatenate(windows) if windows else np.empty(0)

    def close(self) -> None:
        """The last service of this process to let go ends its part: its live gauges and its
        drift window go, its counters stay for the totals of the run."""
        with MetricsDirectory._open_lock:
            self._users -= 1
            if self._users > 0:
                return
            del MetricsDirectory._open[self.path]
        with _locked(self.path / "directory.lock"), self.lock:
            self._closed = True
            for file in self._files.values():
                file.close()
            self._files.clear()
            self._window.close()
            mark_process_dead(self.pid, str(self.path))
            self._window.path.unlink(missing_ok=True)
            (self.path / f"alive_{self.pid}.lock").unlink(missing_ok=True)
            os.close(self._alive)
