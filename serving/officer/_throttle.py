"""Throttling of failed sign-ins, per user name and per client address.

After ``per_user`` failed sign-ins for one user name within ``window_s`` seconds, or
``per_client`` from one client address, further attempts are refused without checking the
password (no scrypt work, no audit record each) until the oldest failure leaves the window.
Every attempt counts as a failure until it succeeds: a success clears its user name's
failures and takes its own count back. Counts live in each worker's memory: with N
workers an attacker gets up to N times the limits, and a restart forgets them. Behind a proxy
every client has the proxy's address, hence the client limit is much higher than the user's.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SignInThrottle:
    """Failed sign-ins in a sliding window; bounded memory (the least recent keys go)."""

    def __init__(self, per_user: int = 5, per_client: int = 50, window_s: float = 900.0,
                 max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.limits = {"user": per_user, "client": per_client}
        self.window_s, self.max_keys, self.clock = window_s, max_keys, clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until an attempt is allowed (0: now)."""
        now, wait = self.clock(), 0.0
        for key in (("user", username.casefold()), ("client", client)):
            times = self._recent(key, now)
            if len(times) >= self.limits[key[0]]:
                wait = max(wait, times[len(times) - self.limits[key[0]]] + self.window_s - now)
        return wait

    def attempt(self, username: str, client: str) -> float:
        """Count an attempt as failed before its password is checked, so that attempts sent
        together cannot all pass ``retry_after`` first; ``succeeded`` takes it back."""
        now = self.clock()
        for key in (("user", username.casefold()), ("client", client)):
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return now

    def succeeded(self, username: str, client: str | None = None,
                  stamp: float | None = None) -> None:  # fmt: skip
        """The right password: the user name's failures go, and this attempt's count."""
        self._failures.pop(("user", username.casefold()), None)
        times = self._failures.get(("client", client or ""))
        if times is not None and stamp is not None and stamp in times:
            times.remove(stamp)
