"""Server-side SVG waterfall of an explanation: base value, each grouped reason, final score.

Values are on the model's margin (log-odds), where contributions add up exactly. Bars that
push the risk up are drawn in one colour and marked "+", those that push it down in another
and marked "-" (colour is never the only cue). No JavaScript, no external resources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, ROW, TOP, LABEL_W, VALUE_W = 720, 30, 24, 230, 80
UP, DOWN, NEUTRAL = "#b42318", "#1a6fb0", "#4b5563"


def _fmt(x: float) -> str:
    return f"{x:+.2f}"


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / 4)) if span > 0 else 1.0
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= 6:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def waterfall(base: float, reasons: Sequence[tuple[str, float]], final: float,
              labels: dict[str, str], top: int = 8) -> str:  # fmt: skip
    """The SVG text; ``reasons`` are (label, contribution), ``labels`` the fixed captions
    (``title``, ``base``, ``final``, ``other``, ``up``, ``down``)."""
    ordered = sorted(reasons, key=lambda r: -abs(r[1]))
    shown = list(ordered[:top])
    rest = sum(c for _, c in ordered[top:])
    if ordered[top:]:
        shown.append((labels["other"], rest))
    steps: list[tuple[str, float, float, str]] = [(labels["base"], 0.0, base, NEUTRAL)]
    running = base
    for label, contribution in shown:
        start, running = running, running + contribution
        steps.append((label, start, running, UP if contribution >= 0 else DOWN))
    steps.append((labels["final"], 0.0, final, NEUTRAL))
    points = [0.0, base, final] + [v for _, a, b, _ in steps for v in (a, b)]
    lo, hi = min(points), max(points)
    pad = max((hi - lo) * 0.05, 0.1)
    lo, hi = lo - pad, hi + pad
    plot_w = WIDTH - LABEL_W - VALUE_W
    height = TOP + ROW * len(steps) + 40

    def x(v: float) -> float:
        return LABEL_W + (v - lo) / (hi - lo) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="wf-title" class="waterfall" '
        f'font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="wf-title">{escape(labels["title"])}</title>',
    ]
    axis_y = TOP + ROW * len(steps) + 4
    for tick in _ticks(lo, hi):
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{axis_y}" '
                   f'stroke="#d1d5db" stroke-width="1"/>')  # fmt: skip
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" '
                   f'fill="#374151">{tick:g}</text>')  # fmt: skip
    zero = x(0.0)
    out.append(f'<line x1="{zero:.1f}" y1="{TOP - 6}" x2="{zero:.1f}" y2="{axis_y}" '
               f'stroke="#6b7280" stroke-width="1.5"/>')  # fmt: skip
    for i, (label, start, end, colour) in enumerate(steps):
        y = TOP + i * ROW
        left, right = sorted((x(start), x(end)))
        width = max(right - left, 1.5)
        total = i in (0, len(steps) - 1)
        value = f"{end:.2f}" if total else _fmt(end - start)
        mark = "" if total else ("▲ " if end >= start else "▼ ")
        kind = "total" if total else ("up" if end >= start else "down")
        out.append(f'<g class="wf-row wf-{kind}">')
        out.append(f'<text x="{LABEL_W - 8}" y="{y + 19}" text-anchor="end" fill="#111827">'
                   f'{escape(label)}</text>')  # fmt: skip
        out.append(f'<rect x="{left:.1f}" y="{y + 5}" width="{width:.1f}" height="{ROW - 10}" '
                   f'fill="{colour}" rx="2"/>')  # fmt: skip
        if not total and i + 1 < len(steps):
            nx = x(end)
            out.append(f'<line x1="{nx:.1f}" y1="{y + ROW - 5}" x2="{nx:.1f}" y2="{y + ROW + 5}" '
                       f'stroke="#9ca3af" stroke-dasharray="2,2"/>')  # fmt: skip
        out.append(f'<text x="{WIDTH - VALUE_W + 8}" y="{y + 19}" fill="{colour}">'
                   f'{mark}{escape(value)}</text>')  # fmt: skip
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
