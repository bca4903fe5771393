"""Model cards render through markdown-it-py: tables, lists, headings moved down, no raw HTML
and no unsafe link passed through."""

from __future__ import annotations

import pytest

from serving.officer._markdown import render


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        ("# Card", "<h2>Card</h2>"),  # the card's top heading sits under the page's own
        ("###### Deep", "<h6>Deep</h6>"),  # never beyond h6
        ("| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"),  # tables
        ("- one\n- two", "<li>two</li>"),  # lists
        ("Some **bold** and `code`", "<strong>bold</strong> and <code>code</code>"),
    ],
)
def test_a_card_renders(card: str, expected: str) -> None:
    assert expected in render(card)


@pytest.mark.parametrize(
    "card",
    [
        "<script>alert(1)</script>",  # raw HTML is escaped, not passed through
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",  # an unsafe scheme is not made a link
    ],
)
def test_a_card_cannot_inject_markup(card: str) -> None:
    html = render(card)
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
