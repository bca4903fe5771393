"""Model cards in Markdown to HTML, by markdown-it-py (CommonMark with tables).

Raw HTML in the card is not passed through (``html=False``: it is escaped), and links with
unsafe schemes (``javascript:``) are refused by markdown-it's own link check. Headings move
down by ``heading_offset`` levels, so a card's ``#`` sits under the page's own heading.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore


def _shift_headings(offset: int) -> object:
    def rule(state: StateCore) -> None:
        for token in state.tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1:]) + offset)}"

    return rule


@lru_cache(maxsize=4)
def _parser(heading_offset: int) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.push("shift_headings", _shift_headings(heading_offset))  # type: ignore[arg-type]
    return md


def render(markdown: str, heading_offset: int = 1) -> str:
    """HTML of ``markdown``; headings shift down by ``heading_offset`` levels (max h6)."""
    return str(_parser(heading_offset).render(markdown))
