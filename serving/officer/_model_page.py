"""The model page's figures: version, card, metrics at capacity, drift, champion vs challenger."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from screening import LABELS, group_of

from .._alarms import CURRENT, MIN_ROWS, REFERENCE_WEEKS
from ._markdown import render

if TYPE_CHECKING:
    from ._context import OfficerContext

CAPACITIES = ("1%", "2%", "5%", "10%")
SAMPLES = ("random_control", "inspected_ipw", "truth")
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
        out.append(
            {
                "sample": sample,
                "n": model.get("n"),
                "positives": positives,
                "precision": [model.get(f"precision@{c}") for c in CAPACITIES],
                "recall": [model.get(f"recall@{c}") for c in CAPACITIES],
                "too_small": isinstance(positives, int | float) and positives < MIN_POSITIVES,
            }
        )
    return out


def _drift(ctx: OfficerContext) -> dict[str, Any] | None:
    """The drift monitor's check of the served model, the same as the queue's banner
    (``Service.health``: the last day against the same hours of the four weeks before);
    ``measured`` false where either window holds too few results to compare. None: no model."""
    report = ctx.service.health()
    if report is None:
        return None
    score = next((a for a in report.alarms if a.feature == "score"), None)
    fields = [a for a in report.alarms if a.feature != "score"]
    return {
        "measured": report.measured,
        "current": report.current_rows,
        "reference": report.reference_rows,
        "needed": MIN_ROWS,
        "hours": int(CURRENT.total_seconds() // 3600),
        "weeks": REFERENCE_WEEKS,
        "alarm": bool(report.alarms),
        "score_psi": score.psi if score else None,
        "groups": list(dict.fromkeys(LABELS[group_of(a.feature)] for a in fields)),
        "fields": [{"name": a.feature, "psi": a.psi} for a in fields],
    }


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
        "outcomes": len(rows),
        "seizures": int(positive.sum()),
        "version": rows[0][2],
        "top_share": f"{SHADOW_TOP:.0%}",
        "too_small": len(rows) < SHADOW_MIN_OUTCOMES or int(positive.sum()) < SHADOW_MIN_SEIZURES,
        "champion": {"auc": _auc(champion, positive), "top": _top_hits(champion, positive)},
        "challenger": {"auc": _auc(challenger, positive), "top": _top_hits(challenger, positive)},
    }


def scrolling_tables(html: str) -> str:
    """The card's tables, each in a container that scrolls sideways on a narrow screen (the
    page itself then does not)."""
    return html.replace("<table", '<div class="table-wrap"><table').replace(
        "</table>", "</table></div>"
    )


def model_page_values(ctx: OfficerContext) -> dict[str, Any]:
    service = ctx.service
    served = service.holder.loaded
    values: dict[str, Any] = {
        "halted": service.refresh_halted(),  # another worker's halt too
        "alias": service.settings.model_alias,
        "model": None,
    }
    challenger = ctx.shadow.model()
    values["challenger_version"] = challenger.version if challenger else None
    values["shadow"] = compare_shadow(  # the challenger now running, where there is one
        ctx.parcels.recent_shadow(challenger.version if challenger else None)
    )
    if served is None:
        return values
    m = served.model
    card_path = m.path / "model_card.md"
    card = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    values.update(
        model={
            "version": m.version,
            "created_at": m.info.get("created_at", ""),
            "bundle_hash": m.bundle_hash,
            "name": m.info.get("model_name", ""),
        },
        card_html=scrolling_tables(render(card, heading_offset=2)),
        metrics=_metrics(m.metrics),
        capacities=CAPACITIES,
        drift=_drift(ctx),
        info_json=json.dumps(m.info.get("training", {}), indent=1)[:4000],
    )
    return values
