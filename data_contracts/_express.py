"""Express consignments (ICS2): the item ID built from carrier code and house consignment number.

An express consignment is identified by its carrier and the carrier's house consignment
(house air waybill) number, with the master transport document where known (DOMAIN.md,
"Express consignments"). Everything downstream keys an item on one ``item_id``: an express
consignment's is ``CARRIER:HOUSE_NUMBER`` (``DHL:1234567890``). The colon keeps it apart from
every S10 ID (which has none) and survives the officer view's search, which drops spaces,
dashes and dots from what is typed.

Contract version 2 carries express consignments; which kind an item is follows from its ID
(a colon: express), and its ``express`` details must agree with that ID. The rules here are
shared by the record validator and the vectorised one, so that the two give the same message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SEPARATOR = ":"
#: Carrier code: 2 to 4 capitals or digits (an IATA or ICAO designator, or the code a customs
#: authority gave the carrier).
CARRIER_PATTERN = r"^[A-Z0-9]{2,4}$"
#: House consignment (house air waybill) number: 1 to 35 capitals or digits, at least one digit.
HOUSE_PATTERN = r"^[A-Z0-9]{1,35}$"
#: Master transport document (master air waybill, e.g. 176-12345675): capitals, digits, dashes.
DOCUMENT_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,34}$"
HOUSE_DIGIT = "a house consignment number holds at least one digit"
_KEY = re.compile(r"([A-Z0-9]{2,4}):([A-Z0-9]{1,35})\Z")
_KEY_SHAPE = r"^[A-Z0-9]{2,4}:[A-Z0-9]*[0-9][A-Z0-9]*$"  # RE2 and Python alike
_SHAPE = re.compile(_KEY_SHAPE)
#: The contract versions that carry express consignments and party identification numbers.
V2 = "2"


def is_express_id(item_id: str) -> bool:
    """Whether an item ID is of the express kind (it has a colon; S10 IDs have none)."""
    return SEPARATOR in item_id


def express_item_id(carrier: str, house_consignment: str) -> str:
    """The item ID of an express consignment: ``CARRIER:HOUSE_NUMBER``."""
    return f"{carrier}{SEPARATOR}{house_consignment}"


def looks_like_express_id(value: object) -> bool:
    """Whether a value has the shape of an express item ID (safe to repeat in messages: a
    carrier code, a colon and a number with digits cannot be a name)."""
    return isinstance(value, str) and len(value) <= 40 and _SHAPE.match(value.strip()) is not None


def express_id_problem(item_id: str, version: str | None) -> str | None:
    """What is wrong with an item ID of the express kind, or None. ``version``: the record's
    contract version (None when it is not valid itself, then it is not judged on it)."""
    if version is not None and version != V2:
        return (
            f"an express consignment's item ID (CARRIER:HOUSE_NUMBER) needs contract_version "
            f"'{V2}'; version {version} carries S10 postal items only"
        )
    match = _KEY.match(item_id)
    if match is None:
        return (
            "expected an S10 ID (like RR123456785CH) or an express consignment's carrier "
            "code and house consignment number, like DHL:1234567890 (2 to 4 capitals or "
            "digits, a colon, 1 to 35 capitals or digits)"
        )
    if not any(c.isdigit() for c in match.group(2)):
        return HOUSE_DIGIT
    return None


def express_problem(
    version: str | None, item_id: str | None, express: Mapping[str, Any] | None
) -> str | None:
    """What is wrong with a declaration's ``express`` details (valid in themselves, or None)
    given its version and item ID (None when either is not valid: then not judged on it)."""
    if express is not None and version is not None and version != V2:
        return (
            f"express consignment details need contract_version '{V2}'; version {version} "
            "carries S10 postal items only"
        )
    if item_id is None:
        return None
    if not is_express_id(item_id):
        if express is not None:
            return (
                "a postal item (S10 item ID) has no express details; an express "
                "consignment's item ID is its carrier code and house consignment number, "
                "like DHL:1234567890"
            )
        return None
    if express is None:
        return (
            "an express consignment (item ID CARRIER:HOUSE_NUMBER) needs its express "
            "details: carrier, house_consignment and, where known, transport_document"
        )
    expected = express_item_id(express["carrier"], express["house_consignment"])
    if expected != item_id:
        return (
            f"carrier and house consignment number make the item ID {expected!r}, not {item_id!r}"
        )
    return None
