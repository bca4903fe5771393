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
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening import ScreeningError


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
