"""Entity history in Redis, for several service replicas sharing one store.

Layout under a key prefix: ``<prefix>e:<kind>:<token>`` a hash of the entity's stats,
``<prefix>p:<kind>:<token>`` a set of its counterparts' tokens, ``<prefix>i:<item_id>`` a hash
of the item's tokens, what its outcome counts and its posting time. Only pseudonymised tokens
are stored.

A ``History`` update (one ``transaction``) takes a lock key (``SET NX PX``, released by a Lua
compare-and-delete), reads through a write buffer, and commits every write in one
``MULTI/EXEC`` at the end: isolated across replicas, and all-or-nothing.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, fields
from typing import Any

from .._store_support import Reentrant
from ._backend import EntityStats, HistoryBackend

_FIELDS = [f.name for f in fields(EntityStats)]
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1])
else return 0 end"""
_LOCK_MS = 10_000


class _Tx:
    def __init__(self) -> None:
        self.entities: dict[str, EntityStats] = {}
        self.partners: dict[str, set[str]] = {}
        self.items: dict[str, tuple[str, int, int | None]] = {}


def _item_fields(value: tuple[str, int, int | None]) -> Any:  # redis wants its own Mapping
    """An item's hash fields; without a posting time (an outcome's update) it keeps its own."""
    tokens, outcome, posted_us = value
    fields: dict[str, str | int] = {"tokens": tokens, "outcome": outcome}
    if posted_us is not None:
        fields["posted_us"] = posted_us
    return fields


class RedisBackend(HistoryBackend):
    """History in Redis under ``prefix``."""

    def __init__(self, url: str, prefix: str = "parcelscreen:") -> None:
        import redis

        self.prefix = prefix
        self._redis = redis.Redis.from_url(url)
        self._release = self._redis.register_script(_RELEASE)
        self._lock = threading.RLock()
        self._nesting = Reentrant()
        self._tx: _Tx | None = None

    def _e(self, kind: str, token: str) -> str:
        return f"{self.prefix}e:{kind}:{token}"

    def _pk(self, kind: str, token: str) -> str:
        return f"{self.prefix}p:{kind}:{token}"

    def _i(self, item_id: str) -> str:
        return f"{self.prefix}i:{item_id}"

    # -- the HistoryBackend primitives, and its pipelined bulk read -------------------------

    def get_tokens(self, kind: str, tokens: Sequence[str]) -> list[EntityStats | None]:
        """Stats of many entities of one kind (None: unknown), pipelined."""
        with self._lock:
            if self._tx is not None:
                return [self.get(kind, token) for token in tokens]
        out: list[EntityStats | None] = []
        for start in range(0, len(tokens), 1000):
            pipe = self._redis.pipeline(transaction=False)
            for token in tokens[start : start + 1000]:
                pipe.hmget(self._e(kind, token), _FIELDS)
            out.extend(
                None if values[0] is None else EntityStats(*(int(v or 0) for v in values))
                for values in pipe.execute()
            )
        return out

    def get(self, kind: str, token: str) -> EntityStats | None:
        key = self._e(kind, token)
        with self._lock:
            if self._tx is not None and key in self._tx.entities:
                s = self._tx.entities[key]
                return EntityStats(*astuple(s))
        values = self._redis.hmget(key, _FIELDS)
        if values[0] is None:
            return None
        return EntityStats(*(int(v or 0) for v in values))

    def put(self, kind: str, token: str, stats: EntityStats) -> None:
        key = self._e(kind, token)
        with self._lock:
            if self._tx is not None:
                self._tx.entities[key] = EntityStats(*astuple(stats))
                return
        self._redis.hset(key, mapping=dict(zip(_FIELDS, astuple(stats), strict=True)))

    def add_partner(self, kind: str, token: str, partner: str) -> bool:
        key = self._pk(kind, token)
        with self._lock:
            if self._tx is not None:
                pending = self._tx.partners.setdefault(key, set())
                if partner in pending or self._redis.sismember(key, partner):
                    return False
                pending.add(partner)
                return True
        return bool(self._redis.sadd(key, partner))

    def get_item(self, item_id: str) -> dict[str, str] | None:
        key = self._i(item_id)
        with self._lock:
            if self._tx is not None and key in self._tx.items:
                return dict(json.loads(self._tx.items[key][0]))
        raw = self._redis.hget(key, "tokens")
        return None if raw is None else dict(json.loads(raw))

    def put_item(
        self, item_id: str, tokens: Mapping[str, str], outcome: int, posted_us: int | None = None
    ) -> None:
        key = self._i(item_id)
        value = (json.dumps(dict(tokens), sort_keys=True), int(outcome), posted_us)
        with self._lock:
            if self._tx is not None:
                self._tx.items[key] = value
                return
        self._redis.hset(key, mapping=_item_fields(value))

    def item_outcome(self, item_id: str) -> int | None:
        """What the item's linked outcome counts (``NO_OUTCOME``...); None: unknown."""
        key = self._i(item_id)
        with self._lock:
            if self._tx is not None and key in self._tx.items:
                return self._tx.items[key][1]
        raw = self._redis.hmget(key, ["tokens", "outcome"])
        return None if raw[0] is None else int(raw[1] or 0)

    @contextmanager
    def transaction(self) -> Iterator[object]:
        with self._lock, self._nesting(self._outer):
            yield self

    @contextmanager
    def _outer(self) -> Iterator[None]:
        token = self._acquire()
        self._tx = tx = _Tx()
        try:
            yield
            self._commit(tx)
        finally:
            self._tx = None
            self._release(keys=[f"{self.prefix}lock"], args=[token])

    # -- internals --------------------------------------------------------------------------

    def _acquire(self) -> str:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + 30
        while not self._redis.set(f"{self.prefix}lock", token, nx=True, px=_LOCK_MS):
            if time.monotonic() > deadline:
                raise TimeoutError("history lock in Redis not acquired within 30 s")
            time.sleep(0.001)
        return token

    def _commit(self, tx: _Tx) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for key, stats in tx.entities.items():
            pipe.hset(key, mapping=dict(zip(_FIELDS, astuple(stats), strict=True)))
        for key, partners in tx.partners.items():
            if partners:
                pipe.sadd(key, *partners)
        for key, value in tx.items.items():
            pipe.hset(key, mapping=_item_fields(value))
        pipe.execute()

    def prune(self, cutoff_us: int, dry_run: bool = False) -> dict[str, int]:
        """As the SQL backends' ``prune``: entities last seen before ``cutoff_us`` with their
        partner sets, and items posted before it. Keys are found with SCAN (no lock); each
        batch is deleted under the history lock after its times are read again."""
        counts = {"entities": 0, "partner_links": 0, "items": 0}
        for kind, field in (("e", "last_us"), ("i", "posted_us")):
            batch: list[bytes] = []
            for key in self._redis.scan_iter(match=f"{self.prefix}{kind}:*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    self._prune_batch(batch, field, cutoff_us, dry_run, counts)
                    batch = []
            self._prune_batch(batch, field, cutoff_us, dry_run, counts)
        return counts

    def _prune_batch(
        self, keys: list[bytes], field: str, cutoff_us: int, dry_run: bool, counts: dict[str, int]
    ) -> None:
        if not keys:
            return
        entities = field == "last_us"
        with self._lock:
            token = None if dry_run else self._acquire()
            try:
                pipe = self._redis.pipeline(transaction=False)
                for key in keys:
                    pipe.hget(key, field)
                old = [
                    key
                    for key, value in zip(keys, pipe.execute(), strict=True)
                    if value is not None and int(value) < cutoff_us
                ]
                links = [self._partners_of(key) for key in old] if entities else []
                if links:
                    pipe = self._redis.pipeline(transaction=False)
                    for key in links:
                        pipe.scard(key)
                    counts["partner_links"] += sum(int(n) for n in pipe.execute())
                counts["entities" if entities else "items"] += len(old)
                if old and not dry_run:
                    self._redis.delete(*old, *links)
            finally:
                if token is not None:
                    self._release(keys=[f"{self.prefix}lock"], args=[token])

    def _partners_of(self, entity_key: bytes) -> bytes:
        """The partner set's key of an entity's key: <prefix>e:kind:token -> <prefix>p:..."""
        return self.prefix.encode() + b"p:" + entity_key[len(self.prefix) + 2 :]

    def clear(self) -> int:
        """Delete every key under the prefix (tests, decommissioning); returns how many."""
        keys = list(self._redis.scan_iter(match=f"{self.prefix}*", count=1000))
        return int(self._redis.delete(*keys)) if keys else 0

    def close(self) -> None:
        self._redis.close()
