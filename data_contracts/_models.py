"""The parcel declaration and inspection outcome contracts (version 1).

Modelled on the CN22/CN23 fields carried electronically as UPU ITMATT, and on the EU ICS2
postal minimum. Field names are the wire names in every form (JSON, JSON Lines, Parquet; CSV
flattens them, see ``_forms``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._codes import COUNTRIES, CURRENCIES
from ._limits import MAX_LINES, MAX_QUANTITY, MAX_VALUE, MAX_WEIGHT_KG, MIN_LINES, PostingWindow
from ._s10 import MailClass, S10Error, parse_s10

CONTRACT_VERSION: Literal["1"] = "1"

Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT_KG, allow_inf_nan=False, description=(
    "Kilograms. The maximum is a plausibility bound, far above any postal item or express "
    "piece"))]  # fmt: skip
Money = Annotated[float, Field(ge=0, le=MAX_VALUE, allow_inf_nan=False, description=(
    "Units of the declared currency. The maximum is a plausibility bound: about 10,000 EUR "
    "in the weakest currency in circulation, absurd in any other"))]  # fmt: skip
#: Context key under which validators pass a PostingWindow to the declaration model.
WINDOW = "posting_window"
Text = Annotated[str, Field(min_length=1, max_length=300)]
OptionalText = Annotated[str | None, Field(default=None, max_length=300)]


class ItemCategory(StrEnum):
    """CN23 category of item."""

    GIFT = "gift"
    DOCUMENTS = "documents"
    COMMERCIAL_SAMPLE = "commercial_sample"
    RETURNED_GOODS = "returned_goods"
    SALE_OF_GOODS = "sale_of_goods"
    OTHER = "other"


class SelectionReason(StrEnum):
    """Why an item was selected for inspection."""

    MODEL = "model"
    RANDOM_CONTROL = "random_control"
    RULE = "rule"
    TIP_OFF = "tip_off"
    OTHER = "other"


class InspectionResult(StrEnum):
    SEIZED = "seized"
    CLEAN = "clean"
    OTHER_IRREGULARITY = "other_irregularity"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _country(value: str | None) -> str | None:
    if value is not None and value not in COUNTRIES:
        raise ValueError("expected an ISO 3166-1 alpha-2 country code")  # got: the value
    return value


def _item_id(value: str) -> str:
    try:
        parse_s10(value)
    except S10Error as exc:
        raise ValueError(str(exc)) from None
    return value


class Party(_Strict):
    """Sender or addressee as on CN23. Personal data: pseudonymised before any feature."""

    name: Text
    street: OptionalText = None
    city: OptionalText = None
    postcode: Annotated[str | None, Field(default=None, max_length=20)] = None
    country: str
    phone: Annotated[str | None, Field(default=None, max_length=40)] = None
    email: Annotated[str | None, Field(default=None, max_length=254)] = None
    importer_ref: Annotated[str | None, Field(default=None, max_length=40)] = None

    _check_country = field_validator("country")(_country)


class ContentLine(_Strict):
    """One content line of the declaration."""

    description: Text
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY, description="Pieces on the line; the "
                                   "maximum is a plausibility bound")]  # fmt: skip
    net_weight_kg: Weight
    value: Money
    hs_code: Annotated[
        str | None, Field(default=None, pattern=r"^\d{6,10}$", description="HS code, 6-10 digits")
    ] = None
    origin_country: str | None = None

    _check_country = field_validator("origin_country")(_country)


class ParcelDeclaration(_Strict):
    """Advance electronic data of one postal item (CN23 / ITMATT)."""

    contract_version: Literal["1"] = CONTRACT_VERSION
    item_id: str = Field(description="UPU S10 identifier, check digit verified")
    posted_at: AwareDatetime = Field(description=(
        "Time of posting, with its UTC offset. Scoring refuses a time outside a window "
        "around its reference time: the service's time of scoring (by default 90 days before "
        "to 2 days after, PARCELSCREEN_POSTED_DAYS_BACK and PARCELSCREEN_POSTED_DAYS_AHEAD), "
        "a batch run's --as-of time (same window)"))
    origin_post: Text
    origin_country: str
    destination_country: str
    sender: Party
    recipient: Party
    category: ItemCategory
    gross_weight_kg: Weight
    declared_value: Money
    currency: str
    postal_charges: Annotated[float | None, Field(default=None, ge=0, le=MAX_VALUE,
                                                  allow_inf_nan=False)] = None  # fmt: skip
    lines: Annotated[list[ContentLine], Field(min_length=MIN_LINES, max_length=MAX_LINES)]

    _check_countries = field_validator("origin_country", "destination_country")(_country)

    _check_item_id = field_validator("item_id")(_item_id)

    @field_validator("posted_at")
    @classmethod
    def _check_window(cls, value: AwareDatetime, info: ValidationInfo) -> AwareDatetime:
        window = (info.context or {}).get(WINDOW)
        if isinstance(window, PostingWindow) and not window.holds(value):
            raise ValueError(window.message())
        return value

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError("expected an ISO 4217 currency code")  # got: the value
        return value

    @property
    def mail_class(self) -> MailClass:
        """Mail class derived from the S10 service indicator."""
        return parse_s10(self.item_id).mail_class


class InspectionOutcome(_Strict):
    """What happened to an item at customs: whether and why it was inspected, and the result."""

    contract_version: Literal["1"] = CONTRACT_VERSION
    item_id: str
    recorded_at: AwareDatetime
    inspected: bool
    selection_reason: SelectionReason | None = None
    selection_probability: Annotated[
        float | None, Field(default=None, gt=0, le=1, allow_inf_nan=False)
    ] = None
    result: InspectionResult | None = None
    substance: Annotated[str | None, Field(default=None, max_length=60)] = None
    quantity_g: Annotated[float | None, Field(default=None, ge=0, allow_inf_nan=False)] = None
    officer_ref: Annotated[str | None, Field(default=None, max_length=60)] = None
    corrects: Annotated[int | None, Field(default=None, ge=1, le=2**63 - 1, description=(
        "Outcomes are append-only: a second outcome of an item is a correction, and names "
        "the outcome record it corrects (the outcome_id the service answered with, which "
        "must be the item's current outcome) and why (correction_reason). Carried in the "
        "JSON forms only: the Parquet and CSV forms hold one outcome per item"))] = None
    correction_reason: Annotated[str | None, Field(default=None, min_length=1, max_length=500,
                                                   description=(
        "Why the outcome named in corrects is corrected (a laboratory result, a wrong entry); "
        "required with corrects"))] = None

    _check_item_id = field_validator("item_id")(_item_id)

    @model_validator(mode="after")
    def _check_correction(self) -> InspectionOutcome:
        if (self.corrects is None) != (self.correction_reason is None):
            raise ValueError("a correction names the outcome it corrects (corrects) and why "
                             "(correction_reason): both or neither")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _check_result(self) -> InspectionOutcome:
        if self.inspected and self.result is None:
            raise ValueError("an inspected item needs a result (seized, clean, other_irregularity)")
        if not self.inspected and self.result is not None:
            raise ValueError("an item that was not inspected cannot have a result")
        if self.result is not InspectionResult.SEIZED and (self.substance or self.quantity_g):
            raise ValueError("substance and quantity_g are only recorded for seized items")
        return self
