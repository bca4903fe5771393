"""Pseudonymisation of names and addresses (keyed hashing, ENISA 2019).

Names and addresses are personal data. They are normalised (case, accents, punctuation,
zero-width and direction marks, spacing) so that trivial variants of one identity collide, then
hashed with HMAC-SHA256 under a secret key. Only these tokens reach features, stores, logs
and training files; without the key a token cannot be linked back to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_TOKEN_BYTES = 16


def normalise(text: str | None) -> str:
    """Canonical form of a name or address part: ASCII-folded, lower case, single spaces."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) and c.isprintable())
    return _NON_ALNUM.sub(" ", kept.casefold()).strip()


class Pseudonymiser:
    """Turns normalised identity parts into keyed tokens (hex, 128 bits)."""

    def __init__(self, key: bytes | str) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = raw

    def token(self, kind: str, parts: Sequence[str | None]) -> str:
        """Token of one entity; empty when the leading part (name, street) is empty."""
        normalised = [normalise(p) for p in parts]
        if not normalised or not normalised[0]:
            return ""
        message = "\x1f".join([kind, *normalised]).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TOKEN_BYTES].hex()
