"""The shared entity-history backends, by name: the one place that builds them (the service,
the commands and the benchmarks ask here). Each is imported only when asked for, so that
their client libraries (``psycopg``, ``redis``: the ``stores`` extra) stay optional."""

from __future__ import annotations

from typing import Literal

from ._backend import HistoryBackend

SharedKind = Literal["postgres", "redis"]


def shared_history_backend(kind: SharedKind, url: str, namespace: str) -> HistoryBackend:
    """A history backend several replicas share: PostgreSQL (``namespace``: the schema of its
    tables) or Redis (``namespace``: the prefix of its keys)."""
    if kind == "postgres":
        from ._postgres import PostgresBackend

        return PostgresBackend(url, namespace)
    if kind == "redis":
        from ._redis import RedisBackend

        return RedisBackend(url, namespace)
    raise ValueError(f"unknown shared history backend {kind!r} (postgres or redis)")
