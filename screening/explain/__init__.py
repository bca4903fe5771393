"""Explanations: exact contributions of each feature, grouped and put in the officer's words.

``_treeshap``: exact TreeSHAP contributions from a bundle's tables (``_treeshap_checks``
checks the tables before anything is derived from them; ``_treeshap_kernels`` holds the
compiled kernels). ``_reasons``: contributions summed by officer group into ranked
:class:`Reason` s. ``_words``: the sentence each group's reason is written in.
"""

from ._reasons import GROUPS, LABELS, Reason, group_contributions, group_of, reasons
from ._treeshap import TreeExplainerTables
from ._words import (
    CATEGORY_WORDS,
    MAIL_CLASS_WORDS,
    SENTENCES,
    check_sentences,
    direction,
    sentence,
)

__all__ = [
    "CATEGORY_WORDS",
    "GROUPS",
    "LABELS",
    "MAIL_CLASS_WORDS",
    "SENTENCES",
    "Reason",
    "TreeExplainerTables",
    "check_sentences",
    "direction",
    "group_contributions",
    "group_of",
    "reasons",
    "sentence",
]
