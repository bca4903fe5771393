"""Empirical-Bayes priors of categories: smoothed seizure rates as learner inputs.

Trees cannot split on a category that holds three seizures among thousands of parcels (an
origin post office, a cover description, an origin country crossed with an HS chapter). Each
prior here is the category's seizure rate among the labels known so far, shrunk towards the
overall rate with a Beta prior worth ``strength`` labels: ``(seized + strength * m) / (labelled
+ strength)``, read by the model as ``log(rate / m)`` (0 for a category never labelled). Labels
are weighed as the trees weigh them (inverse propensities clipped at the learner's cap), or in
full (``full_weights``).

A training row's own label never enters its own prior: training rows get out-of-fold values
(``folds`` random folds, each scored by the tables of the others); the week's flow is scored by
the tables of every label known at the retraining. Categories are grouped on declared fields
and the frame's keyed tokens only: nothing of the simulator's hidden state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from screening import ParcelFrame

__all__ = ["PRIOR_KEYS", "Priors", "category_codes"]


def _joined(*columns: np.ndarray) -> np.ndarray:
    out = np.asarray(columns[0], dtype=object).astype(str)
    for column in columns[1:]:
        out = np.char.add(np.char.add(out, "|"), np.asarray(column, dtype=object).astype(str))
    return np.asarray(out, dtype=object)


#: The categories a prior can be learnt for, each a function of the frame (declared fields
#: and keyed tokens).
PRIOR_KEYS: dict[str, Callable[[ParcelFrame], np.ndarray]] = {
    "origin": lambda f: f.origin,
    "office": lambda f: f.tokens["office"],
    "chapter": lambda f: f.hs_chapter,
    "origin_chapter": lambda f: _joined(f.origin, f.hs_chapter),
    "office_chapter": lambda f: _joined(f.tokens["office"], f.hs_chapter),
    "description": lambda f: f.description,
    "origin_category": lambda f: _joined(f.origin, f.category),
    "origin_mail_class": lambda f: _joined(f.origin, f.mail_class),
    "sender_address": lambda f: f.tokens["sender_address"],
    "recipient_address": lambda f: f.tokens["recipient_address"],
}


def category_codes(frame: ParcelFrame, names: tuple[str, ...]) -> np.ndarray:
    """Integer codes of each named category, (n, len(names)) int64 (label-free)."""
    columns = [pd.factorize(np.asarray(PRIOR_KEYS[k](frame), dtype=object))[0] for k in names]
    return np.column_stack(columns).astype(np.int64) if columns else np.empty((len(frame), 0))


class Priors:
    """Smoothed seizure rates per category, refitted at each retraining."""

    def __init__(self, codes: np.ndarray, strength: float, folds: int, seed: int) -> None:
        self.codes = codes
        self.strength = strength
        self.folds = folds
        self.seed = seed
        self.sizes = codes.max(axis=0) + 1 if codes.size else np.zeros(0, np.int64)
        self.tables: list[np.ndarray] = []  # log(rate / m) per code, one per category

    @property
    def width(self) -> int:
        return int(self.codes.shape[1])

    def _tables(self, rows: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
        m = max(float((w * y).sum() / w.sum()), 1e-9)
        tables = []
        for j in range(self.width):
            size = int(self.sizes[j])
            seized = np.bincount(self.codes[rows, j], weights=w * y, minlength=size)
            labelled = np.bincount(self.codes[rows, j], weights=w, minlength=size)
            rate = (seized + self.strength * m) / (labelled + self.strength)
            tables.append(np.log(rate / m))
        return tables

    def fit(self, rows: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Learn the tables from these labelled rows; their out-of-fold priors, (n, width)."""
        out = np.zeros((rows.size, self.width))
        fold = np.random.default_rng(self.seed + rows.size).integers(0, self.folds, rows.size)
        for k in range(self.folds):
            held = fold == k
            if not held.any() or held.all():
                continue
            tables = self._tables(rows[~held], y[~held], w[~held])
            for j, table in enumerate(tables):
                out[held, j] = table[self.codes[rows[held], j]]
        self.tables = self._tables(rows, y, w)
        return out

    def values(self, rows: np.ndarray | slice) -> np.ndarray:
        """The priors of these rows from every label of the last fit (0 before any fit)."""
        codes = self.codes[rows]
        if not self.tables:
            return np.zeros((codes.shape[0], self.width))
        return np.column_stack([t[codes[:, j]] for j, t in enumerate(self.tables)])
