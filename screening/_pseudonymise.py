"""Pseudonymisation of names and addresses (keyed hashing, ENISA 2019).

Names and addresses are personal data. They are normalised (Unicode compatibility form,
accents and other combining marks, zero-width and direction marks, case, punctuation, spacing)
so that trivial variants of one identity collide, then hashed with HMAC-SHA256 under a secret
key. Only these tokens reach features, stores, logs and training files; without the key a
token cannot be linked back to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

_TOKEN_BYTES = 16
_SEPARATOR = "\x1f"
_NON_WORD = re.compile(r"[\W_]+")  # keeps letters and digits of every script


def normalise(text: str | None) -> str:
    """Canonical form of a name or address part: no marks, case-folded words, one space."""
    if not text:
        return ""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.category(c).startswith(("M", "C")))
        text = unicodedata.normalize("NFKD", text.casefold())
    return _NON_WORD.sub(" ", text.lower()).strip()


class Pseudonymiser:
    """Turns identity parts into keyed tokens (hex, 128 bits)."""

    def __init__(self, key: bytes | str) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = raw

    def token(self, kind: str, parts: Sequence[str | None]) -> str:
        """Token of one entity; empty when its leading part (name, street) normalises to ''."""
        normalised = [normalise(p) for p in parts]
        if not normalised or not normalised[0]:
            return ""
        message = _SEPARATOR.join([kind, *normalised]).encode()
        return hmac.digest(self._key, message, hashlib.sha256)[:_TOKEN_BYTES].hex()

    def tokens(self, kind: str, rows: Iterable[tuple[str | None, ...]]) -> np.ndarray:
        """Token per row (a tuple of parts); repeated rows are hashed once."""
        cache: dict[tuple[str | None, ...], str] = {}
        out = []
        for row in rows:
            token = cache.get(row)
            if token is None:
                token = cache[row] = self.token(kind, row)
            out.append(token)
        return np.array(out, dtype=object)
