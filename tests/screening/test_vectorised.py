"""The column-wise paths of batch screening equal the row-by-row ones, bit for bit.

Pseudonymisation tokens and random-control draws are stored and compared across runs, so
the vectorised normaliser, the keyed hash, the token and draw functions and the snapshot
history must give exactly what the one-parcel (HTTP) path gives.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening import (
    History,
    MemoryBackend,
    ParcelFrame,
    Pseudonymiser,
    SQLiteBackend,
    entity_tokens,
    frame_from_table,
    normalise,
    parcel_features,
    replay,
    uniform_draw,
    uniform_draws,
)
from screening._features import FeatureSpec
from screening._pseudonymise import KeyedHash, normalise_many
from tests.screening.helpers import KEY, stream

#: Unicode edge cases of names and addresses (marks, zero-width and bidi controls, scripts,
#: case folding, digits of other scripts, punctuation and spaces of every kind).
CORPUS = [
    None,
    "",
    " ",
    "  ",
    "_",
    "__a__",
    "a_b",
    "Zoë  Müller",
    "ZO\u200bE MÜLLER!!",
    "Ångström-Straße 5",
    "Иван Петров",
    "\u202eevil\u202c",
    "מרים כהן",
    "מרים  כהן.",
    "İstanbul",
    "ǅemal",
    "ﬁnn",
    "Ⅻ Street",
    "①②",
    "٣٤ شارع",
    "東京都 千代田区",
    "Ｆｕｌｌ　Ｗｉｄｔｈ",
    "tab\there",
    "new\nline",
    "\x00nul",
    "\x1fsep\x1f",
    "a\u00a0b",
    "x\u2028y",
    "e\u0301",
    "ǈ",
    "ß",
    "ẞ",
    "Σίσυφος",
    "o'brien-smith",
    "No. 12/3b",
    "ABC\x7f",
    "\u200d",
    "\ufeffbom",
    "1 A St",
    "  GIFT  ",
    "PO BOX 17",
    "Ελληνικά",
    "ı",
    "K",
    "Å",
    "µ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "🙂 smile",
]


def test_normalise_many_equals_normalise_on_the_corpus() -> None:
    assert normalise_many(pa.array(CORPUS, pa.string())) == [normalise(v) for v in CORPUS]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(),
            st.text(alphabet=st.characters(max_codepoint=127)),
            st.text(alphabet="aZ09 _-.,'/\t\n\x1f\x00\x7f"),
        ),
        max_size=30,
    )
)
def test_normalise_many_equals_normalise_on_random_strings(values: list[str | None]) -> None:
    assert normalise_many(pa.array(values, pa.string())) == [normalise(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=200), st.binary(max_size=300))
def test_keyed_hash_is_hmac_sha256(key: bytes, message: bytes) -> None:
    keyed = KeyedHash(key)
    expected = hmac.digest(key, message, hashlib.sha256)
    assert keyed.digest(message) == expected
    assert keyed.digests([message, b"", message]) == [
        expected,
        hmac.digest(key, b"", "sha256"),
        expected,
    ]


def _old_token(key: bytes, kind: str, parts: list[str | None]) -> str:
    """The token as first specified: HMAC-SHA256 of the normal forms, 16 bytes, hex."""
    normal = [normalise(p) for p in parts]
    if not normal[0]:
        return ""
    message = "\x1f".join([kind, *normal]).encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:16].hex()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CORPUS),
            st.one_of(st.none(), st.text(max_size=8)),
            st.sampled_from(["NL", "DE", None, ""]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_tokens_of_columns_equal_tokens_row_by_row(rows: list[tuple[str | None, ...]]) -> None:
    ps = Pseudonymiser(KEY)
    columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(3)]
    got = ps.tokens_of_columns("recipient", columns)
    assert got.dtype == object
    assert got.tolist() == [ps.token("recipient", list(r)) for r in rows]
    assert got.tolist() == [_old_token(KEY.encode(), "recipient", list(r)) for r in rows]


def test_tokens_of_columns_of_no_rows() -> None:
    assert Pseudonymiser(KEY).tokens_of_columns("office", [pa.array([], pa.string())]).size == 0


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=16, max_size=100), st.lists(st.text(max_size=20), max_size=50))
def test_uniform_draws_equal_uniform_draw(key: bytes, ids: list[str]) -> None:
    draws = uniform_draws(key, np.array(ids, dtype=object))
    old = [
        int.from_bytes(
            hmac.new(key, b"random-control\x1f" + i.encode(), hashlib.sha256).digest()[:8], "big"
        )
        / 2**64
        for i in ids
    ]
    assert draws.dtype == np.float64
    assert draws.tolist() == [uniform_draw(key, i) for i in ids] == old


def _row_history(history: History, frame: ParcelFrame) -> np.ndarray:
    rows = [
        history.features(entity_tokens(frame, r), int(frame.posted_us[r]))
        for r in range(len(frame))
    ]
    return np.array(rows, dtype=np.float64).reshape(-1, 20)


def _populated(history: History) -> None:
    """A store that knows some of the entities below, with seizures and clean inspections."""
    names = ["Ann", "Bob", "Cy", "Ann", "Dee", "Bob", "Ann"]
    streets = ["1 A St", "2 B St", "1 A St", "", "3 C St", "2 B St", "1 A St"]
    seen = stream([(h, n, s) for h, (n, s) in enumerate(zip(names, streets, strict=True))])
    replay(seen, [], history)
    history.record_outcome(str(seen.item_id[0]), seized=True, clean=False)
    history.record_outcome(str(seen.item_id[1]), seized=False, clean=True)


def _scored() -> ParcelFrame:
    names = ["Ann", "Bob", "Eve", "!!", "Cy", "Ann", "Dee", "Zoë", "Bob", "Ann"] * 5
    streets = [
        "1 A St",
        "2 B St",
        "9 Z St",
        "1 A St",
        "",
        "4 D St",
        "3 C St",
        "1 A St",
        "2 B St",
        "1 A St",
    ] * 5
    return stream([(100 + h, n, s) for h, (n, s) in enumerate(zip(names, streets, strict=True))])


@pytest.mark.parametrize("store", ["empty", "memory", "sqlite"])
def test_snapshot_history_equals_row_path(store: str, tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "h.db") if store == "sqlite" else MemoryBackend()
    history = History(backend)
    if store != "empty":
        _populated(history)
    frame = _scored()
    expected = _row_history(history, frame)
    got = history.snapshot_features(frame)
    np.testing.assert_array_equal(got, expected)
    if store != "empty":  # the store is really read: known entities and their seizures show
        assert (got[:, 0] > 0).any() and (got[:, 3] > 0).any()


def test_parcel_features_of_many_rows_equal_those_of_each_row(sim_data: Path) -> None:
    """Above the distinct-value threshold the text features are computed per distinct value."""
    table = pq.read_table(sim_data / "declarations.parquet").slice(0, 300)
    frame = frame_from_table(table, Pseudonymiser(KEY))
    spec = FeatureSpec(
        origins=["DE", "NL", "CN"],
        destinations=["NL"],
        chapter_weight_kg={"33": 0.4, "09": 1.0},
        chapter_value_per_gram={"33": 0.05},
    )
    many = parcel_features(frame, spec)
    ones = np.vstack(
        [
            parcel_features(frame_from_table(table.slice(i, 1), Pseudonymiser(KEY)), spec)
            for i in range(table.num_rows)
        ]
    )
    np.testing.assert_array_equal(many, ones)
