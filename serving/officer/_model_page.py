"""The model page's figures: version, card, metrics at capacity, drift, champion vs challenger."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from screening import LABELS, drift_report, group_of

from ._markdown import render

if TYPE_CHECKING:
    from ._context import OfficerContext

CAPACITIES = ("1%", "2%", "5%", "10%")
SAMPLES = ("random_control", "inspected_ipw", "truth")
DRIFT_PARCELS, DRIFT_MIN = 2000, 50
#: Drift is read from this many latest results, newest first by row ID (a result scored
#: again gets a new one): a read of the table's end, where ordering by time scanned and
#: sorted every result ever stored at each view of the page.
DRIFT_WINDOW = 50 * DRIFT_PARCELS
DRIFT_SQL = (
    "SELECT json_extract(summary, '$.probability'), features FROM scored_result "
    "WHERE rowid > (SELECT coalesce(max(rowid), 0) FROM scored_result) - ? "
    "AND model_version = ? ORDER BY rowid DESC LIMIT ?"
)
SHADOW_TOP = 0.2
#: Fewer seizures than this in a sample: its figures are shown as too uncertain to rely on.
MIN_POSITIVES = 30
#: Fewer inspected parcels or seizures than these: champion and challenger are not compared.
SHADOW_MIN_OUTCOMES, SHADOW_MIN_SEIZURES = 50, 10


def _metrics(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for sample in [s for s in SAMPLES if s in metrics] + [s for s in metrics if s not in SAMPLES]:
        model = metrics[sample].get("model") if isinstance(metrics[sample], dict) else None
        if not isinstance(model, dict):
            continue
        positives = model.get("positives")
        out.append({"sample": sample, "n": model.get("n"), "positives": positives,
                    "precision": [model.get(f"precision@{c}") for c in CAPACITIES],
                    "recall": [model.get(f"recall@{c}") for c in CAPACITIES],
                    "too_small": isinstance(positives, int | float)
                    and positives < MIN_POSITIVES})  # fmt: skip
    return out


def _drift(ctx: OfficerContext, version: str, reference: dict[str, Any],
           names: list[str]) -> dict[str, Any] | None:  # fmt: skip
    """The drift of the latest results of ``version``; ``{"parcels": n, "too_small": True}``
    where too few were scored to measure it; None without a reference."""
    rows = ctx.service.state_db.execute(DRIFT_SQL, (DRIFT_WINDOW, version, DRIFT_PARCELS))
    if "score" not in reference:
        return None
    if len(rows) < DRIFT_MIN:
        return {"parcels": len(rows), "too_small": True, "needed": DRIFT_MIN}
    scores = np.array([float(r[0]) for r in rows])
    matrix = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    report = drift_report(reference, scores, matrix, names)
    worst = sorted(report["feature_psi"].items(), key=lambda kv: -kv[1])[:5]
    return report | {"parcels": len(rows), "worst": worst, "too_small": False}


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable")) + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _top_hits(scores: np.ndarray, positive: np.ndarray) -> int:
    k = max(1, int(round(len(scores) * SHADOW_TOP)))
    return int(positive[np.argsort(-scores, kind="stable")[:k]].sum())


def compare_shadow(rows: list[tuple[float, float, str, str]]) -> dict[str, Any] | None:
    """Champion and challenger on the same inspected parcels: AUC and top-share hits."""
    if not rows:
        return None
    champion = np.array([r[0] for r in rows])
    challenger = np.array([r[1] for r in rows])
    positive = np.array([r[3] == "seized" for r in rows])
    return {
        "outcomes": len(rows), "seizures": int(positive.sum()), "version": rows[0][2],
        "top_share": f"{SHADOW_TOP:.0%}",
        "too_small": len(rows) < SHADOW_MIN_OUTCOMES or int(positive.sum()) < SHADOW_MIN_SEIZURES,
        "champion": {"auc": _auc(champion, positive), "top": _top_hits(champion, positive)},
        "challenger": {"auc": _auc(challenger, positive),
                       "top": _top_hits(challenger, positive)},
    }  # fmt: skip


def model_page_values(ctx: OfficerContext) -> dict[str, Any]:
    service = ctx.service
    served = service.holder.loaded
    values: dict[str, Any] = {"halted": service.refresh_halted(),  # another worker's halt too
                              "alias": service.settings.model_alias, "model": None}  # fmt: skip
    challenger = ctx.shadow.model()
    values["challenger_version"] = challenger.version if challenger else None
    values["shadow"] = compare_shadow(  # the challenger now running, where there is one
        ctx.parcels.recent_shadow(challenger.version if challenger else None))
    if served is None:
        return values
    m = served.model
    drift = _drift(ctx, m.version, m.reference, list(m.spec.names))
    card_path = m.path / "model_card.md"
    card = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    values.update(
        model={"version": m.version, "created_at": m.info.get("created_at", ""),
               "bundle_hash": m.bundle_hash, "name": m.info.get("model_name", "")},
        card_html=render(card, heading_offset=2),
        metrics=_metrics(m.metrics), capacities=CAPACITIES,
        drift=drift,
        drift_groups=list(dict.fromkeys(LABELS[group_of(n)] for n in
                                        (drift or {}).get("drifted") or [])),
        info_json=json.dumps(m.info.get("training", {}), indent=1)[:4000],
    )  # fmt: skip
    return values
