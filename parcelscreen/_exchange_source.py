"""The partner-seizure features of ``train`` and ``screen``: an exchange source built from
the agency's exchange settings and the partners' indicators in its record database.

``train`` passes one to the training pipeline where the exchange is configured and the store
holds partners' indicators (the model then reads the partner-seizure features); ``screen``
gives one to the batch engine for a model that reads them. Tokens come as ``exchange match``
obtains them (``screening.exchange.custody_client``: blinded, through the custodians, each
request in the decision log and counted against the requester's quota at the custodians),
cached per epoch under a key derived from the pseudonymisation key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exchange_cmd import _audit
from ._exchange_config import load_config

if TYPE_CHECKING:
    from screening.exchange import ExchangeSource
    from serving import Record


def reads_exchange(bundle: Path) -> bool:
    """Whether a bundle's model reads the partner-seizure features (its spec says so)."""
    from screening import FeatureSpec

    try:
        spec = FeatureSpec(**json.loads((bundle / "feature_spec.json").read_text()))
    except (OSError, ValueError, TypeError):
        return False  # the bundle's own checks name what is wrong when it is loaded
    return spec.reads_exchange


def exchange_source(
    config_path: Path | None, record: Record, require_indicators: bool = True
) -> ExchangeSource | None:
    """The source of the exchange settings (``config_path``, else the
    ``PARCELSCREEN_EXCHANGE_CONFIG`` variable) and the record's partner indicators; None
    where ``require_indicators`` and the store holds none."""
    from screening.exchange import (
        ExchangeSource,
        PartnerStore,
        StoreIndex,
        custody_client,
        token_cache_key,
    )

    config = load_config(config_path)
    store = PartnerStore(record.db)
    if require_indicators and not store.count()["indicators"]:
        return None

    def audited(row: dict[str, Any]) -> None:
        _audit(record, "exchange_token_request", row)

    client, live, _ = custody_client(config, audited)
    return ExchangeSource(
        client, live, StoreIndex(store), token_cache_key(record.settings.pseudonymisation_key)
    )
