"""The 2HashDH oblivious PRF of RFC 9497 (OPRF mode, ristretto255-SHA512), with t-of-n custody.

The requester hashes an input to the group, blinds it with a random scalar ``r`` and sends
only ``r * H(x)``; a custodian multiplies by its key ``k`` and sends it back; the requester
removes ``r`` and hashes: ``F(k, x) = SHA-512(x, k * H(x))``. The custodian learns nothing of
``x``; the requester learns nothing of ``k``. With threshold custody ``k`` is Shamir-shared:
each custodian holds ``k_i`` and the requester combines ``t`` answers with Lagrange
coefficients in the exponent, so no custodian (and no agency) ever holds ``k``.

Group operations come from libsodium (``crypto_core_ristretto255_*`` through ``pysodium``);
a test holds this module to the RFC's test vectors.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from types import ModuleType

from .._errors import ScreeningError

CONTEXT = b"OPRFV1-\x00-ristretto255-SHA512"
_HASH_TO_GROUP_DST = b"HashToGroup-" + CONTEXT
_IDENTITY = bytes(32)
#: The order of the ristretto255 group.
ORDER = 2**252 + 27742317777372353535851937790883648493
_sodium: ModuleType | None = None


def sodium() -> ModuleType:
    """``pysodium``, or a ScreeningError that says what to install."""
    global _sodium
    if _sodium is None:
        try:
            import pysodium
        except (ImportError, OSError, ValueError) as exc:
            raise ScreeningError(
                "exchange tokens need libsodium and pysodium (pip install pysodium; on Debian "
                f"apt-get install libsodium23): {exc}"
            ) from None
        _sodium = pysodium
    return _sodium


def _expand_message_xmd(msg: bytes, dst: bytes, length: int = 64) -> bytes:
    """RFC 9380 expand_message_xmd with SHA-512, for outputs of at most 64 bytes."""
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha512(bytes(128) + msg + length.to_bytes(2, "big") + b"\0" + dst_prime)
    return hashlib.sha512(b0.digest() + b"\1" + dst_prime).digest()[:length]


def hash_to_group(data: bytes) -> bytes:
    point: bytes = sodium().crypto_core_ristretto255_from_hash(
        _expand_message_xmd(data, _HASH_TO_GROUP_DST)
    )
    if point == _IDENTITY:
        raise ScreeningError("an exchange token input hashed to the identity element")
    return point


def scalar_from_int(value: int) -> bytes:
    return (value % ORDER).to_bytes(32, "little")


def random_scalar() -> bytes:
    return scalar_from_int(1 + secrets.randbelow(ORDER - 1))


def blind(data: bytes, r: bytes | None = None) -> tuple[bytes, bytes]:
    """(blind scalar, blinded element) of one input."""
    r = r if r is not None else random_scalar()
    return r, sodium().crypto_scalarmult_ristretto255(r, hash_to_group(data))


def check_element(element: bytes, where: str) -> bytes:
    """An element received from the other party: 32 bytes, a valid non-identity point."""
    valid = len(element) == 32 and element != _IDENTITY
    if not valid or not sodium().crypto_core_ristretto255_is_valid_point(element):
        raise ScreeningError(f"{where}: not a valid ristretto255 element")
    return element


def evaluate(key: bytes, blinded: bytes) -> bytes:
    """The custodian's step: ``key * blinded`` (it never sees the input)."""
    point = sodium().crypto_scalarmult_ristretto255(key, check_element(blinded, "blinded element"))
    return bytes(point)


def finalize(data: bytes, r: bytes, evaluated: bytes) -> bytes:
    """The requester's step: unblind and hash; 64 bytes of PRF output."""
    s = sodium()
    check_element(evaluated, "evaluated element")
    unblinded = s.crypto_scalarmult_ristretto255(
        s.crypto_core_ristretto255_scalar_invert(r), evaluated
    )
    return hashlib.sha512(
        len(data).to_bytes(2, "big")
        + data
        + len(unblinded).to_bytes(2, "big")
        + unblinded
        + b"Finalize"
    ).digest()


def direct(key: bytes, data: bytes) -> bytes:
    """``F(key, data)`` computed by whoever holds the whole key (tests and the simulator only)."""
    r, blinded = blind(data)
    return finalize(data, r, evaluate(key, blinded))


def split_key(key: bytes, threshold: int, shares: int) -> list[tuple[int, bytes]]:
    """Shamir shares ``(i, k_i)`` of a scalar key, any ``threshold`` of which rebuild it."""
    if not 1 <= threshold <= shares:
        raise ScreeningError(f"threshold {threshold} of {shares} custodians is impossible")
    coefficients = [int.from_bytes(key, "little")] + [
        secrets.randbelow(ORDER) for _ in range(threshold - 1)
    ]
    out = []
    for i in range(1, shares + 1):
        value = sum(c * pow(i, j, ORDER) for j, c in enumerate(coefficients)) % ORDER
        out.append((i, scalar_from_int(value)))
    return out


def lagrange_at_zero(index: int, indices: Sequence[int]) -> bytes:
    num, den = 1, 1
    for j in indices:
        if j != index:
            num = num * j % ORDER
            den = den * (j - index) % ORDER
    return scalar_from_int(num * pow(den, -1, ORDER))


def combine(answers: Sequence[tuple[int, bytes]]) -> bytes:
    """``k * B`` from ``t`` custodians' answers ``(i, k_i * B)``."""
    s = sodium()
    indices = [i for i, _ in answers]
    if len(set(indices)) != len(indices):
        raise ScreeningError("two answers from the same custodian share")
    total: bytes | None = None
    for i, element in answers:
        check_element(element, f"custodian {i}'s answer")
        term = s.crypto_scalarmult_ristretto255(lagrange_at_zero(i, indices), element)
        total = term if total is None else s.crypto_core_ristretto255_add(total, term)
    if total is None:
        raise ScreeningError("no custodian answered")
    return total
