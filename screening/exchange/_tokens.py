"""Exchange tokens: a party's variants through the custodians' oblivious PRF.

A token is ``EPOCH:HEX`` (128 bits of the PRF output). Only blinded group elements leave the
requester; the custodians' answers are combined (t of n) and unblinded here. The same variant
gives the same token at every agency of the exchange within one epoch, and nothing anyone can
compute once that epoch's key shares are destroyed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .._errors import ScreeningError
from . import _oprf
from ._variants import ROLES, party_variants

TOKEN_BYTES = 16


class Evaluator(Protocol):
    def evaluate(
        self, requester: str, epoch: str, blinded: Sequence[bytes]
    ) -> tuple[int, list[bytes]]: ...


def _token(epoch: str, output: bytes) -> str:
    return f"{epoch}:{output[:TOKEN_BYTES].hex()}"


class TokenClient:
    """Asks ``threshold`` of the custodians for each batch; caches nothing across calls."""

    def __init__(self, custodians: Sequence[Evaluator], threshold: int, requester: str) -> None:
        if len(custodians) < threshold:
            raise ScreeningError(f"{len(custodians)} custodians reachable; {threshold} must answer")
        self.custodians = list(custodians)[:threshold]
        self.requester = requester

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        if not inputs:
            return []
        data = [text.encode() for text in inputs]
        blinds = [_oprf.blind(d) for d in data]
        answers = [
            c.evaluate(self.requester, epoch, [b for _, b in blinds]) for c in self.custodians
        ]
        out = []
        for n, (d, (r, _)) in enumerate(zip(data, blinds, strict=True)):
            combined = _oprf.combine([(index, evaluated[n]) for index, evaluated in answers])
            out.append(_token(epoch, _oprf.finalize(d, r, combined)))
        return out


class DirectTokens:
    """The same tokens from whole epoch keys (tests and the simulator, never a deployment)."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self.keys = dict(keys)
        self._cache: dict[tuple[str, str], str] = {}

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        out = []
        for text in inputs:
            token = self._cache.get((epoch, text))
            if token is None:
                token = _token(epoch, _oprf.direct(self.keys[epoch], text.encode()))
                self._cache[(epoch, text)] = token
            out.append(token)
        return out


class Tokeniser(Protocol):
    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]: ...


def party_tokens(
    client: Tokeniser, parties: Sequence[Mapping[str, Any]], epoch: str
) -> list[list[dict[str, str]]]:
    """Per declaration (a mapping with ``sender`` and ``recipient``), its tokens as
    ``{"token", "role", "kind"}``; distinct variants are asked for once."""
    variants = [
        [
            (role, kind, text)
            for role in ROLES
            for kind, text in party_variants(role, p.get(role)).items()
        ]
        for p in parties
    ]
    distinct = sorted({text for row in variants for _, _, text in row})
    tokens = dict(zip(distinct, client.tokens(distinct, epoch), strict=True))
    return [
        [{"token": tokens[text], "role": role, "kind": kind} for role, kind, text in row]
        for row in variants
    ]
