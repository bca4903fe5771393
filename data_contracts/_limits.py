"""Bounds of a plausible declaration, and of the work one record may cause.

Weights, values and quantities have fixed ceilings (in the JSON Schema as ``maximum``): far
above any postal item or express consignment, far below what a float allows, so that an
absurd number (1e308) is refused rather than scored. The posting time has no fixed bound:
it must lie in a :class:`PostingWindow` around a reference time, which only scoring applies
(the service: the time of scoring; ``parcelscreen screen``: its ``--as-of`` time). Training
data, the simulator and ``parcelscreen validate`` hold historical dates and are not held to
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Most problems listed for one record; the rest are counted in one more problem.
MAX_PROBLEMS_PER_RECORD = 20
#: Heaviest gross or net weight (kg): UPU parcels stop at 30 to 50 kg, courier pieces at about
#: 70 kg; 1,000 kg leaves room for a multi-piece express consignment.
MAX_WEIGHT_KG = 1_000
#: Highest value (declared value, line value, postal charges), in units of the declared
#: currency: 1e10 is about 10,000 EUR in the weakest currency in circulation (the Iranian rial)
#: and absurd in any other.
MAX_VALUE = 10_000_000_000
#: Most pieces on one content line.
MAX_QUANTITY = 1_000_000
#: Fewest and most content lines of one declaration.
MIN_LINES, MAX_LINES = 1, 200
#: Default posting window around the reference time: 90 days back, 2 days ahead (posting
#: offices' clocks and time zones, items declared before they are handed in).
POSTED_DAYS_BACK, POSTED_DAYS_AHEAD = 90.0, 2.0


def more_problems(count: int) -> str:
    """The problem that counts what was left unlisted of one record."""
    return (
        f"{count} more problem{'s' if count != 1 else ''} not listed (at most "
        f"{MAX_PROBLEMS_PER_RECORD} are listed per record)"
    )


@dataclass(frozen=True, slots=True)
class PostingWindow:
    """Posting times accepted around ``as_of``: from ``days_back`` before to ``days_ahead``
    after. Validators given one refuse a ``posted_at`` outside it (field ``posted_at``)."""

    as_of: datetime
    days_back: float = POSTED_DAYS_BACK
    days_ahead: float = POSTED_DAYS_AHEAD

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("the reference time of a posting window needs a time zone")
        if not (self.days_back >= 0 and self.days_ahead >= 0):
            raise ValueError("a posting window reaches zero or more days back and ahead")

    @classmethod
    def now(
        cls, days_back: float = POSTED_DAYS_BACK, days_ahead: float = POSTED_DAYS_AHEAD
    ) -> PostingWindow:
        return cls(datetime.now(UTC), days_back, days_ahead)

    @property
    def earliest(self) -> datetime:
        return self.as_of - timedelta(days=self.days_back)

    @property
    def latest(self) -> datetime:
        return self.as_of + timedelta(days=self.days_ahead)

    def holds(self, posted_at: datetime) -> bool:
        try:
            return self.earliest <= posted_at <= self.latest
        except OverflowError:  # year 1 or 9999 with an offset: out of any window
            return False

    def message(self) -> str:
        return (
            f"posting time outside the plausible window: expected between "
            f"{self.earliest.isoformat()} and {self.latest.isoformat()} ({self.days_back:g} "
            f"days before to {self.days_ahead:g} days after the reference time "
            f"{self.as_of.isoformat()})"
        )
