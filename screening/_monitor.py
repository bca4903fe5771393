"""Drift alarms that mean something (issue 18): what should be stable, compared on comparable
windows with a test that knows its sample sizes.

PSI against the bundle's validation period flagged 9 to 23 features on a normal day: a day's
posting hours and weekday never match a multi-week reference, and entity-history counts grow as
the store fills. Here:

- calendar features (``CALENDAR_FEATURES``) are never compared: they describe when, not what;
- the reference is a comparable window the caller chooses: for a day, the same weekday of the
  previous weeks (:func:`same_weekday_reference`);
- features that grow with time (``GROWING_FEATURES``: counts and ages of history) are compared
  by what should be stable about them: whether the entity was seen before (the share of known
  senders, recipients, addresses, pairs and offices), not how much history has piled up; their
  levels grow for every frequent entity, day after day, by construction;
- an alarm needs both a significant two-sample G-test on the binned counts (Bonferroni over the
  features compared) and a material effect (PSI at least ``min_psi``): a small day does not
  alarm on noise, a large one not on a negligible shift;
- fewer than ``MIN_ROWS`` rows are not measured at all: not an empty list of alarms.

A batch run has no comparable window of its own, only the bundle's reference histograms (the
validation period, thousands of rows): :func:`histogram_alarms` applies the same rules to its
binned counts with a goodness-of-fit G-test against the reference shares. The reference holds
no "seen before" share of the growing features, so a batch does not compare them at all
rather than compare their levels (which grow by construction). Other history features (the
office's seizure share) are missing where the store holds no outcomes of the entity, which
says what the store has seen, not what the manifest is: a batch compares their known values
only, and only where at least ``MIN_ROWS`` of them are known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._drift import bin_counts
from ._features import names_of_kind
from .history import HISTORY_FEATURES

#: Features that say when, not what (declared of kind "calendar").
CALENDAR_FEATURES = names_of_kind("calendar")
#: History that grows as the store fills (declared of kind "growing": counts and ages).
GROWING_FEATURES = names_of_kind("growing")
MIN_PSI = 0.05
ALPHA = 1e-3
#: Fewer rows than this in a window (or a batch) are not measured: too little to tell.
MIN_ROWS = 200
_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftAlarm:
    """One feature (or the score) that moved: how much (PSI) and how surely (p-value)."""

    feature: str
    psi: float
    p_value: float
    reference_rows: int
    current_rows: int


def chi2_sf(x: float, df: int) -> float:
    """Upper tail of the chi-square distribution (Wilson-Hilferty; ample for thresholds)."""
    if df <= 0 or x <= 0:
        return 1.0
    z = ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def compare(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> tuple[float, float]:
    """(PSI, p-value of a two-sample G-test) of two samples, binned at the reference's
    quantiles with missing values in a bin of their own."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    edges = _edges(reference[np.isfinite(reference)], bins)
    ref, cur = bin_counts(reference, edges), bin_counts(current, edges)
    table = np.vstack([ref, cur]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or min(ref.sum(), cur.sum()) == 0:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    observed = table[table > 0]
    g = 2.0 * float(np.sum(observed * np.log(observed / expected[table > 0])))
    p_ref = np.maximum(table[0] / table[0].sum(), _FLOOR)
    p_cur = np.maximum(table[1] / table[1].sum(), _FLOOR)
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref))), chi2_sf(g, table.shape[1] - 1)


def stable_view(values: np.ndarray, name: str) -> np.ndarray:
    """What is compared of a feature: a growing one as 1 where the entity has history, else
    0; any other as it is."""
    values = np.asarray(values, dtype=np.float64)
    if name in GROWING_FEATURES:
        return np.asarray(np.nan_to_num(values, nan=0.0) > 0, dtype=np.float64)
    return values


def _edges(finite: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges: one bin per value for a discrete feature (codes, flags, small counts: at most
    ``4 * bins`` distinct values), else quantiles; values outside the reference's range get
    bins of their own (a code never seen, a weight never declared)."""
    if not finite.size:
        return np.empty(0)
    distinct = np.unique(finite)
    if distinct.size <= 4 * bins:
        inner = (distinct[1:] + distinct[:-1]) / 2
    else:
        inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    low, high = distinct[0], distinct[-1]
    outer = max(high - low, 1.0) * 1e-6
    return np.concatenate([[low - outer], inner, [high + outer]])


def drift_alarms(
    reference: np.ndarray,
    current: np.ndarray,
    names: Sequence[str],
    alpha: float = ALPHA,
    min_psi: float = MIN_PSI,
) -> list[DriftAlarm]:
    """Features of ``current`` (rows x features, ``names`` order) that moved against
    ``reference``: calendar features skipped, growing ones by their :func:`stable_view`."""
    compared = [i for i, name in enumerate(names) if name not in CALENDAR_FEATURES]
    alarms = []
    for i in compared:
        psi, p = compare(
            stable_view(reference[:, i], names[i]), stable_view(current[:, i], names[i])
        )
        if p < alpha / max(len(compared), 1) and psi >= min_psi:
            alarms.append(DriftAlarm(names[i], psi, p, len(reference), len(current)))
    return sorted(alarms, key=lambda a: -a.psi)


def score_alarm(
    reference: np.ndarray, current: np.ndarray, alpha: float = ALPHA, min_psi: float = MIN_PSI
) -> DriftAlarm | None:
    """The score's distribution moved (same test; the score is one comparison)."""
    psi, p = compare(reference, current)
    if p < alpha and psi >= min_psi:
        return DriftAlarm("score", psi, p, len(reference), len(current))
    return None


def fit_to_shares(shares: Sequence[float], counts: np.ndarray) -> tuple[float, float]:
    """(PSI, p-value of a goodness-of-fit G-test) of binned ``counts`` against reference bin
    ``shares`` taken as known (a reference far larger than the sample)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = float(counts.sum())
    if total == 0:
        return 0.0, 1.0
    expected_share = np.maximum(np.asarray(shares, dtype=np.float64), _FLOOR)
    expected_share /= expected_share.sum()
    observed = counts > 0
    g = 2.0 * float(
        np.sum(counts[observed] * np.log(counts[observed] / (total * expected_share[observed])))
    )
    actual = np.maximum(counts / total, _FLOOR)
    psi = float(np.sum((actual - expected_share) * np.log(actual / expected_share)))
    used = int(np.count_nonzero((np.asarray(shares, dtype=np.float64) > 0) | observed))
    return psi, chi2_sf(g, used - 1)


@dataclass(frozen=True)
class HistogramDrift:
    """A batch's drift against the bundle's reference histograms.

    ``measured`` is False below ``MIN_ROWS`` rows (``note`` says why) and ``alarms`` is then
    empty by necessity, not because nothing moved. ``skipped`` names the features not
    compared and why (calendar; growing)."""

    rows: int
    measured: bool
    note: str
    alarms: tuple[DriftAlarm, ...]
    compared: tuple[str, ...]
    skipped: dict[str, tuple[str, ...]]


def histogram_alarms(
    reference: dict[str, Any],
    counts: dict[str, np.ndarray],
    rows: int,
    alpha: float = ALPHA,
    min_psi: float = MIN_PSI,
) -> HistogramDrift:
    """The drift check of a batch of ``rows`` from its binned ``counts`` (feature name, or
    ``"__score__"``, to counts in the reference's bins): the rules of :func:`drift_alarms`
    (calendar skipped, growing ones not compared by level; significant after Bonferroni and
    material) against the reference's shares."""
    names = [n for n in counts if n != "__score__" and n in reference.get("features", {})]
    calendar = tuple(sorted(n for n in names if n in CALENDAR_FEATURES))
    growing = tuple(sorted(n for n in names if n in GROWING_FEATURES))
    known_only = {n for n in names if n in HISTORY_FEATURES and n not in GROWING_FEATURES}
    unknown = tuple(sorted(n for n in known_only if _known(counts[n]) < MIN_ROWS))
    compared = tuple(
        n
        for n in names
        if n not in CALENDAR_FEATURES and n not in GROWING_FEATURES and n not in unknown
    )
    skipped = {"calendar": calendar, "growing": growing, "history_not_known": unknown}
    if rows < MIN_ROWS:
        note = (
            f"not measured: {rows} row(s) scored, drift is measured from {MIN_ROWS} "
            "(too little to tell a shift from noise)"
        )
        return HistogramDrift(rows, False, note, (), compared, skipped)
    alarms = []
    for name in compared:
        shares, observed = reference["features"][name]["shares"], np.asarray(counts[name])
        if name in known_only:  # the last bin counts the missing values
            shares, observed = shares[:-1], observed[:-1]
        psi, p = fit_to_shares(shares, observed)
        if p < alpha / max(len(compared), 1) and psi >= min_psi:
            alarms.append(DriftAlarm(name, psi, p, 0, rows))
    alarms.sort(key=lambda a: -a.psi)
    if "__score__" in counts:
        psi, p = fit_to_shares(reference["score"]["shares"], counts["__score__"])
        if p < alpha and psi >= min_psi:
            alarms.insert(0, DriftAlarm("score", psi, p, 0, rows))
    note = (
        f"measured on {rows} rows against the bundle's validation period: {len(compared)} "
        f"feature(s) compared; calendar features and {len(growing)} history feature(s) that "
        "grow with time not compared"
        + (f"; {', '.join(unknown)} not compared: too few known in the store" if unknown else "")
    )
    return HistogramDrift(rows, True, note, tuple(alarms), compared, skipped)


def _known(counts: np.ndarray) -> int:
    """Values in the bins of ``counts`` but the last (missing values)."""
    return int(np.asarray(counts)[:-1].sum())


def same_weekday_reference(posted_us: np.ndarray, day_start_us: int, weeks: int = 4) -> np.ndarray:
    """Rows posted on the same weekday as the day starting at ``day_start_us``, in each of the
    ``weeks`` weeks before it: a comparable window for that day."""
    day_us = 86_400_000_000
    mask = np.zeros(posted_us.size, bool)
    for k in range(1, weeks + 1):
        start = day_start_us - k * 7 * day_us
        mask |= (posted_us >= start) & (posted_us < start + day_us)
    return mask
