"""Vectorised generation of names, addresses, phones, e-mails and UPU-looking strings.

Pools are small on purpose (a few dozen names per language group): repeated common names
across unrelated people are realistic and stop a name alone from identifying a sender.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._geography import COUNTRIES

_FIRST = {
    "en": "James Mary John Linda Michael Sarah David Emma Chris Laura Daniel Emily Paul Jessica "
    "Mark Olivia Tom Sophie Ryan Chloe Jack Grace Liam Amy Noah Kate",
    "de": "Lukas Anna Jonas Lea Felix Laura Paul Julia Max Lena Leon Sarah Tim Hannah Jan Marie "
    "Stefan Katrin Thomas Sabine",
    "nl": "Daan Emma Sem Julia Lucas Sophie Bram Tess Thijs Lotte Ruben Sanne Jeroen Fleur "
    "Niels Anouk Joost Iris",
    "fr": "Lucas Chloe Hugo Manon Louis Camille Nathan Lea Jules Ines Thomas Julie Pierre Claire",
    "es": "Pablo Lucia Hugo Maria Alejandro Paula Daniel Laura Javier Carmen Diego Sofia Jose Ana",
    "it": "Marco Giulia Luca Sofia Matteo Chiara Andrea Sara Francesco Martina Giorgio Elena",
    "pt": "Joao Ana Pedro Beatriz Lucas Mariana Tiago Ines Rafael Carolina Bruno Juliana",
    "pl": "Jakub Anna Kacper Zuzanna Piotr Maja Tomasz Ola Pavel Tereza Jan Katarzyna",
    "nordic": "Erik Emma Lars Ingrid Oskar Maja Nils Elsa Anders Sofia Mikko Aino",
    "zh": "Wei Fang Jing Min Lei Yan Jun Hui Tao Ying Hao Xin Li Na",
    "ja": "Haruto Yui Sota Hina Ren Aoi Yuto Sakura Kenji Yuki Takumi Mei",
    "ko": "Minjun Seoyeon Jiho Jiwoo Hyun Soyeon Dohyun Haeun Junho Yuna",
    "in": "Aarav Priya Rohan Ananya Arjun Diya Vikram Sneha Rahul Pooja Amit Neha",
}
_LAST = {
    "en": "Smith Johnson Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Hall "
    "Green Clarke Lewis Wood Harris Martin Jackson White Miller Moore Young Allen",
    "de": "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
    "Richter Wolf Klein Neumann Braun",
    "nl": "de Jong Jansen de Vries van den Berg van Dijk Bakker Visser Smit Meijer de Boer "
    "Mulder de Groot Bos Vos Peters Hendriks",
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent",
    "es": "Garcia Rodriguez Gonzalez Fernandez Lopez Martinez Sanchez Perez Gomez Martin Ruiz",
    "it": "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno",
    "pt": "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Souza Alves",
    "pl": "Nowak Kowalski Wisniewski Wojcik Kowalczyk Novak Svoboda Dvorak Kaminski Lewandowski",
    "nordic": "Johansson Andersson Hansen Nielsen Larsen Olsen Virtanen Korhonen Berg Lindqvist",
    "zh": "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu",
    "ja": "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato",
    "ko": "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim",
    "in": "Sharma Patel Singh Kumar Gupta Reddy Rao Mehta Shah Iyer Nair Das",
}
_STREET = {
    "en": "High Street|Station Road|Main Street|Church Lane|Park Avenue|Oak Drive|Mill Road|"
    "Victoria Road|Elm Street|King Street|Maple Avenue|Queens Road|Broadway|Cedar Lane",
    "de": "Hauptstrasse|Bahnhofstrasse|Gartenweg|Schulstrasse|Dorfstrasse|Lindenallee|Ringstrasse",
    "nl": "Dorpsstraat|Kerkstraat|Stationsweg|Molenweg|Schoolstraat|Prinsengracht|Julianalaan",
    "fr": "rue de la Paix|avenue Victor Hugo|rue du Moulin|boulevard Voltaire|rue de l'Eglise",
    "es": "Calle Mayor|Avenida de la Paz|Calle Real|Calle del Sol|Gran Via|Calle Nueva",
    "it": "Via Roma|Via Garibaldi|Corso Italia|Via Verdi|Via Dante|Via Mazzini",
    "pt": "Rua das Flores|Avenida Central|Rua do Sol|Rua Nova|Avenida Paulista",
    "pl": "ulica Lipowa|ulica Polna|ulica Lesna|Narodni|ulica Sloneczna|Dlouha",
    "nordic": "Storgatan|Kirkegade|Kungsgatan|Mannerheimintie|Strandvejen|Parkveien",
    "zh": "Nanjing Road|Huaqiang North Road|Jiefang Road|Renmin Road|Zhongshan Road|Futian Road",
    "ja": "Chuo-dori|Meiji-dori|Omotesando|Shinjuku|Ginza|Namba",
    "ko": "Gangnam-daero|Teheran-ro|Sejong-daero|Itaewon-ro",
    "in": "MG Road|Station Road|Nehru Street|Park Street|Gandhi Road|Linking Road",
}
_COMPANY_WORDS = (
    "Global Trade",
    "Fashion",
    "Digital",
    "Home Goods",
    "Beauty",
    "Tech",
    "Sports",
    "Kids World",
    "Outlet",
    "Direct",
    "Market",
    "Gadget",
    "Style",
    "Living",
    "Crafts",
    "Health",
    "Organic",
    "Books",
    "Tea House",
    "Jewels",
    "Pet Supply",
    "Auto Parts",
    "Outdoor",
    "Vintage",
    "Print",
)
_COMPANY_SUFFIX = {
    "zh": "Trading Co., Ltd|E-commerce Co., Ltd|Technology Co., Ltd|Store",
    "de": "GmbH|Shop|Versand|AG",
    "nl": "B.V.|Webshop|Shop",
    "fr": "SARL|Boutique",
    "en": "Ltd|Inc|LLC|Store|Shop|Co",
}
_NUMBER_FIRST = {"en", "fr", "zh", "ja", "ko", "in"}
GROUPS: tuple[str, ...] = tuple(sorted(_FIRST))


Pool = tuple[pa.Array, np.ndarray, np.ndarray]


def _pool(source: dict[str, str], sep: str | None = None) -> Pool:
    words: list[str] = []
    start, size = [], []
    for group in GROUPS:
        items = source[group].split(sep) if sep else _split_names(source[group])
        start.append(len(words))
        size.append(len(items))
        words.extend(items)
    return pa.array(words), np.array(start), np.array(size)


def _split_names(text: str) -> list[str]:
    """Split a space-separated name list, keeping particles ("de Jong", "van Dijk") attached."""
    out: list[str] = []
    pending = ""
    for token in text.split():
        if token in {"de", "van", "den"}:
            pending += token + " "
            continue
        out.append(pending + token)
        pending = ""
    return out


_FIRST_POOL = _pool(_FIRST)
_LAST_POOL = _pool(_LAST)
_STREET_POOL = _pool(_STREET, "|")
_GROUP_OF_COUNTRY = np.array([GROUPS.index(c.name_group) for c in COUNTRIES])


def _draw(rng: np.random.Generator, pool: Pool, group: np.ndarray) -> pa.Array:
    words, start, size = pool
    index = start[group] + (rng.random(group.size) * size[group]).astype(np.int64)
    return words.take(pa.array(index))


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals."""
    return pc.binary_join_element_wise(*parts, "")


def digits(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    """``n`` random digit strings of fixed ``width``."""
    chars = rng.integers(ord("0"), ord("9") + 1, size=(n, width), dtype=np.uint8)
    return pa.array(chars.view(f"S{width}").ravel()).cast(pa.string())


def pattern_fill(rng: np.random.Generator, pattern: str, n: int) -> pa.Array:
    """Fill a pattern: ``#`` random digit, ``A`` random uppercase letter, else literal."""
    chars = np.empty((n, len(pattern)), dtype=np.uint8)
    for k, ch in enumerate(pattern):
        if ch == "#":
            chars[:, k] = rng.integers(48, 58, size=n)
        elif ch == "A":
            chars[:, k] = rng.integers(65, 91, size=n)
        else:
            chars[:, k] = ord(ch)
    filled = pa.array(chars.view(f"S{len(pattern)}").ravel()).cast(pa.string())
    # pyarrow converts a large fixed-width bytes array in pieces (a ChunkedArray; seen at 5M
    # rows), which pc.replace_with_mask refuses as replacements: one array, as at small sizes
    return filled.combine_chunks() if isinstance(filled, pa.ChunkedArray) else filled


def person_names(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """``First Last`` names in the language group of each country."""
    group = _GROUP_OF_COUNTRY[country]
    return join(_draw(rng, _FIRST_POOL, group), " ", _draw(rng, _LAST_POOL, group))


def company_names(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """Shop names such as ``Shenzhen Gadget Technology Co., Ltd`` or ``Home Goods GmbH``."""
    n = country.size
    word = pa.array(_COMPANY_WORDS).take(pa.array(rng.integers(0, len(_COMPANY_WORDS), n)))
    groups = [COUNTRIES[c].name_group for c in country]
    suffix_lists = [_COMPANY_SUFFIX.get(g, _COMPANY_SUFFIX["en"]).split("|") for g in groups]
    picks = rng.random(n)
    suffix = pa.array([s[int(u * len(s))] for s, u in zip(suffix_lists, picks, strict=True)])
    city = pa.array([COUNTRIES[c].cities[0][0] for c in country])
    with_city = rng.random(n) < 0.5
    prefix = pc.if_else(pa.array(with_city), join(city, " "), "")
    return join(prefix, word, " ", suffix)


def streets(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """House number and street in the local order."""
    group = _GROUP_OF_COUNTRY[country]
    name = _draw(rng, _STREET_POOL, group)
    number = pa.array(rng.integers(1, 250, size=country.size)).cast(pa.string())
    number_first = np.isin(group, [GROUPS.index(g) for g in _NUMBER_FIRST])
    return pc.if_else(pa.array(number_first), join(number, " ", name), join(name, " ", number))


def cities(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """A city of each country (the posting cities double as residential ones)."""
    out = [
        COUNTRIES[c].cities[int(u * len(COUNTRIES[c].cities))][0]
        for c, u in zip(country.tolist(), rng.random(country.size), strict=True)
    ]
    return pa.array(out)


def postcodes(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """Postcodes in each country's format (null where the country has none)."""
    out = pa.nulls(country.size, pa.string())
    for code in np.unique(country):
        pattern = COUNTRIES[int(code)].postcode
        mask = country == code
        if pattern:
            filled = pattern_fill(rng, pattern, int(mask.sum()))
            out = pc.replace_with_mask(out, pa.array(mask), filled)
    return out


def phones(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    prefix = pa.array([COUNTRIES[c].phone for c in country.tolist()])
    return join(prefix, " ", digits(rng, country.size, 9))


def emails(rng: np.random.Generator, names: pa.Array) -> pa.Array:
    """Mailbox derived from the name, with digits and a common provider."""
    local = pc.replace_substring_regex(pc.utf8_lower(names), r"[^a-z ]", "")
    local = pc.utf8_slice_codeunits(pc.replace_substring(local, " ", "."), 0, 18)
    providers = pa.array(
        [
            "gmail.com",
            "outlook.com",
            "yahoo.com",
            "proton.me",
            "web.de",
            "hotmail.com",
            "icloud.com",
            "qq.com",
        ]
    )
    provider = providers.take(pa.array(rng.integers(0, len(providers), len(names))))
    return join(local, digits(rng, len(names), 2), "@", provider)


def typo_variant(rng: np.random.Generator, name: str) -> str:
    """One small corruption of a name: swapped, dropped or doubled letter, or initial only."""
    if len(name) < 4:
        return name + "."
    k = int(rng.integers(1, len(name) - 2))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return name[:k] + name[k + 1] + name[k] + name[k + 2 :]
    if kind == 1:
        return name[:k] + name[k + 1 :]
    if kind == 2:
        return name[:k] + name[k] + name[k:]
    first, _, rest = name.partition(" ")
    return f"{first[0]}. {rest}" if rest else name.upper()
