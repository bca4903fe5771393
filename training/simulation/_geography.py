"""Countries, regions, currencies, posting offices and the legitimate origin-destination mix.

Weights are assumptions shaped by DOMAIN.md: large e-commerce exporters (CN, US, GB, DE) and
mostly intra-regional flows. Each country row: region, currency, export weight, import weight,
UTC offset (hours), name group, posting cities, postcode pattern, phone prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Country:
    code: str
    region: str
    currency: str
    export_weight: float
    import_weight: float
    utc_offset: int
    name_group: str
    cities: tuple[tuple[str, str], ...]
    postcode: str
    phone: str


_ROWS: tuple[Country, ...] = (
    Country(
        "CN",
        "asia",
        "CNY",
        30.0,
        2.0,
        8,
        "zh",
        (("Shenzhen", "SZX"), ("Guangzhou", "CAN"), ("Yiwu", "YIW"), ("Shanghai", "SHA")),
        "######",
        "+86",
    ),
    Country("HK", "asia", "HKD", 4.0, 1.0, 8, "zh", (("Hong Kong", "HKG"),), "", "+852"),
    Country(
        "US",
        "americas",
        "USD",
        10.0,
        14.0,
        -5,
        "en",
        (
            ("New York", "JFK"),
            ("Los Angeles", "LAX"),
            ("Chicago", "ORD"),
            ("Miami", "MIA"),
            ("Seattle", "SEA"),
        ),
        "#####",
        "+1",
    ),
    Country(
        "CA",
        "americas",
        "CAD",
        1.5,
        3.0,
        -5,
        "en",
        (("Toronto", "YYZ"), ("Vancouver", "YVR"), ("Montreal", "YUL")),
        "A#A #A#",
        "+1",
    ),
    Country("MX", "americas", "MXN", 0.5, 1.5, -6, "es", (("Mexico City", "MEX"),), "#####", "+52"),
    Country(
        "BR", "americas", "BRL", 0.4, 2.0, -3, "pt", (("Sao Paulo", "GRU"),), "#####-###", "+55"
    ),
    Country(
        "GB",
        "europe",
        "GBP",
        6.0,
        9.0,
        0,
        "en",
        (("London", "LHR"), ("Manchester", "MAN"), ("Birmingham", "BHX"), ("Leeds", "LBA")),
        "A# #AA",
        "+44",
    ),
    Country("IE", "europe", "EUR", 0.5, 1.5, 0, "en", (("Dublin", "DUB"),), "A## A#A#", "+353"),
    Country(
        "DE",
        "europe",
        "EUR",
        6.0,
        10.0,
        1,
        "de",
        (("Frankfurt", "FRA"), ("Berlin", "BER"), ("Hamburg", "HAM"), ("Munich", "MUC")),
        "#####",
        "+49",
    ),
    Country(
        "NL",
        "europe",
        "EUR",
        2.5,
        4.0,
        1,
        "nl",
        (("Amsterdam", "AMS"), ("Rotterdam", "RTM"), ("Utrecht", "UTC")),
        "#### AA",
        "+31",
    ),
    Country(
        "BE",
        "europe",
        "EUR",
        1.0,
        2.5,
        1,
        "nl",
        (("Brussels", "BRU"), ("Antwerp", "ANR")),
        "####",
        "+32",
    ),
    Country(
        "FR",
        "europe",
        "EUR",
        3.0,
        7.0,
        1,
        "fr",
        (("Paris", "CDG"), ("Lyon", "LYS"), ("Marseille", "MRS")),
        "#####",
        "+33",
    ),
    Country(
        "ES",
        "europe",
        "EUR",
        1.5,
        4.0,
        1,
        "es",
        (("Madrid", "MAD"), ("Barcelona", "BCN")),
        "#####",
        "+34",
    ),
    Country(
        "IT",
        "europe",
        "EUR",
        1.5,
        4.0,
        1,
        "it",
        (("Milan", "MXP"), ("Rome", "FCO")),
        "#####",
        "+39",
    ),
    Country("PT", "europe", "EUR", 0.4, 1.0, 0, "pt", (("Lisbon", "LIS"),), "####-###", "+351"),
    Country("AT", "europe", "EUR", 0.6, 1.5, 1, "de", (("Vienna", "VIE"),), "####", "+43"),
    Country(
        "CH",
        "europe",
        "CHF",
        0.8,
        2.0,
        1,
        "de",
        (("Zurich", "ZRH"), ("Geneva", "GVA")),
        "####",
        "+41",
    ),
    Country(
        "PL",
        "europe",
        "PLN",
        1.2,
        3.0,
        1,
        "pl",
        (("Warsaw", "WAW"), ("Krakow", "KRK")),
        "##-###",
        "+48",
    ),
    Country("CZ", "europe", "CZK", 0.5, 1.2, 1, "pl", (("Prague", "PRG"),), "### ##", "+420"),
    Country("SE", "europe", "SEK", 0.8, 2.0, 1, "nordic", (("Stockholm", "ARN"),), "### ##", "+46"),
    Country("DK", "europe", "DKK", 0.5, 1.2, 1, "nordic", (("Copenhagen", "CPH"),), "####", "+45"),
    Country("NO", "europe", "NOK", 0.3, 1.5, 1, "nordic", (("Oslo", "OSL"),), "####", "+47"),
    Country("FI", "europe", "EUR", 0.3, 1.0, 2, "nordic", (("Helsinki", "HEL"),), "#####", "+358"),
    Country(
        "JP",
        "asia",
        "JPY",
        2.0,
        3.0,
        9,
        "ja",
        (("Tokyo", "NRT"), ("Osaka", "KIX")),
        "###-####",
        "+81",
    ),
    Country("KR", "asia", "KRW", 2.0, 2.0, 9, "ko", (("Seoul", "ICN"),), "#####", "+82"),
    Country("SG", "asia", "SGD", 0.8, 1.0, 8, "en", (("Singapore", "SIN"),), "######", "+65"),
    Country(
        "IN",
        "asia",
        "INR",
        1.5,
        1.5,
        5,
        "in",
        (("Mumbai", "BOM"), ("Delhi", "DEL")),
        "######",
        "+91",
    ),
    Country("TR", "europe", "TRY", 0.8, 1.0, 3, "en", (("Istanbul", "IST"),), "#####", "+90"),
    Country(
        "AU",
        "oceania",
        "AUD",
        1.0,
        4.0,
        10,
        "en",
        (("Sydney", "SYD"), ("Melbourne", "MEL"), ("Brisbane", "BNE")),
        "####",
        "+61",
    ),
    Country("NZ", "oceania", "NZD", 0.3, 1.0, 12, "en", (("Auckland", "AKL"),), "####", "+64"),
)

COUNTRIES: tuple[Country, ...] = _ROWS
CODES: tuple[str, ...] = tuple(c.code for c in COUNTRIES)
INDEX: dict[str, int] = {code: i for i, code in enumerate(CODES)}
REGIONS = np.array([c.region for c in COUNTRIES])
CURRENCIES: tuple[str, ...] = tuple(sorted({c.currency for c in COUNTRIES} | {"USD", "EUR"}))
CURRENCY_INDEX: dict[str, int] = {cur: i for i, cur in enumerate(CURRENCIES)}
HOME_CURRENCY = np.array([CURRENCY_INDEX[c.currency] for c in COUNTRIES])
UTC_OFFSET = np.array([c.utc_offset for c in COUNTRIES])

# Rough EUR value of one unit of each currency (assumption, 2025 levels).
_EUR_PER_UNIT = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "AUD": 0.61,
    "CAD": 0.68,
    "CNY": 0.13,
    "CHF": 1.04,
    "HKD": 0.12,
    "MXN": 0.05,
    "BRL": 0.17,
    "PLN": 0.23,
    "CZK": 0.04,
    "SEK": 0.088,
    "DKK": 0.134,
    "NOK": 0.086,
    "JPY": 0.0061,
    "KRW": 0.00068,
    "SGD": 0.69,
    "INR": 0.011,
    "TRY": 0.027,
    "NZD": 0.55,
}
EUR_PER_UNIT = np.array([_EUR_PER_UNIT[c] for c in CURRENCIES])


def offices() -> tuple[list[str], np.ndarray, np.ndarray]:
    """All posting offices as ``(codes, country index, city index within country)``.

    Each city has 1-3 offices (``NL-AMS-1``); office 1 is the large exchange office.
    """
    codes: list[str] = []
    country: list[int] = []
    city: list[int] = []
    for ci, c in enumerate(COUNTRIES):
        per_city = 3 if c.export_weight >= 2 else 2
        for k, (_, city_code) in enumerate(c.cities):
            for n in range(1, per_city + 1):
                codes.append(f"{c.code}-{city_code}-{n}")
                country.append(ci)
                city.append(k)
    return codes, np.array(country), np.array(city)


def legit_destination_matrix() -> np.ndarray:
    """Row-stochastic origin -> destination probabilities for legitimate international mail.

    Same-region destinations get three times their import weight; CN and HK ship evenly
    worldwide; a country never mails to itself (customs sees international items only).
    """
    imports = np.array([c.import_weight for c in COUNTRIES])
    same_region = REGIONS[:, None] == REGIONS[None, :]
    weights = imports[None, :] * np.where(same_region, 3.0, 1.0)
    for hub in ("CN", "HK"):
        weights[INDEX[hub]] = imports
    np.fill_diagonal(weights, 0.0)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


def vendor_destination_matrix() -> np.ndarray:
    """Origin -> destination for international drug parcels: strongly intra-regional.

    DOMAIN (Norbutas 2018): most trade is domestic or intra-regional; domestic items are not
    customs data, so only the international remainder is simulated. NL ships ecstasy to the US
    and Australia (DOMAIN, NL outgoing mail), which gets an extra weight.
    """
    imports = np.array([c.import_weight for c in COUNTRIES])
    same_region = REGIONS[:, None] == REGIONS[None, :]
    weights = imports[None, :] * np.where(same_region, 8.0, 1.0)
    weights[INDEX["NL"], INDEX["US"]] *= 4.0
    weights[INDEX["NL"], INDEX["AU"]] *= 6.0
    np.fill_diagonal(weights, 0.0)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))
