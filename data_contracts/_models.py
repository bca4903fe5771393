"""The parcel declaration and inspection outcome contracts (versions 1 and 2).

Modelled on the CN22/CN23 fields carried electronically as UPU ITMATT, and on the EU ICS2
postal minimum. Field names are the wire names in every form (JSON, JSON Lines, Parquet; CSV
flattens them, see ``_forms``).

Version 2 adds, and only adds: express consignments (an item ID ``CARRIER:HOUSE_NUMBER`` with
``express`` details, see ``_express``) and a party's identification number (``id_number``:
an EORI or a national trader ID), which may stand instead of the party's name. A version 1
record reads as it always did; one that uses a version 2 field is refused, naming the version
it needs. A record without ``contract_version`` is version 1 (as it always was). The fields
version 2 adds are left out of a record's dump when empty, so that a version 1 record dumps,
and hashes, exactly as before.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from ._codes import COUNTRIES, CURRENCIES
from ._express import (
    CARRIER_PATTERN,
    DOCUMENT_PATTERN,
    HOUSE_DIGIT,
    HOUSE_PATTERN,
    V2,
    express_id_problem,
    express_problem,
    is_express_id,
)
from ._limits import MAX_LINES, MAX_QUANTITY, MAX_VALUE, MAX_WEIGHT_KG, MIN_LINES, PostingWindow
from ._s10 import MailClass, S10Error, parse_s10

#: The newest contract version (what new files are written as); every one listed is read.
CONTRACT_VERSION: Literal["2"] = "2"
CONTRACT_VERSIONS: tuple[str, ...] = ("1", "2")
Version = Literal["1", "2"]

Weight = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_WEIGHT_KG,
        allow_inf_nan=False,
        description=(
            "Kilograms. The maximum is a plausibility bound, far above any postal item or express "
            "piece"
        ),
    ),
]
Money = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_VALUE,
        allow_inf_nan=False,
        description=(
            "Units of the declared currency. The maximum is a plausibility bound: about 10,000 EUR "
            "in the weakest currency in circulation, absurd in any other"
        ),
    ),
]
#: Context key under which validators pass a PostingWindow to the declaration model.
WINDOW = "posting_window"
Text = Annotated[str, Field(min_length=1, max_length=300)]
OptionalText = Annotated[str | None, Field(default=None, max_length=300)]
#: A party's identification number (EORI or national trader ID), version 2.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,34}$"
PARTY_UNNAMED = "a party needs a name, an identification number (id_number, version 2), or both"


def id_number_version(version: str) -> str:
    return (
        f"a party's identification number (id_number) needs contract_version '{V2}'; "
        f"version {version} names parties by name only"
    )


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


def _check_id(value: str, version: str | None) -> str:
    """An S10 ID, or an express consignment's CARRIER:HOUSE_NUMBER (which needs contract
    version 2 where ``version`` is given)."""
    if is_express_id(value):
        problem = express_id_problem(value, version)
        if problem is not None:
            raise ValueError(problem)
        return value
    try:
        parse_s10(value)
    except S10Error as exc:
        raise ValueError(str(exc)) from None
    return value


def _item_id(value: str, info: ValidationInfo) -> str:
    return _check_id(value, info.data.get("contract_version"))


def _any_item_id(value: str) -> str:
    """An outcome's item ID: of either kind in any version (the item was declared before)."""
    return _check_id(value, None)


def _omit(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """The dump without the version 2 fields that are empty (a version 1 record dumps as
    before version 2 existed)."""
    for name in names:
        if data.get(name) is None:
            data.pop(name, None)
    return data


class Party(_Strict):
    """Sender or addressee as on CN23. Personal data: pseudonymised before any feature.

    A party has a name, an identification number (version 2), or both."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["name"]}, {"required": ["id_number"]}]}
    )

    name: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=300,
            description=("Required unless id_number is given"),
        ),
    ] = None
    street: OptionalText = None
    city: OptionalText = None
    postcode: Annotated[str | None, Field(default=None, max_length=20)] = None
    country: str
    phone: Annotated[str | None, Field(default=None, max_length=40)] = None
    email: Annotated[str | None, Field(default=None, max_length=254)] = None
    importer_ref: Annotated[str | None, Field(default=None, max_length=40)] = None
    id_number: Annotated[
        str | None,
        Field(
            default=None,
            pattern=ID_PATTERN,
            description=(
                "Contract version 2: the party's identification "
                "number, an EORI (DE1234567890) or a "
                "national trader ID; 1 to 35 letters, digits, spaces, dots, dashes or slashes. The "
                "entity history keys the party on it (pseudonymised) where given"
            ),
        ),
    ] = None

    _check_country = field_validator("country")(_country)

    @model_validator(mode="after")
    def _check_identified(self) -> Party:
        if self.name is None and self.id_number is None:
            raise ValueError(PARTY_UNNAMED)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit(handler(self), "id_number")


class ExpressConsignment(_Strict):
    """Contract version 2: what identifies an express consignment (ICS2): the carrier, its
    house consignment number and, where known, the master transport document."""

    carrier: Annotated[
        str,
        Field(
            pattern=CARRIER_PATTERN,
            description=(
                "Carrier code: 2 to 4 capitals or digits (IATA or ICAO designator, or the code the "
                "customs authority gave the carrier)"
            ),
        ),
    ]
    house_consignment: Annotated[
        str,
        Field(
            pattern=HOUSE_PATTERN,
            description=(
                "House consignment (house air waybill) number: 1 to "
                "35 capitals or digits, at least "
                "one digit. The item ID is CARRIER:HOUSE_CONSIGNMENT"
            ),
        ),
    ]
    transport_document: Annotated[
        str | None,
        Field(
            default=None,
            pattern=DOCUMENT_PATTERN,
            description=("Master transport document (master air waybill) number, where known"),
        ),
    ] = None

    @field_validator("house_consignment")
    @classmethod
    def _check_digit(cls, value: str) -> str:
        if not any(c.isdigit() for c in value):
            raise ValueError(HOUSE_DIGIT)
        return value


class ContentLine(_Strict):
    """One content line of the declaration."""

    description: Text
    quantity: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_QUANTITY,
            description="Pieces on the line; the maximum is a plausibility bound",
        ),
    ]
    net_weight_kg: Weight
    value: Money
    hs_code: Annotated[
        str | None, Field(default=None, pattern=r"^\d{6,10}$", description="HS code, 6-10 digits")
    ] = None
    origin_country: str | None = None

    _check_country = field_validator("origin_country")(_country)


class ParcelDeclaration(_Strict):
    """Advance electronic data of one postal item (CN23 / ITMATT) or, from contract version 2,
    of one express consignment (ICS2)."""

    contract_version: Version = Field(
        default="1",
        description=(
            "Contract version: 1 (postal items, parties by name) or 2 (adds express consignments "
            "and party identification numbers). A record without it is version 1"
        ),
    )
    item_id: str = Field(
        description=(
            "UPU S10 identifier of a postal item (check digit and country verified) or, from "
            "version 2, an express consignment's CARRIER:HOUSE_CONSIGNMENT (DHL:1234567890)"
        )
    )
    posted_at: AwareDatetime = Field(
        description=(
            "Time of posting, with its UTC offset. Scoring refuses a time outside a window "
            "around its reference time: the service's time of scoring (by default 90 days before "
            "to 2 days after, PARCELSCREEN_POSTED_DAYS_BACK and PARCELSCREEN_POSTED_DAYS_AHEAD), "
            "a batch run's --as-of time (same window)"
        )
    )
    origin_post: Text
    origin_country: str
    destination_country: str
    sender: Party
    recipient: Party
    category: ItemCategory
    gross_weight_kg: Weight
    declared_value: Money
    currency: str
    postal_charges: Annotated[
        float | None, Field(default=None, ge=0, le=MAX_VALUE, allow_inf_nan=False)
    ] = None
    lines: Annotated[list[ContentLine], Field(min_length=MIN_LINES, max_length=MAX_LINES)]
    express: ExpressConsignment | None = Field(
        default=None,
        validate_default=True,
        description=(
            "Version 2: an express consignment's carrier, house consignment number and master "
            "transport document; required for an express item ID, absent for a postal item"
        ),
    )

    _check_countries = field_validator("origin_country", "destination_country")(_country)

    _check_item_id = field_validator("item_id")(_item_id)

    @field_validator("sender", "recipient")
    @classmethod
    def _check_party_version(cls, value: Party, info: ValidationInfo) -> Party:
        version = info.data.get("contract_version")
        if value.id_number is not None and version is not None and version != V2:
            raise ValueError(id_number_version(version))
        return value

    @field_validator("express")
    @classmethod
    def _check_express(
        cls, value: ExpressConsignment | None, info: ValidationInfo
    ) -> ExpressConsignment | None:
        given = None if value is None else value.model_dump()
        problem = express_problem(
            info.data.get("contract_version"), info.data.get("item_id"), given
        )
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit(handler(self), "express")

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
    def is_express(self) -> bool:
        return self.express is not None

    @property
    def mail_class(self) -> MailClass | None:
        """Mail class derived from the S10 service indicator (None: an express consignment)."""
        return None if self.express is not None else parse_s10(self.item_id).mail_class


class InspectionOutcome(_Strict):
    """What happened to an item at customs: whether and why it was inspected, and the result."""

    contract_version: Version = "1"
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
    corrects: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=2**63 - 1,
            description=(
                "Outcomes are append-only: a second outcome of an item is a correction, and names "
                "the outcome record it corrects (the outcome_id the service answered with, which "
                "must be the item's current outcome) and why (correction_reason). Carried in the "
                "JSON forms only: the Parquet and CSV forms hold one outcome per item"
            ),
        ),
    ] = None
    correction_reason: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=500,
            description=(
                "Why the outcome named in corrects is corrected (a "
                "laboratory result, a wrong entry); "
                "required with corrects"
            ),
        ),
    ] = None

    _check_item_id = field_validator("item_id")(_any_item_id)

    @model_validator(mode="after")
    def _check_correction(self) -> InspectionOutcome:
        if (self.corrects is None) != (self.correction_reason is None):
            raise ValueError(
                "a correction names the outcome it corrects (corrects) and why "
                "(correction_reason): both or neither"
            )
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
