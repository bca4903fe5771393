"""Normalised variants of a party (sender or recipient) that become exchange tokens.

Each variant joins a way of naming the party with where it is, so that one typo in one field
leaves at least one variant intact, and no variant is ever a bare name (common names collide
across people):

- ``name``: the name's words (sorted: word order varies), country and postcode;
- ``address``: house number, street words, country and postcode;
- ``name_street``: name words, house number, street words, city and country (no postcode: a
  mistyped postcode still matches);
- ``phonetic_street``: the Soundex code of each name word (sorted), house number, street,
  city, postcode and country (a mistyped name where no postcode was declared);
- ``id_number``: the party's identification number (EORI or national trader ID, contract
  version 2) without spaces, dots, dashes and slashes, with the country: it names one
  trader, so it needs no place (the history keys such a party on it, too);
- ``name~i``: for a party with a name and a postcode but no street, the name with the
  postcode less its i-th character: a postcode with one typo (changed, missing, extra or
  swapped character) still shares one of these with the right one. Two postcodes two edits
  apart share one too (5351 and 1551 both give 551), so a partner hit counts these only
  where they show one typo (``_match.match_supported``): the same i on both sides, a whole
  postcode against a ``name~i``, or a swap's two crossing pairs.

Measured on the simulator (``python -m bench exchange``), Soundex with the postcode alone and
name with house number and city made different people match (a postcode can be a whole
town; names repeat in a city), so neither is a variant.

A party without an identification number, a postcode and a street gives no variant at all.
Titles and company forms ("mr", "ltd", "gmbh") are dropped from names. The role (sender or
recipient) is part of every variant: a vendor seized as sender matches a sender.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._pseudonymise import id_number_key, normalise

ROLES = ("sender", "recipient")
KINDS = ("name", "address", "name_street", "phonetic_street", "id_number")
_DROPPED = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "herr",
        "frau",
        "mme",
        "mlle",
        "sig",
        "ltd",
        "limited",
        "co",
        "inc",
        "llc",
        "gmbh",
        "ag",
        "bv",
        "nv",
        "sa",
        "sarl",
        "srl",
        "spa",
        "oy",
        "ab",
        "as",
        "plc",
        "kg",
        "the",
    ]
)
_SOUNDEX = {
    c: str(d)
    for d, letters in enumerate(("aeiouyhw", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r"))
    for c in letters
}
_DIGITS = re.compile(r"\d+[a-z]?")


def soundex(word: str) -> str:
    """American Soundex of an ASCII word (letter then three digits); '' for no letters."""
    letters = [c for c in word if "a" <= c <= "z"]
    if not letters:
        return word
    out, last = letters[0], _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        code = _SOUNDEX.get(c, "")
        if code and code != "0" and code != last:
            out += code
        if c not in "hw":
            last = code
    return (out + "000")[:4]


def _name_words(name: str | None) -> list[str]:
    return sorted(w for w in normalise(name).split() if w not in _DROPPED)


def _postcode(postcode: str | None) -> str:
    return normalise(postcode).replace(" ", "")


def _street(street: str | None) -> tuple[str, str]:
    """(house number, street words) of a street line such as '91 Main Street'."""
    words = normalise(street).split()
    numbers = [w for w in words if _DIGITS.fullmatch(w)]
    rest = [w for w in words if not _DIGITS.fullmatch(w)]
    return (numbers[0] if numbers else ""), " ".join(rest)


def party_variants(role: str, party: Mapping[str, Any] | None) -> dict[str, str]:
    """Variant kind (``name~i``: see above) -> the normalised string that is tokenised."""
    if role not in ROLES:
        raise ValueError(f"party role {role!r} is not one of {ROLES}")
    if not party:
        return {}
    words = _name_words(party.get("name"))
    country = normalise(party.get("country"))
    postcode = _postcode(party.get("postcode"))
    number, street = _street(party.get("street"))
    phonetic = " ".join(sorted(soundex(w) for w in words))
    city = normalise(party.get("city"))
    name = " ".join(words)
    out: dict[str, tuple[str, str, str]] = {}  # key -> (kind hashed, value, place)
    number_id = id_number_key(party.get("id_number") or "").upper()
    if number_id:
        out["id_number"] = ("id_number", number_id, "")
    if words and postcode:
        out["name"] = ("name", name, postcode)
        if not (number and street):  # name and postcode are all there is: one postcode
            for i in range(len(postcode)):  # typo still leaves one of these equal
                out[f"name~{i}"] = ("name", name, postcode[:i] + postcode[i + 1 :])
    if number and street and postcode:
        out["address"] = ("address", f"{number} {street}", postcode)
    if words and number and street:
        out["name_street"] = ("name_street", f"{name}|{number} {street}", city)
        out["phonetic_street"] = (
            "phonetic_street",
            f"{phonetic}|{number} {street}",
            f"{city}|{postcode}",
        )
    return {
        key: "\x1f".join((role, kind, value, country, place))
        for key, (kind, value, place) in out.items()
    }
