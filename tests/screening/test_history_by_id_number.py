"""The entity history keys a party on its identification number where it gives one (contract
version 2), pseudonymised like names; else on its name and address as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from data_contracts import EXPRESS_CLASS, ParcelDeclaration, make_s10, to_table
from screening._frame import frame_from_declarations, frame_from_table
from screening._pseudonymise import Pseudonymiser
from screening.history import HISTORY_FEATURES, replay
from tests.factories import declaration
from tests.screening.helpers import KEY, T0

_PREV = HISTORY_FEATURES.index("sender_prev_parcels")
_RECIPIENT_PREV = HISTORY_FEATURES.index("recipient_prev_parcels")


def _decl(i: int, sender: dict[str, Any], express: bool = False) -> ParcelDeclaration:
    record = declaration(
        contract_version="2",
        posted_at=(T0 + timedelta(hours=i)).isoformat(),
        item_id=make_s10("RR", 10_000_000 + i, "NL"),
    )
    if express:
        house = f"{1_000_000 + i}"
        record["item_id"] = f"DHL:{house}"
        record["express"] = {"carrier": "DHL", "house_consignment": house}
    record["sender"] = {"country": "CN", **sender}
    return ParcelDeclaration.model_validate(record)


def test_a_party_is_keyed_on_its_number_whatever_name_it_gives() -> None:
    decls = [
        _decl(0, {"name": "Acme Ltd", "id_number": "CN 1234-5678"}),
        _decl(1, {"name": "ACME Trading Co.", "id_number": "cn12345678"}, express=True),
        _decl(2, {"id_number": "CN12345678"}),  # the number alone
        _decl(3, {"name": "Acme Ltd"}),  # the name alone: keyed on the name, another entity
        _decl(4, {"name": "Acme Ltd"}),
    ]
    frame = frame_from_declarations(decls, Pseudonymiser(KEY))
    senders = frame.tokens["sender"]
    assert senders[0] == senders[1] == senders[2]
    assert senders[3] == senders[4] != senders[0]
    assert replay(frame, [])[:, _PREV].tolist() == [0, 1, 2, 0, 1]
    # the recipient gives no number: keyed on its name as before, the same in all five
    assert replay(frame, [])[:, _RECIPIENT_PREV].tolist() == [0, 1, 2, 3, 4]


def test_numbers_are_pseudonymised_never_kept_in_clear() -> None:
    decls = [_decl(0, {"id_number": "CN12345678"})]
    frame = frame_from_declarations(decls, Pseudonymiser(KEY))
    other = frame_from_declarations(decls, Pseudonymiser(KEY + "-other"))
    token = frame.tokens["sender"][0]
    assert len(token) == 32 and "12345678" not in token
    assert token != other.tokens["sender"][0]  # a keyed hash: another key, another token
    # a number and a name of the same text are not the same entity
    named = frame_from_declarations([_decl(0, {"name": "CN12345678"})], Pseudonymiser(KEY))
    assert named.tokens["sender"][0] != token


def test_the_table_path_gives_the_row_path_tokens_and_classes() -> None:
    decls = [
        _decl(0, {"name": "Acme Ltd", "id_number": "CN 1234-5678"}, express=True),
        _decl(1, {"id_number": "DE123"}),
        _decl(2, {"name": "Zoë Müller"}),
    ]
    pseudonymiser = Pseudonymiser(KEY)
    rows = frame_from_declarations(decls, pseudonymiser)
    table = frame_from_table(to_table(decls, "declaration"), pseudonymiser)
    for kind, tokens in rows.tokens.items():
        assert table.tokens[kind].tolist() == tokens.tolist(), kind
    assert table.mail_class.tolist() == rows.mail_class.tolist()
    assert rows.mail_class[0] == EXPRESS_CLASS and rows.mail_class[1] == "registered_letter"
    # a party known by its number lacks no address; one known by name alone lacks all three
    assert table.sender_missing.tolist() == rows.sender_missing.tolist() == [0.0, 0.0, 3.0]


def test_a_version_1_table_builds_a_frame() -> None:
    decls = [_decl(0, {"name": "Ann"})]
    table = to_table(decls, "declaration").drop_columns(["express"])
    frame = frame_from_table(table, Pseudonymiser(KEY))
    assert np.array_equal(
        frame.tokens["sender"], frame_from_declarations(decls, Pseudonymiser(KEY)).tokens["sender"]
    )
