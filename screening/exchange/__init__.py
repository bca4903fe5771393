"""Exchange of seizure intelligence between agencies: hit / no-hit on exchange tokens.

``_oprf``: the 2HashDH oblivious PRF (RFC 9497, ristretto255) with t-of-n key shares.
``_custodian``: a key custodian's epoch keys, quota and request log. ``_variants``: the
normalised variants of a party. ``_tokens``: variants to tokens through the custodians.
``_records``: a shared seizure (indicator) and its codes. ``_export``: seizures to indicators.
``_formats``: STIX 2.1 and MISP. ``_bundle``: signed exchange bundles, written and checked.
``_match``: point-in-time matching, features and the reason in words. ``_source``: the
partner-seizure features of parcels being scored (tokens cached per epoch), the scoring
engine's exchange input. ``_store``: partners' indicators in the record database, apart from
the history. ``_followup``: hits kept for the
officer and follow-up requests awaiting approval. ``_config``: the agency's exchange settings
and its token client of the custodians.
"""

from .._partner import EXCHANGE_FEATURES, EXCHANGE_MONOTONE
from .._partner import GROUP as EXCHANGE_GROUP
from ._bundle import FILES, ExchangeRefused, Partner, read_exchange_bundle, write_exchange_bundle
from ._config import ExchangeConfig, custody_client, custody_file, load_config
from ._custodian import (
    DEFAULT_QUOTA,
    Custodian,
    Epoch,
    QuotaExceeded,
    create_custodians,
    deal_epoch,
)
from ._export import opaque_ref, seizure_indicators
from ._followup import HANDLING_WORDS, FollowUps, siena_body
from ._match import (
    Hit,
    PartnerIndex,
    exchange_matrix,
    hit_fact,
    hit_features,
    hit_reason,
    match_supported,
)
from ._oprf import CONTEXT, blind, combine, direct, evaluate, finalize, random_scalar, split_key
from ._records import (
    ACCURACY,
    CATEGORIES,
    HANDLING,
    PURPOSES,
    RELIABILITY,
    Indicator,
    quantity_band,
    substance_category,
)
from ._source import (
    ExchangeInputs,
    ExchangeSource,
    StoreIndex,
    hits_from_arrow,
    token_cache_key,
)
from ._store import PartnerStore
from ._tokens import DirectTokens, TokenClient, Tokeniser, party_tokens
from ._variants import KINDS, ROLES, party_variants, soundex

__all__ = [
    "ACCURACY",
    "CATEGORIES",
    "CONTEXT",
    "DEFAULT_QUOTA",
    "EXCHANGE_FEATURES",
    "EXCHANGE_GROUP",
    "EXCHANGE_MONOTONE",
    "FILES",
    "HANDLING",
    "HANDLING_WORDS",
    "KINDS",
    "PURPOSES",
    "RELIABILITY",
    "ROLES",
    "Custodian",
    "DirectTokens",
    "Epoch",
    "ExchangeConfig",
    "ExchangeInputs",
    "hits_from_arrow",
    "ExchangeRefused",
    "ExchangeSource",
    "FollowUps",
    "Hit",
    "Indicator",
    "Partner",
    "PartnerIndex",
    "PartnerStore",
    "QuotaExceeded",
    "StoreIndex",
    "TokenClient",
    "Tokeniser",
    "blind",
    "combine",
    "create_custodians",
    "custody_client",
    "custody_file",
    "deal_epoch",
    "direct",
    "evaluate",
    "exchange_matrix",
    "finalize",
    "hit_fact",
    "hit_features",
    "hit_reason",
    "load_config",
    "match_supported",
    "opaque_ref",
    "party_tokens",
    "party_variants",
    "quantity_band",
    "random_scalar",
    "read_exchange_bundle",
    "seizure_indicators",
    "siena_body",
    "soundex",
    "split_key",
    "substance_category",
    "token_cache_key",
    "write_exchange_bundle",
]
