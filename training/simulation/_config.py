"""Simulation parameters and results.

Every parameter names its source: a section of ``docs/DOMAIN.md`` (the project's fact sheet) or
"assumption" where no public number exists. ``docs/DATA_CARD.md`` repeats the list.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pyarrow as pa

from ._geography import INDEX

# DOMAIN.md "Darknet drug parcels": vendor countries by revenue (RAND RR1607: US 35.9%, UK 16.1%,
# Australia 10.6%), as seen by one EU authority screening third-country inbound mail: vendors in
# EU countries (Germany, the Netherlands and the rest of the EU's ~46%, EMCDDA-Europol 2017)
# ship intra-EU, without a customs declaration, so they are outside this flow. Trade is
# intra-regional (Norbutas 2018): European third countries (GB, CH, NO, TR) get three times
# their revenue share (assumption); the tail countries' shares are assumptions.
VENDOR_COUNTRY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("US", 0.359),
    ("GB", 0.161 * 3),
    ("AU", 0.106),
    ("CA", 0.040),
    ("IN", 0.020),
    ("CN", 0.013),
    ("CH", 0.010 * 3),
    ("NO", 0.004 * 3),
    ("TR", 0.004 * 3),
    ("HK", 0.004),
    ("NZ", 0.004),
    ("BR", 0.003),
    ("MX", 0.003),
)

#: EU member states among the simulator's countries: their items to the authority are
#: intra-EU and carry no customs declaration (DOMAIN, "How much is drugs").
EU_MEMBERS: frozenset[str] = frozenset(
    {"AT", "BE", "CZ", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"}
)

# DOMAIN.md "Darknet drug parcels": drug mix by transactions (RAND RR1607); "opioids" and
# "other" share the remaining 7% (assumption).
SUBSTANCE_MIX: tuple[tuple[str, float], ...] = (
    ("cannabis", 0.33),
    ("prescription", 0.19),
    ("stimulants", 0.18),
    ("ecstasy", 0.12),
    ("psychedelics", 0.11),
    ("opioids", 0.03),
    ("other", 0.04),
)


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the postal-flow and darknet-shipping simulator (defaults are documented)."""

    parcels: int = 200_000
    """Total parcels (third-country items with advance data) over the whole period."""
    days: int = 120
    """Number of posting days."""
    start: datetime.date = datetime.date(2026, 1, 5)
    """First posting date."""
    prevalence: float = 0.0005
    """Target share of illicit parcels. DOMAIN ("How much is drugs"): 0.01%-0.05% is plausible
    for third-country inbound small items; 0.5% and above only as stress settings."""
    authority: str = "NL"
    """The EU member state whose customs screens the flow: every item is addressed there and
    comes from a third country (DOMAIN: intra-EU items carry no customs declaration)."""
    inspection_rate: float = 0.03
    """Share of each day's flow that customs opens (DOMAIN: capacity is the binding constraint)."""
    random_share: float = 0.10
    """Share of inspections spent on uniform random control (DOMAIN: "Take a chance", 10%)."""
    seed: int = 7
    """Seed of the single numpy Generator; same seed gives byte-identical files."""

    vendor_country_weights: tuple[tuple[str, float], ...] = VENDOR_COUNTRY_WEIGHTS
    """Vendor home countries (DOMAIN: RAND RR1607 revenue shares; tail is an assumption)."""
    substance_mix: tuple[tuple[str, float], ...] = SUBSTANCE_MIX
    """Drug mix by transactions (DOMAIN: RAND RR1607)."""
    vendor_parcel_share: float = 0.80
    """Share of illicit parcels shipped by darknet vendors (own or stolen identities);
    the rest comes from grey merchants and private senders (assumption)."""
    vendor_mean_parcels: float = 15.0
    """Mean parcels per vendor into this one country over the period, above the floor of
    ``min_vendors`` (assumption)."""
    min_vendors: int = 200
    """Fewest vendors in a run (about 60 of them ship at default size): many vendors each ship
    a few items into one country (assumption; RAND RR1607 counts thousands worldwide)."""
    vendor_entry_share: float = 0.45
    """Vendors that enter during the period, relative to those active at the start (assumption)."""
    takedown_at: float = 0.67
    """Fraction of the period at which a market takedown happens (brief; assumption)."""
    takedown_exit_share: float = 0.35
    """Share of active vendors that stop at the takedown (assumption)."""
    takedown_recovery_days: float = 28.0
    """Days over which vendor volume recovers from the takedown's dip as buyers move to other
    vendors (assumption)."""
    stolen_identity_share: float = 0.12
    """Share of vendor parcels sent under the identity of a real private sender (assumption)."""
    identity_rotation_after_seizure: float = 0.8
    """Chance a vendor drops its identity and address for good once it learns of a seizure
    (assumption)."""
    cover_change_after_seizure: float = 0.6
    """Chance a vendor changes cover goods, weights and posting office after a seizure
    (assumption)."""
    split_after_seizure: float = 0.3
    """Chance a vendor starts splitting orders into smaller parcels after a seizure (assumption)."""
    buyer_move_after_seizure: float = 0.7
    """Chance a buyer whose parcel was seized changes address (or, for a third of them, orders
    to a drop address) (assumption)."""
    letter_share_start: float = 0.55
    """Share of vendor items sent as letters at the start (DOMAIN: NL growth was in letters)."""
    letter_share_end: float = 0.70
    """Share of vendor items sent as letters at the end of the period (assumption)."""
    drop_share_of_vendor_parcels: float = 0.20
    """Share of vendor parcels addressed to drop addresses used by several vendors (assumption)."""
    inspection_sensitivity: float = 0.85
    """Chance an inspection of an illicit item finds the drugs (DOMAIN: sensitivity, e.g. 0.85)."""
    false_seizure_rate: float = 0.0005
    """Share of inspected legitimate items first recorded as seized (a suspect substance) and
    corrected to clean by the laboratory later (DOMAIN: seizures are corrected; rate assumption)."""
    other_irregularity_rate: float = 0.02
    """Share of inspected items where drugs are not found that show another irregularity
    (undervaluation, missing licence), illicit or not (assumption)."""
    tip_off_rate: float = 0.01
    """Chance an illicit item is flagged by an outside tip-off (assumption)."""
    seizure_delay_days: tuple[int, int] = (3, 30)
    """Range of lab/paperwork delay before a seizure outcome is recorded (DOMAIN: outcomes late)."""
    legit_noise: float = 1.0
    """Multiplier on data-quality noise in legitimate declarations (DOMAIN: WCO bad data list)."""
    peak_season: bool = True
    """Apply the late-November to December e-commerce peak (x1.5) to legitimate volume when those
    dates are in range (assumption)."""
    annual_growth: float = 0.15
    """Yearly growth of the flow, legitimate and illicit alike (assumption)."""

    def __post_init__(self) -> None:
        checks = [
            (self.parcels >= 100, f"parcels must be >= 100, got {self.parcels}"),
            (self.days >= 1, f"days must be >= 1, got {self.days}"),
            (
                self.authority in INDEX and self.authority in EU_MEMBERS,
                f"authority must be an EU member state of the simulator, got {self.authority!r}",
            ),
            (
                0.0 < self.inspection_sensitivity <= 1.0,
                f"inspection_sensitivity must be in (0, 1], got {self.inspection_sensitivity}",
            ),
            (
                0.0 < self.prevalence <= 0.05,
                f"prevalence must be in (0, 0.05], got {self.prevalence}",
            ),
            (
                0.0 < self.inspection_rate <= 1.0,
                f"inspection_rate must be in (0, 1], got {self.inspection_rate}",
            ),
            (
                0.0 < self.random_share <= 1.0,
                f"random_share must be in (0, 1], got {self.random_share}",
            ),
            (
                0.0 < self.vendor_parcel_share <= 1.0,
                f"vendor_parcel_share must be in (0, 1], got {self.vendor_parcel_share}",
            ),
            (
                0.0 < self.takedown_at < 1.0,
                f"takedown_at must be in (0, 1), got {self.takedown_at}",
            ),
            (
                self.seizure_delay_days[0] <= self.seizure_delay_days[1],
                f"seizure_delay_days must be (low, high), got {self.seizure_delay_days}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class SimulationResult:
    """The three tables the simulator produces; the training pipeline never reads ``truth``."""

    declarations: pa.Table
    outcomes: pa.Table
    truth: pa.Table
