"""Time-based split with label-delay gaps (Fraud Detection Handbook, prequential validation).

    |---- train ----|gap|-- validation --|gap|---- test ----|

The model is trained as if it were the end of the first gap: training labels are the outcomes
recorded by then; validation labels those recorded by the end of the second gap. Test labels
are read in full, retrospectively, to evaluate.

A short history (an import of a few weeks) scales the gaps to its span: where two gaps would
take more than half of it, each takes an eighth, and ``describe`` says so. Under
``MIN_SPAN_DAYS`` there is nothing to split, and the error says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ._errors import DataError

_DAY_US = 86_400_000_000
#: the shortest span of posting times that three periods and two gaps can be cut from
MIN_SPAN_DAYS = 3.0


@dataclass(frozen=True)
class TimeSplit:
    train: np.ndarray  # bool masks over parcels
    validation: np.ndarray
    test: np.ndarray
    train_cutoff_us: int  # labels recorded before this time are usable for training
    validation_cutoff_us: int
    bounds_us: tuple[int, int, int, int, int, int]
    gap_note: str = ""  # how the gaps were scaled to a short span ("" when they were not)

    def describe(self) -> dict[str, str]:
        def day(us: int) -> str:
            return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d")

        b = self.bounds_us
        return {
            "train": f"{day(b[0])} .. {day(b[1])}",
            "validation": f"{day(b[2])} .. {day(b[3])}",
            "test": f"{day(b[4])} .. {day(b[5])}",
            **({"gap": self.gap_note} if self.gap_note else {}),
        }


def time_split(
    posted_us: np.ndarray,
    gap_days: float = 21.0,
    shares: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> TimeSplit:
    """Split by posting time into train, validation and test with gaps between them (scaled
    down where the data's span is short)."""
    if len(posted_us) == 0:
        raise DataError("no declarations to train on")
    start, end = int(posted_us.min()), int(posted_us.max()) + 1
    span_days = (end - start) / _DAY_US
    if span_days < MIN_SPAN_DAYS:
        raise DataError(
            f"the declarations span {span_days:.1f} days; training needs at least "
            f"{MIN_SPAN_DAYS:g} (training, validation and test periods by posting "
            "time, with label-delay gaps between them)"
        )
    note = ""
    if 4 * gap_days > span_days:
        note = (
            f"{span_days / 8:.1f} days, scaled down from {gap_days:g} to the data's span of "
            f"{span_days:.1f} days"
        )
        gap_days = span_days / 8
    gap = int(gap_days * _DAY_US)
    usable = end - start - 2 * gap
    t1 = start + int(shares[0] / sum(shares) * usable)
    t2 = t1 + gap + int(shares[1] / sum(shares) * usable)
    t3 = t2 + gap
    return TimeSplit(
        train=(posted_us >= start) & (posted_us < t1),
        validation=(posted_us >= t1 + gap) & (posted_us < t2),
        test=posted_us >= t3,
        train_cutoff_us=t1 + gap,
        validation_cutoff_us=t3,
        bounds_us=(start, t1, t1 + gap, t2, t3, end),
        gap_note=note,
    )
