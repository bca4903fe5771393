"""The transport-agnostic core of the service: score, explain, record outcomes, halt.

The HTTP routes (v1 and the Open Inference Protocol v2) call :class:`Service`; it calls the
scoring engine, stores results and outcomes (no names or addresses), writes the decision log
and counts metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from data_contracts import (
    InspectionOutcome,
    ParcelDeclaration,
    PostingWindow,
    Problem,
    looks_like_item_id,
    record_label,
    validate_one,
)
from screening import (
    Database,
    DecisionPolicy,
    Explain,
    LoadedModel,
    ModelRegistry,
    ParcelFrame,
    PostgresDatabase,
    Pseudonymiser,
    ScoredParcel,
    ScreeningError,
    decision_key,
    reasons,
)

from ._alarms import AlarmWatch, HealthReport
from ._audit import Entry, input_hash, input_key
from ._auth import Caller, KeyStore
from ._decisions import decision_entry
from ._errors import InvalidInput, NotFound, RequestIdReused
from ._json import finite_or_none
from ._metrics import Metrics
from ._partner_hits import record_partner_hits
from ._record import Record
from ._runtime import ModelHolder, Served, trusted_bundle_keys
from ._settings import Settings

if TYPE_CHECKING:
    from screening.exchange import ExchangeSource

log = logging.getLogger("serving")

HALTED_MODE = "halted-fallback"
MODEL_MODE = "model"


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    """One caller's declarations to score (one HTTP request), validated where the caller
    did that already (off the scoring thread: :class:`~serving._batcher.ScoreBatcher`)."""

    raws: Sequence[Any]
    caller: Caller
    request_id: str
    validated: Sequence[Validated] | None = None


#: A declaration as validated: the model (None when it breaks the contract) and its problems.
Validated = tuple[ParcelDeclaration | None, list[Problem]]
#: A valid declaration of a batch: (request, position in it, the declaration, its warnings).
Pending = tuple[int, int, ParcelDeclaration, list[Problem]]


@dataclass(frozen=True, slots=True)
class Declared:
    """What a batch's valid declarations give with no history read, by (request, position):
    made before the scoring transaction (:meth:`Service._declared`)."""

    keys: list[tuple[int, int]]
    #: the frame of every valid declaration, in order (None: no model loaded yet)
    frame: ParcelFrame | None
    records: dict[tuple[int, int], dict[str, Any]]
    hashes: dict[tuple[int, int], str]
    #: the officer rows' declared fields (None: no officer view mounted)
    officer: dict[tuple[int, int], dict[str, Any]] | None


def reused_answer(request_id: str, item_id: str) -> dict[str, Any]:
    """The error entry of a declaration sent under a request ID that decided another
    declaration of the same item (nothing is scored or recorded for it)."""
    return {
        "code": RequestIdReused.code,
        "message": (
            f"X-Request-ID {request_id!r} was used for a different declaration of item {item_id}; "
            "use a new request ID to score the amended declaration"
        ),
    }


def validate_declarations(raws: Sequence[Any]) -> list[Validated]:
    """Each raw declaration against the contract (problems capped per record)."""
    return [
        validate_one(ParcelDeclaration, raw, record_label(i, raw)) for i, raw in enumerate(raws)
    ]


class Service:
    """Everything a request needs, built once per app."""

    #: Called with (declarations, summaries, feature vectors, time, feature names,
    #: records=..., declared=...) inside each scoring transaction; the officer view records
    #: its queue through it (``ParcelRecorder.scored``).
    on_scored: Callable[..., None] | None = None
    #: Makes the officer rows' fields that declarations alone give, before the transaction
    #: (``ParcelRecorder.declared_rows``); its rows reach ``on_scored`` as ``declared``.
    officer_declared: Callable[..., list[dict[str, Any]]] | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: Which parcels get SHAP reasons in score answers (setting ``explain``).
        self.explain: Explain = settings.explain
        self.record = Record(settings, background_checkpoints=True, serving=True)
        #: The record database: every write of a request is one transaction of it.
        self.state_db = self.record.db
        self.key_reader: Database = (  # a second connection: keys are read beside a batch
            PostgresDatabase(
                settings.database_url, settings.database_schema, lock_timeout=settings.lock_timeout
            )
            if settings.database_url
            else Database(settings.state_path, lock_timeout=settings.lock_timeout)
        )
        self.keys = KeyStore(self.state_db, settings.secret_key, self.key_reader)
        self.state = self.record.state
        self.audit = self.record.audit
        self.input_key = input_key(settings.pseudonymisation_key)
        #: Every worker process's counts meet in files of the metrics directory.
        self.metrics = Metrics(settings.metrics_path)
        self.history_backend = self.record.history_backend
        self.history = self.record.history
        self.holder = ModelHolder(
            ModelRegistry(settings.registry),
            settings.model_alias,
            self.history,
            Pseudonymiser(settings.pseudonymisation_key),
            DecisionPolicy(settings.capacity, settings.random_share),
            decision_key(settings.secret_key),
            self.audit,
            self.metrics,
            trusted_bundle_keys(settings.trusted_bundle_keys),
            self._exchange_source,
        )
        #: The drift monitor's last check of the served model (kept a minute).
        self.alarms = AlarmWatch(self.state_db)
        self.halted = False
        self.refresh_halted()

    def _exchange_source(self) -> ExchangeSource | None:
        """The partner-seizure features' source (built when a model that reads them first
        loads): the exchange settings' custodians, each token request in the decision log,
        and the partners' indicators in the record database. None where no exchange is
        configured or its settings cannot be used (logged): such a model then scores
        without partners' hits, and its reasons say so."""
        path = self.settings.exchange_config
        if path is None:
            return None
        from screening.exchange import (
            ExchangeSource,
            PartnerStore,
            StoreIndex,
            custody_client,
            load_config,
            token_cache_key,
        )

        def audited(row: dict[str, Any]) -> None:
            self.audit.append(Entry("exchange_token_request", caller="service", detail=row))

        try:
            client, live, _ = custody_client(load_config(path), audited)
        except ScreeningError as exc:
            log.error(
                "exchange settings %s cannot be used (%s): the model scores without partners' hits",
                path,
                exc,
            )
            return None
        return ExchangeSource(
            client,
            live,
            StoreIndex(PartnerStore(self.state_db)),
            token_cache_key(self.settings.pseudonymisation_key),
        )

    def refresh_halted(self) -> bool:
        """Read the halt switch from the state store (shared by every worker process)."""
        self.halted = self.state.get_flag("halted") == "1"
        return self.halted

    def start(self) -> None:
        self.holder.reload(caller="startup")
        self.holder.start(self.settings.reload_seconds)

    def close(self) -> None:
        self.holder.stop()
        self.metrics.close()
        self.key_reader.close()
        self.record.close()

    # -- scoring ----------------------------------------------------------------------------

    def score(self, raws: Sequence[Any], caller: Caller, request_id: str) -> list[dict[str, Any]]:
        """Score raw declarations; an invalid one gets {"error": ...} in its place."""
        return self.score_many([ScoreRequest(raws, caller, request_id)])[0]

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[list[dict[str, Any]]]:
        """Score several requests' declarations in one engine call and one transaction.

        The entity-history increments, results, officer copies and decision-log records of
        every declaration are committed together or not at all (with the embedded history;
        a shared history backend commits its increments first, see ``docs/OPERATIONS.md``),
        and synced before the answers go out. A declaration whose item was already decided
        under the same request ID (a client retrying a request it got no answer for) is
        answered with the decision on record: no second decision, no second history
        increment; if its declaration differs from the one decided (the decision log's input
        hash), it gets a ``request_id_reused`` error entry and nothing is recorded. Each
        request keeps its own caller and request ID in its answers and records; an invalid
        declaration gets {"error": ...} in its place. The halt flag is read from the shared
        state store, so every worker process obeys it.
        """
        outs: list[list[dict[str, Any]]] = [[{} for _ in r.raws] for r in requests]
        valid: list[Pending] = []
        for k, request in enumerate(requests):
            checked = request.validated
            if checked is None:
                checked = validate_declarations(request.raws)
            for i, (decl, problems) in enumerate(checked):
                if decl is None:
                    outs[k][i] = {
                        "error": {
                            "code": "invalid_input",
                            "message": "the declaration breaks the contract",
                            "problems": [p.as_dict() for p in problems],
                        }
                    }
                else:
                    valid.append((k, i, decl, problems))
        if not valid:
            return outs
        decided: list[tuple[str, str, str, float]] = []  # band, decision, mode, probability
        loaded = self.holder.loaded
        if loaded is not None and loaded.engine.exchange is not None:
            # partner-seizure tokens asked for outside the transaction (the scoring then
            # finds them in the cache): a custodian round trip never holds the database
            loaded.engine.prefetch_exchange([d for _, _, d, _ in valid])
        declared = self._declared(valid, loaded)  # what needs no history, outside the lock
        with self.state_db.transaction():
            served = self.holder.served
            halted = self.refresh_halted()
            on_record = self.state.decisions_of([d.item_id for _, _, d, _ in valid])
            replayed = self._replayed_hashes(requests, valid, on_record)
            new = []
            for k, i, decl, warnings in valid:
                stored = on_record.get(decl.item_id)
                if stored is None or stored[0] != requests[k].request_id:
                    new.append((k, i, decl, warnings))
                    continue
                recorded = replayed.get((stored[0], decl.item_id))
                if recorded is not None and recorded != declared.hashes[(k, i)]:
                    outs[k][i] = {"error": reused_answer(stored[0], decl.item_id)}
                    continue
                outs[k][i] = stored[1] | {
                    "request_id": stored[0],
                    "warnings": [{"field": w.field, "problem": w.problem} for w in warnings],
                }
            if new:
                decided = self._decide(requests, new, outs, served, halted, declared)
        for band, decision, mode, probability in decided:  # counted once committed
            self.metrics.observe_decision(band, decision, mode, probability)
        return outs

    def _declared(self, valid: list[Pending], loaded: Served | None) -> Declared:
        """What the batch's declarations give before any history is read: their frame, JSON
        records, keyed input hashes and officer-row fields. Made before the scoring
        transaction, so that the writer lock, which every worker and replica waits for, is
        held only for the work that reads or writes the record."""
        decls = [d for _, _, d, _ in valid]
        records = [d.model_dump(mode="json") for d in decls]
        keys = [(k, i) for k, i, _, _ in valid]
        return Declared(
            keys,
            None if loaded is None else loaded.engine.frame_of(decls),
            dict(zip(keys, records, strict=True)),
            {key: input_hash(r, self.input_key) for key, r in zip(keys, records, strict=True)},
            None
            if self.officer_declared is None
            else dict(zip(keys, self.officer_declared(decls, records), strict=True)),
        )

    def _replayed_hashes(
        self,
        requests: Sequence[ScoreRequest],
        valid: list[Pending],
        on_record: dict[str, tuple[str, dict[str, Any]]],
    ) -> dict[tuple[str, str], str]:
        """The recorded input hash of each (request ID, item) sent again under the request ID
        that decided it (a retry): read from the decision log only for those."""
        retried: dict[str, list[str]] = {}
        for k, _, decl, _ in valid:
            stored = on_record.get(decl.item_id)
            if stored is not None and stored[0] == requests[k].request_id:
                retried.setdefault(stored[0], []).append(decl.item_id)
        return {
            (rid, item): digest
            for rid, items in retried.items()
            for item, digest in self.audit.input_hashes(rid, items).items()
        }

    def _decide(
        self,
        requests: Sequence[ScoreRequest],
        new: list[Pending],
        outs: list[list[dict[str, Any]]],
        served: Served,
        halted: bool,
        declared: Declared,
    ) -> list[tuple[str, str, str, float]]:
        """Score new declarations and write their records (inside the caller's transaction),
        with what their declarations gave before it (``declared``)."""
        engine = served.fallback if halted else served.engine
        mode = HALTED_MODE if halted else MODEL_MODE
        decls = [d for _, _, d, _ in new]
        keys = [(k, i) for k, i, _, _ in new]
        frame = declared.frame if keys == declared.keys else None  # else: some were retries
        scored = engine.score_declarations(decls, explain=self.explain, frame=frame)
        now = _now()
        results, entries, summaries, records = [], [], [], []
        for (k, i, _, warnings), parcel in zip(new, scored, strict=True):
            request_id, caller = requests[k].request_id, requests[k].caller
            summary = self._summary(parcel, mode)
            summaries.append(summary)
            outs[k][i] = summary | {
                "request_id": request_id,
                "warnings": [{"field": w.field, "problem": w.problem} for w in warnings],
            }
            results.append(
                (parcel.item_id, request_id, now, parcel.model_version, summary, parcel.features)
            )
            record = declared.records[(k, i)]
            records.append(record)
            entries.append(
                decision_entry(
                    summary,
                    record,
                    self.input_key,
                    request_id,
                    caller.key_id,
                    parcel.bundle_hash,
                    input_digest=declared.hashes[(k, i)],
                )
            )
        self.state.put_results(results)
        if self.on_scored is not None:
            self.on_scored(
                decls,
                summaries,
                [p.features for p in scored],
                now,
                list(served.model.spec.names),
                records=records,
                declared=None
                if declared.officer is None
                else [declared.officer[key] for key in keys],
            )
        if scored.partner_hits is not None:  # a model that reads partners' seizures
            asked = [
                (d.item_id, requests[k].request_id, requests[k].caller.key_id) for k, _, d, _ in new
            ]
            entries += record_partner_hits(self.state_db, asked, scored.partner_hits)
        self.audit.append_many(entries)
        return [
            (s["band"], s["decision"], mode, p.probability)
            for s, p in zip(summaries, scored, strict=True)
        ]

    @staticmethod
    def _summary(parcel: ScoredParcel, mode: str) -> dict[str, Any]:
        summary = parcel.as_dict()
        summary["mode"] = mode
        if parcel.reasons is None:
            summary["reasons"] = []
        return summary

    # -- explanations -----------------------------------------------------------------------

    def explanation(
        self, item_id: str, caller: Caller, request_id: str, logged: bool = True
    ) -> dict[str, Any]:
        """Every grouped reason and per-feature contribution of the last score of an item;
        the view logged unless ``logged`` is false (the officer page logs one per period)."""
        stored = self.state.get_result(item_id)
        if stored is None:
            # a value that is not an item ID is not repeated (it may be a name sent by mistake)
            named = f" {item_id!r}" if looks_like_item_id(item_id) else " (not an item ID)"
            raise NotFound(f"no scored parcel with item ID{named}")
        model = self.holder.model_for(stored.model_version)
        contribs = model.contributions(stored.features[None, :])[0]
        names = model.spec.names
        facts = self._partner_facts(model, item_id)
        grouped = reasons(contribs, stored.features, model.spec, None, facts)
        if logged:
            self.audit.append(
                Entry(
                    "explanation_viewed",
                    request_id=request_id,
                    caller=caller.key_id,
                    item_id=item_id,
                    model_version=stored.model_version,
                )
            )
        return stored.summary | {
            "request_id": request_id,
            "scored_request_id": stored.request_id,
            "scored_at": stored.scored_at,
            "base_value": float(contribs[-1]),
            "margin": float(contribs.sum()),
            "reasons": [r.as_dict() for r in grouped],
            "contributions": {n: float(c) for n, c in zip(names, contribs[:-1], strict=True)},
            "features": {
                n: finite_or_none(float(v)) for n, v in zip(names, stored.features, strict=True)
            },
        }

    def _partner_facts(self, model: LoadedModel, item_id: str) -> dict[str, tuple[str, int]] | None:
        """The partner reason's fact from the hits recorded when the item was scored (partner,
        month, codes, as its score's answer gave them); None: the features' own words."""
        if not model.spec.reads_exchange:
            return None
        from screening.exchange import EXCHANGE_GROUP, FollowUps, hit_fact

        hits = FollowUps(self.state_db).recorded(item_id)
        return {EXCHANGE_GROUP: hit_fact(hits)} if hits else None

    # -- outcomes ---------------------------------------------------------------------------

    def outcome(self, raw: Any, caller: Caller, request_id: str) -> dict[str, Any]:
        """Store an inspection outcome and link it to the item's entity history at once; one
        recorded outside the window from ``labelled_retention_days`` before now to
        ``posted_days_ahead`` after is refused (422 naming ``recorded_at``)."""
        outcome, problems = validate_one(InspectionOutcome, raw, record_label(0, raw))
        if outcome is None:
            raise InvalidInput("the outcome breaks the contract", problems)
        window = PostingWindow.now(
            self.settings.labelled_retention_days, self.settings.posted_days_ahead
        )
        if not window.holds(outcome.recorded_at):
            raise InvalidInput(
                "the outcome breaks the contract",
                [
                    Problem(
                        record_label(0, raw),
                        "recorded_at",
                        "recording time outside the plausible "
                        f"window: expected between {window.earliest.isoformat()} and "
                        f"{window.latest.isoformat()} ({window.days_back:g} days before to "
                        f"{window.days_ahead:g} days after now)",
                        got=outcome.recorded_at.isoformat(),
                    )
                ],
            )
        return self.record.record_outcome(outcome, caller.key_id, request_id)

    # -- human oversight --------------------------------------------------------------------

    def set_halted(
        self, halted: bool, caller: Caller, request_id: str, reason: str = ""
    ) -> dict[str, Any]:
        # a reason that is not valid Unicode (a lone surrogate from JSON) must not leave the
        # switch set and its record unwritten: it is stored with the bad part replaced
        reason = reason[:500].encode("utf-8", "replace").decode("utf-8")
        with self.state_db.transaction():  # the switch and its record: one commit
            self.state.set_flag("halted", "1" if halted else "0")
            self.audit.append(
                Entry(
                    "halt" if halted else "resume",
                    request_id=request_id,
                    caller=caller.key_id,
                    detail={"reason": reason},
                )
            )
        self.halted = halted
        return {
            "halted": halted,
            "mode": HALTED_MODE if halted else MODEL_MODE,
            "request_id": request_id,
        }

    def status(self) -> dict[str, Any]:
        halted = self.refresh_halted()  # read once: another thread may change it meanwhile
        served = self.holder.loaded
        return {
            "model_version": served.model.version if served else None,
            "bundle_hash": served.model.bundle_hash if served else None,
            "alias": self.settings.model_alias,
            "halted": halted,
            "mode": HALTED_MODE if halted else MODEL_MODE,
        }

    def metrics_text(self) -> str:
        def info() -> tuple[str, str, dict[str, Any] | None, bool]:
            halted = self.refresh_halted()
            served = self.holder.loaded
            if served is None:
                return "none", "none", None, halted
            m = served.model
            return m.version, m.bundle_hash, m.reference.get("score"), halted

        return self.metrics.render(info, self.health)  # reads every worker's files

    def health(self) -> HealthReport | None:
        """The drift monitor's check of the served model (None: no model), kept a minute."""
        served = self.holder.loaded
        if served is None:
            return None
        return self.alarms.report(served.model.version, list(served.model.spec.names))
