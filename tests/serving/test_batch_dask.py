"""Dask: the batch run over pieces on a 2-worker LocalCluster equals the single-process run;
XGBoost trains on a LocalCluster (xgboost.dask) as it does on one machine."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from serving.batch import BatchConfig, Capacity, _dask, screen
from serving.batch._dask import plan, screen_piece
from tests.serving.batch_fixtures import World, world

pytestmark = pytest.mark.slow
T = TypeVar("T")


def _in_background(call: Callable[[], T]) -> Future[T]:
    """The outcome of a call run in a daemon thread: a run that hangs fails its test without
    holding up pytest's exit (a ThreadPoolExecutor's threads are joined when Python exits)."""
    outcome: Future[T] = Future()

    def target() -> None:
        try:
            outcome.set_result(call())
        except BaseException as exc:
            outcome.set_exception(exc)

    threading.Thread(target=target, daemon=True).start()
    return outcome


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def test_pieces_cover_every_row_group_once(w: World) -> None:
    pieces = plan(w.manifest, 600)
    assert [p[1] for p in pieces] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert [p[2] for p in pieces] == [1, 751, 1501]


def test_dask_run_equals_single_process_run(w: World, tmp_path: Path) -> None:
    def config(out: Path, **kwargs: Any) -> BatchConfig:
        return BatchConfig(
            w.manifest,
            out,
            w.spec(),
            Capacity.parse("3%"),
            chunk_rows=600,
            progress_bar=False,
            **kwargs,
        )

    local = screen(config(tmp_path / "local"))
    dask = screen(config(tmp_path / "dask", dask="local", dask_workers=2, dask_processes=False))
    assert dask["mode"] == "dask" and dask["reconciled"] and dask["rows_scored"] == 2000
    for name in ("results.parquet", "inspection_list.parquet", "quarantine.parquet"):
        assert pq.read_table(tmp_path / "dask" / name).equals(
            pq.read_table(tmp_path / "local" / name)
        )
    for name in ("drift.json",):
        assert (tmp_path / "dask" / name).read_text() == (tmp_path / "local" / name).read_text()
    assert {k: v for k, v in dask.items() if k not in ("seconds", "mode", "chunks")} == {
        k: v for k, v in local.items() if k not in ("seconds", "mode", "chunks")
    }


def test_xgboost_trains_on_a_dask_cluster(trained: Any) -> None:
    """xgboost.dask over 2 workers learns what single-machine XGBoost learns."""
    import dask.array as da
    import xgboost
    import xgboost.dask
    from dask.distributed import Client, LocalCluster

    from screening import Pseudonymiser, feature_matrix, fit_feature_spec, frame_from_table, replay

    table = pq.read_table(trained.data / "declarations.parquet").slice(0, 6000)
    outcomes = pq.read_table(trained.data / "outcomes.parquet")
    seized = set(
        outcomes.filter(pc.equal(outcomes.column("result"), "seized")).column("item_id").to_pylist()
    )
    inspected = set(outcomes.filter(outcomes.column("inspected")).column("item_id").to_pylist())
    frame = frame_from_table(table, Pseudonymiser(trained.key))
    matrix = feature_matrix(frame, replay(frame, []), fit_feature_spec(frame))
    keep = np.array([i in inspected for i in frame.item_id])
    x = matrix[keep]
    y = np.array([i in seized for i in frame.item_id[keep]], dtype=np.float32)
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": 3,
        "eta": 0.3,
        "nthread": 1,
        "seed": 0,
    }
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dx = da.from_array(x, chunks=(len(x) // 2 + 1, x.shape[1]))
        dy = da.from_array(y, chunks=(len(y) // 2 + 1,))
        dtrain = xgboost.dask.DaskDMatrix(client, dx, dy, missing=np.nan)
        out = xgboost.dask.train(client, params, dtrain, num_boost_round=20)
        distributed = xgboost.dask.predict(client, out["booster"], dx).compute()
    single = xgboost.train(params, xgboost.DMatrix(x, y, missing=np.nan), num_boost_round=20)
    local = single.predict(xgboost.DMatrix(x, missing=np.nan))
    assert y.sum() > 5
    assert np.corrcoef(distributed, local)[0, 1] > 0.9


def test_two_runs_on_one_scheduler_keep_their_own_results(w: World, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    table = pq.read_table(w.manifest)
    for name, part in (("a", table.slice(0, 1000)), ("b", table.slice(1000, 1000))):
        pq.write_table(part, tmp_path / f"{name}.parquet", row_group_size=250)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:

        def run(name: str) -> dict[str, Any]:
            return screen(
                BatchConfig(
                    tmp_path / f"{name}.parquet",
                    tmp_path / name,
                    w.spec(),
                    Capacity.parse("3%"),
                    chunk_rows=250,
                    progress_bar=False,
                    dask=cluster.scheduler_address,
                )
            )

        # bounded: each run's as_completed once waited on the other run's client loop, and hung
        # when that run closed its client first (issue 22); a failure says so instead of a hang
        runs = [_in_background(functools.partial(run, name)) for name in ("a", "b")]
        _, waiting = wait(runs, timeout=600)
        assert not waiting, "a run on the shared scheduler never finished (issue 22)"
        summaries = [r.result() for r in runs]
    assert all(s["reconciled"] for s in summaries)
    for name in ("a", "b"):
        got = pq.read_table(tmp_path / name / "results.parquet").column("item_id")
        assert got.equals(pq.read_table(tmp_path / f"{name}.parquet").column("item_id"))


_STARTED = threading.Event()
_GO = threading.Event()


def _held_piece(*args: Any) -> Any:
    """A piece that waits for the test's word first (module level: tasks pickle by name)."""
    _STARTED.set()
    if not _GO.wait(120):
        raise TimeoutError("the test never let the piece go")
    return screen_piece(*args)


def test_a_run_waits_on_its_own_client_when_another_closes(
    w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22, made certain: a run started while another client of the process is the
    default (here the caller's current one; in the race above, the other run's) finishes
    although that client closes while the run's pieces are still running."""
    from dask.distributed import Client, LocalCluster

    monkeypatch.setattr(_dask, "screen_piece", _held_piece)
    _STARTED.clear()
    _GO.clear()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        other = Client(cluster.scheduler_address)  # its own event loop, stopped by close()

        def run() -> dict[str, Any]:
            with other.as_current():  # the default client of the run's thread
                return screen(
                    BatchConfig(
                        w.manifest,
                        tmp_path / "out",
                        w.spec(),
                        Capacity.parse("3%"),
                        chunk_rows=600,
                        progress_bar=False,
                        dask=cluster.scheduler_address,
                    )
                )

        try:
            job = _in_background(run)
            assert _STARTED.wait(120), "no piece started"
        finally:
            other.close()
            _GO.set()
        _, waiting = wait([job], timeout=120)
        assert not waiting, "the run waited for ever on the closed client's loop (issue 22)"
        summary = job.result()
    assert summary["reconciled"] and summary["rows_scored"] == 2000
