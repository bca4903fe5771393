"""The entity history: features of each parcel's senders, recipients, addresses and office as
of its own time, and the backends that keep them.

``_features``: the history features, each declared once with how it is computed per row and
per column. ``_engine``: the engine (:class:`History`: features, recording, outcomes and
corrections; :func:`replay` of a whole stream for training). ``_partitioned``: the same
replay cut by entity, so that training runs it in partitions (on Dask). ``_in_run``: a batch
run's own parcels counted towards each other with that replay, as the service would have
counted them (:class:`RunHistory`). ``_backend``: what a
backend stores and the abstract base class every backend implements
(:class:`HistoryBackend`). The backends: ``_memory`` (training), ``_sql`` (SQLite, the
service's default, and the SQL that PostgreSQL shares), ``_postgres`` and ``_redis``
(several replicas; built by name in ``_shared``).
"""

from ._backend import (
    CLEAN,
    KINDS,
    LINKED,
    NO_OUTCOME,
    SEIZED,
    UNCOUNTED,
    EntityStats,
    HistoryBackend,
    outcome_code,
)
from ._engine import History, KnownOutcome, copy_history, entity_tokens, replay
from ._features import HISTORY, HISTORY_FEATURES, STATS, STATS_FIELDS, HistoryFeature
from ._in_run import RUN_FIELDS, RUN_ORDER, RunHistory, counting, run_order, run_stats
from ._memory import MemoryBackend
from ._partitioned import (
    KIND_NAMES,
    entity_features,
    entity_table,
    outcome_changes,
    replay_entities,
    time_order,
)
from ._shared import shared_history_backend
from ._sql import HISTORY_PAGE_SIZE, SQLiteBackend

__all__ = [
    "CLEAN",
    "HISTORY",
    "HISTORY_FEATURES",
    "HISTORY_PAGE_SIZE",
    "KINDS",
    "KIND_NAMES",
    "LINKED",
    "NO_OUTCOME",
    "RUN_FIELDS",
    "RUN_ORDER",
    "SEIZED",
    "STATS",
    "STATS_FIELDS",
    "UNCOUNTED",
    "EntityStats",
    "History",
    "HistoryBackend",
    "HistoryFeature",
    "KnownOutcome",
    "MemoryBackend",
    "RunHistory",
    "SQLiteBackend",
    "copy_history",
    "counting",
    "entity_features",
    "entity_table",
    "entity_tokens",
    "outcome_changes",
    "outcome_code",
    "replay",
    "replay_entities",
    "run_order",
    "run_stats",
    "shared_history_backend",
    "time_order",
]
