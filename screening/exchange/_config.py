"""The agency's exchange settings: a JSON file (``--config``, else the
``PARCELSCREEN_EXCHANGE_CONFIG`` variable) such as::

    {"agency": "nl", "custody": "custody", "threshold": 2, "signing_key": "nl.key.pem",
     "sharing_group": "eu-postal-drugs", "purpose": "drug-trafficking-prevention",
     "reliability": "B", "accuracy": "2", "handling": "H1", "valid_days": 180,
     "partners": {"be": {"public_key": "be.pub.pem",
                         "purposes": ["drug-trafficking-prevention"]}}}

Relative paths are read from the file's folder. ``custody`` is the folder of the custodians
(one sub-folder each; in a deployment, each is a service of its own at a national contact
point, reached over the network: here the same blinded elements cross a function call).
The commands (``parcelscreen exchange``, ``train``, ``screen``) and the service read the same
file; :func:`custody_client` is how each of them asks the custodians for tokens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import ScreeningError
from ._custodian import Custodian
from ._tokens import TokenClient


@dataclass
class ExchangeConfig:
    path: Path
    agency: str
    custody: Path
    threshold: int
    signing_key: Path | None
    sharing_group: str
    purpose: str
    reliability: str
    accuracy: str
    handling: str
    valid_days: int
    partners: dict[str, dict[str, Any]]

    def file(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.path.parent / path


def load_config(path: Path | None) -> ExchangeConfig:
    if path is None:
        named = os.environ.get("PARCELSCREEN_EXCHANGE_CONFIG")
        if not named:
            raise ScreeningError(
                "no exchange settings: pass --config FILE or set PARCELSCREEN_EXCHANGE_CONFIG"
            )
        path = Path(named)
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ScreeningError(f"exchange settings {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ScreeningError(f"exchange settings {path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScreeningError(f"exchange settings {path}: not a JSON object")
    where = f"exchange settings {path}"

    def text(name: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value:
            raise ScreeningError(f"{where}: field {name}: expected a non-empty string")
        return value

    def whole(name: str, default: int) -> int:
        value = data.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ScreeningError(f"{where}: field {name}: expected a whole number of at least 1")
        return value

    if "quota" in data:
        raise ScreeningError(
            f"{where}: field quota: a requester does not set its own quota; "
            "the custodians do (`parcelscreen exchange custody init "
            "--requesters CODE=N`)"
        )
    partners = data.get("partners", {})
    if not isinstance(partners, dict) or not all(isinstance(v, dict) for v in partners.values()):
        raise ScreeningError(f"{where}: field partners: expected an object of partner objects")
    config = ExchangeConfig(
        path=Path(path),
        agency=text("agency"),
        custody=Path(),
        threshold=whole("threshold", 1),
        signing_key=None,
        sharing_group=text("sharing_group", "eu-postal-drugs"),
        purpose=text("purpose", "drug-trafficking-prevention"),
        reliability=text("reliability", "B"),
        accuracy=text("accuracy", "2"),
        handling=text("handling", "H1"),
        valid_days=whole("valid_days", 180),
        partners=partners,
    )
    config.custody = config.file(text("custody"))
    if "signing_key" in data:
        config.signing_key = config.file(text("signing_key"))
    return config


def custody_file(folder: Path) -> dict[str, Any]:
    """The custody folder's ``custody.json`` (custodians and threshold), or a clear error."""
    path = folder / "custody.json"
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not data.get("custodians"):
            raise ValueError("no custodians named")
    except (OSError, ValueError) as exc:
        raise ScreeningError(
            f"custody {folder}: custody.json is missing or unreadable ({exc}); "
            "make the custodians with `parcelscreen exchange custody "
            "init`"
        ) from None
    return data


def custody_client(
    config: ExchangeConfig, on_request: Callable[[dict[str, Any]], None] | None = None
) -> tuple[TokenClient, Callable[[], list[str]], dict[str, str]]:
    """A token client of the configured custodians (``on_request`` sees each request), the
    epochs live now (a function: asked again each time, an epoch past its last day drops
    out) and the last valid day of each epoch. The quota and the requesters known are the
    custodians' own (``requesters.json``), never the requester's settings."""
    custody = custody_file(config.custody)
    names = custody["custodians"]
    group = [Custodian(config.custody / name, on_request=on_request) for name in names]

    def live() -> list[str]:
        return group[0].live(datetime.now(UTC).date())

    if not live():
        raise ScreeningError(
            f"custody {config.custody}: no live epoch (deal one with "
            "`parcelscreen exchange custody epoch`)"
        )
    ends = {name: e.not_after for name, e in group[0].epochs.items()}
    threshold = max(config.threshold, int(custody["threshold"]))
    return TokenClient(group, threshold, config.agency), live, ends
