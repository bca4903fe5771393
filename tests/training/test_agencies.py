"""The three-authority simulator: vendors and drops shared across flows, typos, own outcomes."""

from __future__ import annotations

import numpy as np

from training.simulation import AgenciesConfig, SimulationConfig, simulate_agencies
from training.simulation._agencies import typo


def test_flows_share_vendors_and_drops_but_not_outcomes() -> None:
    base = SimulationConfig(parcels=6000, days=60, prevalence=0.01, seed=3)
    flows = simulate_agencies(AgenciesConfig(base, typo_rate=0.0))
    assert list(flows) == ["NL", "BE", "DE"]
    senders: dict[str, set[tuple[str, str]]] = {}
    for code, result in flows.items():
        decls = result.declarations.to_pylist()
        truth = result.truth.to_pylist()
        assert all(d["destination_country"] == code for d in decls)
        ids = {d["item_id"] for d in decls}
        assert {o["item_id"] for o in result.outcomes.to_pylist()} <= ids  # its own outcomes
        senders[code] = {
            (d["sender"]["name"], d["sender"]["street"] or "")
            for d, t in zip(decls, truth, strict=True)
            if t["vendor_id"] is not None
        }
        if code != "NL":  # later authorities ship for some of the earlier ones' vendors
            assert any(t["vendor_key"].startswith("NL:") for t in truth)
    assert senders["NL"] & senders["BE"] and senders["NL"] & senders["DE"]
    # drops of one country receive parcels entering at another authority
    be_drop_countries = {
        d["recipient"]["country"]
        for d, t in zip(
            flows["NL"].declarations.to_pylist(), flows["NL"].truth.to_pylist(), strict=True
        )
        if t["recipient_kind"] == "drop"
    }
    assert be_drop_countries - {"NL"}


def test_one_typo_is_one_edit() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        text = "Stationsweg 56"
        changed = typo(text, rng)
        assert abs(len(changed) - len(text)) <= 1
        if len(changed) == len(text):
            assert sum(a != b for a, b in zip(changed, text, strict=True)) <= 2
