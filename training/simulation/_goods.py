"""Goods catalogue: HS chapters with subheadings, description vocabulary, weights and values.

Unit weights and values are log-normal per chapter (assumption, shaped on typical cross-border
e-commerce goods). Drug covers reuse this same vocabulary, so a description never names a drug.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Chapter:
    chapter: str
    hs6: tuple[str, ...]
    descriptions: tuple[str, ...]
    weight_kg: tuple[float, float]
    value_eur: tuple[float, float]
    max_quantity: int


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "61",
        ("610910", "611020", "610462", "611595", "610342"),
        (
            "T-shirt",
            "cotton t-shirt",
            "sweater",
            "hoodie",
            "socks",
            "knitted dress",
            "women's leggings",
            "baby clothes",
            "sports shirt",
        ),
        (0.20, 0.5),
        (12.0, 0.7),
        4,
    ),
    Chapter(
        "62",
        ("620342", "620462", "620520", "621142", "620193"),
        ("jeans", "trousers", "men's shirt", "jacket", "dress", "blouse", "skirt", "rain jacket"),
        (0.45, 0.5),
        (25.0, 0.7),
        3,
    ),
    Chapter(
        "64",
        ("640399", "640411", "640299"),
        ("shoes", "sneakers", "sandals", "boots", "slippers"),
        (0.9, 0.4),
        (35.0, 0.7),
        2,
    ),
    Chapter(
        "42",
        ("420222", "420292", "420231"),
        ("handbag", "wallet", "backpack", "phone case", "leather belt"),
        (0.3, 0.6),
        (18.0, 0.9),
        2,
    ),
    Chapter(
        "85",
        ("851762", "850440", "851830", "854442", "852351", "852349"),
        (
            "phone charger",
            "USB cable",
            "earphones",
            "bluetooth speaker",
            "memory card",
            "LED strip",
            "power bank",
            "DVD",
            "phone screen protector",
        ),
        (0.12, 0.9),
        (15.0, 1.0),
        3,
    ),
    Chapter(
        "84",
        ("847330", "847160", "847170"),
        ("computer parts", "keyboard", "mouse", "SSD drive", "graphics card"),
        (0.3, 0.8),
        (40.0, 1.0),
        2,
    ),
    Chapter(
        "33",
        ("330499", "330510", "330300", "330720", "330410"),
        (
            "cosmetics",
            "face cream",
            "shampoo",
            "perfume",
            "lipstick",
            "nail polish",
            "eye shadow palette",
            "body lotion",
            "face mask",
        ),
        (0.12, 0.6),
        (14.0, 0.8),
        4,
    ),
    Chapter(
        "95",
        ("950300", "950490", "950691"),
        ("toy", "puzzle", "board game", "plush toy", "model kit", "trading cards", "fidget toy"),
        (0.25, 0.8),
        (14.0, 0.8),
        3,
    ),
    Chapter(
        "49",
        ("490199", "490110", "490900", "491199"),
        (
            "book",
            "books",
            "magazine",
            "postcards",
            "catalogue",
            "printed matter",
            "comic book",
            "calendar",
        ),
        (0.35, 0.6),
        (12.0, 0.7),
        3,
    ),
    Chapter(
        "09",
        ("090230", "090210", "090121", "091099"),
        ("tea", "green tea", "black tea", "coffee beans", "ground coffee", "herbal tea", "spices"),
        (0.15, 0.6),
        (10.0, 0.6),
        4,
    ),
    Chapter(
        "21",
        ("210690", "210111", "210390"),
        (
            "food supplement",
            "vitamins",
            "protein powder",
            "instant coffee",
            "sauce",
            "herbal supplement",
            "snacks",
        ),
        (0.3, 0.6),
        (18.0, 0.7),
        3,
    ),
    Chapter(
        "71",
        ("711719", "711311", "711320", "711790"),
        ("jewelry", "necklace", "earrings", "ring", "bracelet", "silver pendant"),
        (0.03, 0.7),
        (20.0, 1.1),
        3,
    ),
    Chapter(
        "91",
        ("910211", "910219", "911320"),
        ("watch", "wrist watch", "watch strap"),
        (0.12, 0.4),
        (35.0, 1.1),
        1,
    ),
    Chapter(
        "39",
        ("392690", "392410", "392329"),
        ("plastic parts", "phone holder", "kitchen tools", "storage box", "stickers"),
        (0.15, 0.8),
        (6.0, 0.8),
        5,
    ),
    Chapter(
        "96",
        ("960810", "961900", "961511"),
        ("pens", "hair accessories", "brushes", "lighter"),
        (0.08, 0.6),
        (7.0, 0.8),
        5,
    ),
    Chapter(
        "90",
        ("900490", "901831", "900211"),
        ("sunglasses", "glasses", "camera lens", "contact lenses"),
        (0.08, 0.6),
        (25.0, 1.0),
        2,
    ),
)
DOCUMENTS = len(CHAPTERS)
"""Pseudo-chapter index for documents (no HS code, no value)."""
DOCUMENT_DESCRIPTIONS: tuple[str, ...] = (
    "documents",
    "letter",
    "contract",
    "papers",
    "certificates",
    "photos",
    "invoice copy",
)
VAGUE_DESCRIPTIONS: tuple[str, ...] = (
    "gift",
    "samples",
    "parts",
    "goods",
    "present",
    "merchandise",
    "accessories",
    "items",
)
"""Words that WCO and CN23 rules reject as too vague (DOMAIN: declaration section)."""

CHAPTER_CODES: tuple[str, ...] = tuple(c.chapter for c in CHAPTERS)
CHAPTER_INDEX: dict[str, int] = {c: i for i, c in enumerate(CHAPTER_CODES)}
WEIGHT_MEDIAN = np.array([c.weight_kg[0] for c in CHAPTERS] + [0.03])
WEIGHT_SIGMA = np.array([c.weight_kg[1] for c in CHAPTERS] + [0.6])
VALUE_MEDIAN = np.array([c.value_eur[0] for c in CHAPTERS] + [0.0])
VALUE_SIGMA = np.array([c.value_eur[1] for c in CHAPTERS] + [0.0])
MAX_QUANTITY = np.array([c.max_quantity for c in CHAPTERS] + [1])

# Flat description table: per chapter its own words, then documents, then vague words.
_desc: list[str] = []
_desc_start: list[int] = []
_desc_size: list[int] = []
for _words in [c.descriptions for c in CHAPTERS] + [DOCUMENT_DESCRIPTIONS]:
    _desc_start.append(len(_desc))
    _desc_size.append(len(_words))
    _desc.extend(_words)
VAGUE_START = len(_desc)
_desc.extend(VAGUE_DESCRIPTIONS)
DESCRIPTIONS = pa.array(_desc)
DESC_START = np.array(_desc_start)
DESC_SIZE = np.array(_desc_size)

_hs: list[str] = []
_hs_start: list[int] = []
_hs_size: list[int] = []
for _c in CHAPTERS:
    _hs_start.append(len(_hs))
    _hs_size.append(len(_c.hs6))
    _hs.extend(_c.hs6)
HS6 = pa.array(_hs)
HS_START = np.array(_hs_start + [0])
HS_SIZE = np.array(_hs_size + [1])

# Legitimate mix of main chapters for merchants (index order of CHAPTERS) - assumption.
MERCHANT_CHAPTER_WEIGHTS = np.array(
    [14, 10, 5, 5, 14, 4, 9, 6, 5, 3, 5, 5, 2, 5, 3, 3], dtype=float
)
# What private people send abroad: gifts of clothes, books, food, cosmetics, documents.
PRIVATE_CHAPTER_WEIGHTS = np.array(
    [10, 8, 3, 2, 5, 1, 8, 6, 8, 6, 5, 4, 1, 1, 2, 1, 20], dtype=float
)
# Cover goods of drug parcels (DOMAIN "Concealment"): gifts, documents, cosmetics, tea/food,
# DVDs/books, clothing; the last index is documents.
COVER_CHAPTER_WEIGHTS = np.zeros(len(CHAPTERS) + 1)
for _code, _w in (
    ("61", 8),
    ("33", 10),
    ("09", 10),
    ("21", 6),
    ("85", 6),
    ("49", 8),
    ("95", 4),
    ("71", 3),
):
    COVER_CHAPTER_WEIGHTS[CHAPTER_INDEX[_code]] = _w
COVER_CHAPTER_WEIGHTS[DOCUMENTS] = 15


def descriptions_for(rng: np.random.Generator, chapter: np.ndarray) -> np.ndarray:
    """Index into ``DESCRIPTIONS`` of a specific description for each line's chapter."""
    return np.asarray(
        DESC_START[chapter] + (rng.random(chapter.size) * DESC_SIZE[chapter]).astype(np.int64)
    )


def vague_descriptions(rng: np.random.Generator, n: int) -> np.ndarray:
    return VAGUE_START + rng.integers(0, len(VAGUE_DESCRIPTIONS), n)


def hs_codes_for(rng: np.random.Generator, chapter: np.ndarray) -> np.ndarray:
    """Index into ``HS6`` for each line (documents get a dummy index; callers null it)."""
    return np.asarray(
        HS_START[chapter] + (rng.random(chapter.size) * HS_SIZE[chapter]).astype(np.int64)
    )
