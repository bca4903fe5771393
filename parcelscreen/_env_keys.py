"""The keys of the commands that read them beside the service's settings (``train``,
``screen``): through the same settings classes, so the same check refuses the development
keys in production (one ``error:`` line, exit 2, from ``main``); in development a note names
the development keys in use."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from serving import PseudonymisationKeySettings

Keys = TypeVar("Keys", bound="PseudonymisationKeySettings")


def keys_from_env(kind: type[Keys]) -> Keys:
    """``kind`` read from the environment (SettingsError where it is refused)."""
    keys = kind()
    if keys.development_keys:
        plural = "s" if len(keys.development_keys) > 1 else ""
        print(
            f"note: {' and '.join(keys.development_keys)} unset; using the development key{plural}",
            file=sys.stderr,
        )
    return keys
