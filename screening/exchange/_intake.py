"""A partner's indicators, checked one by one before anything of them is stored.

A signed bundle proves who sent it, not that what it says is sound: a partner (or its
compromised exporter) could plant clear text in a code, claim another agency's references,
outlive the epoch its tokens belong to or date a seizure in the future. Each indicator must
be well formed (``Indicator.check``: fields, enumerations, formats) and, against the
manifest and this agency's custody:

- its reference is the sender's (``SENDER:...``) and its ``source`` is the sender;
- its purpose and sharing group are the manifest's;
- its month is not after this month;
- every token belongs to an epoch live at this agency's custodians;
- its ``valid_until`` is not after the bundle's, nor after the end of any of its tokens'
  epochs.

The first failure refuses the whole bundle, naming the indicator's number and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from .._errors import ScreeningError
from ._records import Indicator


class IntakeRefused(ScreeningError):
    """An indicator a partner sent that is not accepted, naming its number and field."""


def partner_indicators(
    rows: list[Any],
    *,
    where: str,
    sender: str,
    manifest: Mapping[str, Any],
    epochs: Mapping[str, str],
    today: date,
) -> list[Indicator]:
    """``rows`` (indicators.json) as indicators, or :class:`IntakeRefused` at the first fault.

    ``epochs``: the epochs live here, name -> last valid day (ISO)."""
    count = manifest.get("indicators")
    if not isinstance(count, int) or isinstance(count, bool) or count != len(rows):
        raise IntakeRefused(
            f"{where}: the manifest counts {count!r} indicators; indicators.json holds {len(rows)}"
        )
    bundle_until = str(manifest["valid_until"])
    this_month = today.strftime("%Y-%m")
    out = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        at = f"{where}, indicator {n}"
        if not isinstance(row, dict):
            raise IntakeRefused(f"{at}: not an object")
        try:
            ind = Indicator.from_dict(row, at)
        except ScreeningError as exc:
            raise IntakeRefused(str(exc)) from None

        def bad(field: str, problem: str, at: str = at, ref: str = ind.ref) -> IntakeRefused:
            return IntakeRefused(f"{at} (reference {ref}), field {field}: {problem}")

        if ind.source != sender:
            raise bad("source", f"names another agency, not the sender {sender}")
        if not ind.ref.startswith(f"{sender}:"):
            raise bad("ref", f"not a reference of the sender (expected {sender}:...)")
        if ind.ref in seen:
            raise bad("ref", "the same reference twice in one bundle")
        seen.add(ind.ref)
        if ind.purpose != manifest.get("purpose"):
            raise bad("purpose", "not the bundle's purpose")
        if ind.sharing_group != manifest.get("sharing_group"):
            raise bad("sharing_group", "not the bundle's sharing group")
        if ind.month > this_month:
            raise bad("month", f"after this month ({this_month})")
        if ind.valid_until > bundle_until:
            raise bad("valid_until", f"after the bundle's valid_until ({bundle_until})")
        for k, t in enumerate(ind.tokens):
            epoch = t["token"].split(":", 1)[0]
            if epoch not in epochs:
                raise bad(
                    f"tokens[{k}]",
                    f"epoch {epoch} is not live here (live: {', '.join(sorted(epochs)) or 'none'})",
                )
            if ind.valid_until > epochs[epoch]:
                raise bad(
                    "valid_until", f"after the end of its tokens' epoch {epoch} ({epochs[epoch]})"
                )
        out.append(ind)
    return out
