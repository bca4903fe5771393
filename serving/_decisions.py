"""The decision-log record of a decision, the same whichever path decided it: the HTTP
service (:class:`serving.Service`) or a batch run recorded at its completion
(``serving.batch``)."""

from __future__ import annotations

from typing import Any

from ._audit import Entry, input_hash


def decision_entry(
    summary: dict[str, Any],
    record: dict[str, Any],
    input_key: bytes,
    request_id: str,
    caller: str,
    bundle_hash: str,
    input_digest: str | None = None,
    **detail: Any,
) -> Entry:
    """A ``decision`` record: who asked, the model, the keyed hash of the declaration as
    validated (``record``; ``input_digest``: that hash, where the caller made it already),
    the score, decision, band, mode, reasons and selection; ``detail`` adds to it (a batch
    run's ID, manifest and inspection-list rank)."""
    return Entry(
        "decision",
        request_id=request_id,
        caller=caller,
        item_id=summary["item_id"],
        model_version=summary["model_version"],
        bundle_hash=bundle_hash,
        input_hash=input_digest or input_hash(record, input_key),
        score=summary["probability"],
        decision=summary["decision"],
        detail={
            "band": summary["band"],
            "mode": summary["mode"],
            "reasons": summary["reasons"],
            "selection_reason": summary["selection_reason"],
            "selection_probability": summary["selection_probability"],
        }
        | detail,
    )
