"""UPU S10 item identifiers: format, check digit and mail class.

Form: two letters (service indicator), eight serial digits, one check digit and the two-letter
ISO 3166 code of the issuing post, e.g. ``RR123456785CH``.

The country must be an ISO 3166-1 alpha-2 code (``_codes.COUNTRIES``), so that an ID naming no
real issuing post (``RB123456785XX``) is refused. UPU S10 takes the issuing post's ISO 3166-1
code; the one exception accepted here is ``XK`` (Kosovo), which the UPU uses though ISO has
not assigned it. We found no published list of further UPU exceptions (the S10 standard
itself is not public): a post that uses another code is refused, naming it, and belongs in
``S10_EXTRA_COUNTRIES`` with its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ._codes import COUNTRIES
from ._express import is_express_id, looks_like_express_id

_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")
_SHAPE = re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}\Z")
#: Codes an S10 ID may end with beyond ISO 3166-1's assigned ones (see the module's note):
#: XK, Kosovo, used by the UPU (it is in ``COUNTRIES`` already, as contracts accept it).
S10_EXTRA_COUNTRIES: frozenset[str] = frozenset({"XK"})
#: Every code an S10 ID may end with.
S10_COUNTRIES: frozenset[str] = COUNTRIES | S10_EXTRA_COUNTRIES


class MailClass(StrEnum):
    """Mail class told by the first letter of the S10 service indicator."""

    EMS = "ems"
    REGISTERED_LETTER = "registered_letter"
    LETTER_EXPRESS = "letter_express"
    INSURED_LETTER = "insured_letter"
    PARCEL = "parcel"
    ECOMMERCE_PARCEL = "ecommerce_parcel"
    M_BAG = "m_bag"
    LETTER_MISC = "letter_misc"
    DOMESTIC_OR_BILATERAL = "domestic_or_bilateral"


#: The class of an express consignment (contract version 2): not a postal mail class, so not a
#: member of MailClass (whose members are the model's one-hot features: an express
#: consignment has none of them set).
EXPRESS_CLASS = "express_consignment"


_CLASS_BY_LETTER = {
    "E": MailClass.EMS,
    "R": MailClass.REGISTERED_LETTER,
    "L": MailClass.LETTER_EXPRESS,
    "V": MailClass.INSURED_LETTER,
    "C": MailClass.PARCEL,
    "H": MailClass.ECOMMERCE_PARCEL,
    "M": MailClass.M_BAG,
    "U": MailClass.LETTER_MISC,
}


class S10Error(ValueError):
    """An item identifier that is not a valid UPU S10 code; the message says why."""


@dataclass(frozen=True, slots=True)
class S10:
    """A parsed, valid S10 identifier."""

    service: str
    serial: str
    check: int
    country: str

    @property
    def mail_class(self) -> MailClass:
        return mail_class(self.service)

    def __str__(self) -> str:
        return f"{self.service}{self.serial}{self.check}{self.country}"


def check_digit(serial: str) -> int:
    """Return the S10 check digit of an eight-digit serial number."""
    if len(serial) != 8 or not serial.isdigit():
        raise S10Error(f"serial must be 8 digits, got {serial!r}")
    c = 11 - sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    return 0 if c == 10 else 5 if c == 11 else c


def mail_class(service: str) -> MailClass:
    """Mail class of a two-letter service indicator (B, D, N, P, Z... are domestic/bilateral)."""
    return _CLASS_BY_LETTER.get(service[:1], MailClass.DOMESTIC_OR_BILATERAL)


def item_class(item_id: str) -> str:
    """Class of an item ID: the mail class of an S10 service indicator, or EXPRESS_CLASS."""
    if is_express_id(item_id):
        return EXPRESS_CLASS
    return mail_class(item_id[:2]).value


def parse_s10(item_id: str) -> S10:
    """Parse and validate an S10 identifier, raising S10Error with the reason when invalid."""
    match = _S10.match(item_id)
    if match is None:  # the value is not repeated: it may be anything, a name included
        raise S10Error(
            "expected 2 letters, 8 digits, a check digit and a 2-letter country code, "
            "like RR123456785CH"
        )
    service, serial, check, country = match.groups()
    expected = check_digit(serial)
    if int(check) != expected:
        raise S10Error(f"check digit of {item_id!r} is {check}, expected {expected}")
    if country not in S10_COUNTRIES:
        raise S10Error(
            f"{item_id!r} ends with {country!r}, which is not the ISO 3166-1 alpha-2 "
            "code of a country: the last two letters name the issuing post's country"
        )
    return S10(service, serial, int(check), country)


def looks_like_s10(value: object) -> bool:
    """Whether a value has the shape of an S10 ID (its check digit aside): only such values
    are repeated in messages, labels and quarantine files; anything else in an item ID field
    may be personal data."""
    return isinstance(value, str) and _SHAPE.match(value.strip()) is not None


def looks_like_item_id(value: object) -> bool:
    """Whether a value has the shape of an S10 ID or of an express consignment's
    CARRIER:HOUSE_NUMBER: only such values are repeated in messages, labels and quarantine
    files."""
    return looks_like_s10(value) or looks_like_express_id(value)


def make_s10(service: str, serial: int, country: str) -> str:
    """Build a valid S10 identifier from its parts (used by the simulator and tests)."""
    digits = f"{serial:08d}"
    return f"{service}{digits}{check_digit(digits)}{country}"
