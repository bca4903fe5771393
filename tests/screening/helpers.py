"""Small streams of declarations with shared entities, for history tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from data_contracts import ParcelDeclaration, make_s10
from screening._frame import ParcelFrame, frame_from_declarations
from screening._pseudonymise import Pseudonymiser
from tests.factories import declaration

KEY = "test-key-0123456789abcdef"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stream(specs: Sequence[tuple[float, str, str]]) -> ParcelFrame:
    """Parcels (hours after T0, sender name, recipient street) in the order given."""
    decls = []
    for i, (hours, sender, street) in enumerate(specs):
        record = declaration(
            item_id=make_s10("RR", 10_000_000 + i, "NL"),
            posted_at=(T0 + timedelta(hours=hours)).isoformat(),
            **{"sender.name": sender, "recipient.street": street},
        )
        decls.append(ParcelDeclaration.model_validate(record))
    return frame_from_declarations(decls, Pseudonymiser(KEY))
