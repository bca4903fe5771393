"""Pseudonymisation of names and addresses (keyed hashing, ENISA 2019).

Names and addresses are personal data. They are normalised (Unicode compatibility form,
accents and other combining marks, zero-width and direction marks, case, punctuation, spacing)
so that trivial variants of one identity collide, then hashed with HMAC-SHA256 under a secret
key. Only these tokens reach features, stores, logs and training files; without the key a
token cannot be linked back to a person. Normalisation is vectorised over Arrow arrays, and a
single record goes through the same code as a million.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TOKEN_BYTES = 16
_SEPARATOR = "\x1f"


def normalise_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical form of names or address parts: no marks, lower case ASCII words, one space."""
    text = pc.fill_null(values, "")
    text = pc.utf8_normalize(text, form="NFKD")
    text = pc.replace_substring_regex(text, r"[\p{M}\p{Cf}]+", "")  # accents, zero-width, bidi
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"[^0-9a-z]+", " ")
    return pc.utf8_trim_whitespace(text)


def normalise(text: str | None) -> str:
    """One value through :func:`normalise_array` (the same code path)."""
    return str(normalise_array(pa.array([text], pa.string()))[0].as_py())


class Pseudonymiser:
    """Turns identity parts into keyed tokens (hex, 128 bits)."""

    def __init__(self, key: bytes | str) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = raw

    def tokens(self, kind: str, parts: Sequence[pa.Array | pa.ChunkedArray]) -> np.ndarray:
        """Token per row of an entity made of ``parts``; empty where the first part is empty."""
        normalised = [normalise_array(p) for p in parts]
        joined = pc.binary_join_element_wise(pa.scalar(kind), *normalised, _SEPARATOR)
        leading = np.asarray(normalised[0].to_numpy(zero_copy_only=False), dtype=object)
        messages = joined.to_numpy(zero_copy_only=False)
        key, cache = self._key, {}
        out = np.empty(len(messages), dtype=object)
        for i, (message, lead) in enumerate(zip(messages, leading, strict=True)):
            if not lead:
                out[i] = ""
                continue
            token = cache.get(message)
            if token is None:
                token = hmac.digest(key, message.encode(), hashlib.sha256)[:_TOKEN_BYTES].hex()
                cache[message] = token
            out[i] = token
        return out

    def token(self, kind: str, parts: Sequence[str | None]) -> str:
        """Token of one entity given as plain strings (the same code path as ``tokens``)."""
        return str(self.tokens(kind, [pa.array([p], pa.string()) for p in parts])[0])
