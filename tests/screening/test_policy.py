import numpy as np
import pytest

from screening import Decision, DecisionPolicy, decide, decide_many, threshold_at, uniform_draw

# a reference flow where a share s of the parcels scores above probability 0.001 / s
THRESHOLDS = {f"{s:g}": 0.001 / s for s in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)}
KEY = b"policy-test-key"


def test_threshold_interpolates_in_log_space() -> None:
    assert threshold_at(THRESHOLDS, 0.01) == pytest.approx(0.1)
    assert threshold_at(THRESHOLDS, 0.018) == pytest.approx(0.001 / 0.018)
    assert threshold_at(THRESHOLDS, 0.0) == float("inf")


@pytest.mark.parametrize(
    ("probability", "decision", "reason", "band"),
    [
        (0.3, "inspect", "model", "very_high"),  # top 0.5%: cut 0.2
        (0.06, "inspect", "model", "high"),  # within the model's 2% share: cut 0.05
        (0.03, "review", None, "medium"),  # within twice the model share: cut 0.025
        (0.02, "pass", None, "medium"),  # top 10% band (cut 0.01), not selected
        (0.001, "pass", None, "low"),
    ],
)
def test_decision_by_probability(
    probability: float, decision: str, reason: str | None, band: str
) -> None:
    policy = DecisionPolicy(capacity=0.02, random_share=0.0)
    verdict = decide("RR123456785NL", probability, 0.0, THRESHOLDS, policy, KEY)
    assert (verdict.decision.value, verdict.selection_reason, verdict.band.value) == (
        decision,
        reason,
        band,
    )


def test_random_control_rate_and_recorded_probability() -> None:
    policy = DecisionPolicy(capacity=0.05, random_share=0.2)  # 1% of all parcels at random
    ids = np.array([f"ID{i}" for i in range(20_000)], dtype=object)
    decision, _, reason, chosen = decide_many(
        ids, np.zeros(len(ids)), np.zeros(len(ids)), THRESHOLDS, policy, KEY
    )
    random = reason == "random_control"
    assert 0.008 < random.mean() < 0.012
    assert (chosen[random] == pytest.approx(0.01)) and (decision[random] == "inspect").all()
    draws = np.array([uniform_draw(KEY, i) for i in ids[random]])
    assert (draws < 0.01).all()


def test_same_item_same_decision() -> None:
    policy = DecisionPolicy(capacity=0.5, random_share=1.0)
    first = [decide(f"ID{i}", 0.0, 0.0, THRESHOLDS, policy, KEY).decision for i in range(50)]
    again = [decide(f"ID{i}", 0.0, 0.0, THRESHOLDS, policy, KEY).decision for i in range(50)]
    assert first == again and Decision.INSPECT in first and Decision.PASS in first


def test_halted_uses_rules_and_random_never_the_model() -> None:
    policy = DecisionPolicy(capacity=0.02, random_share=0.0, halted=True)
    high_score = decide("A", 0.9, 0.0, THRESHOLDS, policy, KEY)
    rule_hit = decide("B", 0.0, 6.0, THRESHOLDS, policy, KEY)
    assert high_score.decision is Decision.PASS
    assert (rule_hit.decision, rule_hit.selection_reason) == (Decision.INSPECT, "rule")


def test_decision_key_is_derived_from_the_secret_once_for_everyone() -> None:
    """The service and batch runs draw with this key: changing the derivation would change
    every random-control decision of a resumed run or a re-scored item."""
    import hashlib
    import hmac

    from screening import decision_key

    secret = "a-server-secret-of-some-length"
    assert (
        decision_key(secret)
        == hmac.new(secret.encode(), b"decision-draws", hashlib.sha256).digest()
    )
    assert decision_key(secret) != decision_key(secret + "!")
