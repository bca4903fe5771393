"""The sign-in throttle's arithmetic, on a clock the test moves."""

from __future__ import annotations

from serving.officer._throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_user_name_is_refused_after_its_limit_until_the_oldest_failure_ages_out() -> None:
    clock = Clock()
    throttle = SignInThrottle(per_user=3, per_client=100, window_s=60, clock=clock)
    for step in range(3):
        assert throttle.retry_after("Olga", "10.0.0.1") == 0
        throttle.attempt("Olga", "10.0.0.1")
        clock.now += 10 * (step < 2)
    assert throttle.retry_after("olga", "10.0.0.2") == 40  # the first failure ages out at 1060
    assert throttle.retry_after("ada", "10.0.0.1") == 0
    clock.now += 40
    assert throttle.retry_after("olga", "10.0.0.1") == 0


def test_a_success_clears_the_user_name_but_not_the_client() -> None:
    clock = Clock()
    throttle = SignInThrottle(per_user=2, per_client=3, window_s=60, clock=clock)
    throttle.attempt("olga", "10.0.0.1")
    throttle.attempt("olga", "10.0.0.1")
    assert throttle.retry_after("olga", "10.0.0.9") == 60
    throttle.succeeded("olga")
    assert throttle.retry_after("olga", "10.0.0.9") == 0
    throttle.attempt("ada", "10.0.0.1")  # the client's third failure, across user names
    assert throttle.retry_after("bert", "10.0.0.1") == 60
    assert throttle.retry_after("bert", "10.0.0.2") == 0


def test_memory_is_bounded() -> None:
    throttle = SignInThrottle(per_user=1, per_client=10**6, max_keys=10, clock=Clock())
    for k in range(100):
        throttle.attempt(f"user{k}", "10.0.0.1")
    assert len(throttle._failures) <= 10
    assert throttle.retry_after("user99", "10.0.0.2") > 0  # the most recent are kept
