"""Simulation parameters and results.

Every parameter names its source: a section of ``docs/DOMAIN.md`` (the project's fact sheet) or
"assumption" where no public number exists. ``docs/DATA_CARD.md`` repeats the list.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pyarrow as pa

# DOMAIN.md "Darknet drug parcels": vendor countries by revenue (RAND RR1607). The remainder
# (about 21.5%) is spread over other countries (assumption, EU vendors ~46% per EMCDDA-Europol).
VENDOR_COUNTRY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("US", 0.359),
    ("GB", 0.161),
    ("AU", 0.106),
    ("DE", 0.084),
    ("NL", 0.075),
    ("CA", 0.040),
    ("ES", 0.030),
    ("FR", 0.028),
    ("BE", 0.022),
    ("PL", 0.020),
    ("IT", 0.015),
    ("SE", 0.012),
    ("IN", 0.020),
    ("CN", 0.013),
    ("AT", 0.008),
    ("CZ", 0.007),
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
    """Total parcels (international items with advance data) over the whole period."""
    days: int = 120
    """Number of posting days."""
    start: datetime.date = datetime.date(2026, 1, 5)
    """First posting date."""
    prevalence: float = 0.005
    """Target share of illicit parcels. DOMAIN: unknown anywhere, test 0.05%-2%."""
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
    vendor_mean_parcels: float = 60.0
    """Mean international parcels per vendor over the period; sets the vendor count (assumption)."""
    vendor_entry_share: float = 0.45
    """Vendors that enter during the period, relative to those active at the start (assumption)."""
    takedown_at: float = 0.67
    """Fraction of the period at which a market takedown happens (brief; assumption)."""
    takedown_exit_share: float = 0.35
    """Share of active vendors that stop at the takedown (assumption)."""
    stolen_identity_share: float = 0.12
    """Share of vendor parcels sent under the identity of a real private sender (assumption)."""
    identity_rotation_after_seizure: float = 0.6
    """Chance a vendor switches sender identity once it learns of a seizure (assumption)."""
    cover_change_after_seizure: float = 0.4
    """Chance a vendor changes its cover declaration after a seizure (assumption)."""
    letter_share_start: float = 0.55
    """Share of vendor items sent as letters at the start (DOMAIN: NL growth was in letters)."""
    letter_share_end: float = 0.70
    """Share of vendor items sent as letters at the end of the period (assumption)."""
    drop_share_of_vendor_parcels: float = 0.15
    """Share of vendor parcels addressed to drop addresses used by several vendors (assumption)."""
    inspection_miss_rate: float = 0.05
    """Chance an inspection of an illicit item finds nothing (assumption)."""
    other_irregularity_rate: float = 0.02
    """Share of inspected legitimate items with another irregularity (assumption)."""
    tip_off_rate: float = 0.01
    """Chance an illicit item is flagged by an outside tip-off (assumption)."""
    seizure_delay_days: tuple[int, int] = (3, 30)
    """Range of lab/paperwork delay before a seizure outcome is recorded (DOMAIN: outcomes late)."""
    legit_noise: float = 1.0
    """Multiplier on data-quality noise in legitimate declarations (DOMAIN: WCO bad data list)."""
    peak_season: bool = True
    """Apply the November-December e-commerce peak when those dates are in range (assumption)."""

    def __post_init__(self) -> None:
        checks = [
            (self.parcels >= 100, f"parcels must be >= 100, got {self.parcels}"),
            (self.days >= 1, f"days must be >= 1, got {self.days}"),
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
