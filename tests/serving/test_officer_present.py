"""The parcel page's reasons (``serving.officer._present.explanation_steps``)."""

from __future__ import annotations

from typing import Any

import pytest

from screening import Calibration
from serving.officer._present import explanation_steps


def _explained(hit: float) -> dict[str, Any]:
    """Nine groups that move the score, and the partners' group weighed at nothing (a model
    whose labels held no parcel with a hit yet)."""
    reasons = [
        {"group": f"group_{k}", "label": f"G{k}", "sentence": "s", "contribution": 0.5 - k / 50}
        for k in range(9)
    ]
    partner = "The recipient's address matches a seizure reported by partner nl in 2026-02"
    reasons.append(
        {"group": "partner_seizures", "label": "P", "sentence": partner, "contribution": 0.0}
    )
    return {"features": {"exchange_hit": hit}, "base_value": -3.0, "reasons": reasons}


@pytest.mark.parametrize(
    ("hit", "shown"),
    [
        (1.0, True),  # a partner's hit is always shown, whatever the model weighed it at
        (0.0, False),  # no hit, weighed at nothing: among the other factors
    ],
)
def test_a_partner_hit_is_shown_even_at_no_weight(hit: float, shown: bool) -> None:
    steps = explanation_steps(_explained(hit), Calibration(), None)
    groups = [s["group"] for s in steps["steps"]]
    assert ("partner_seizures" in groups) is shown
