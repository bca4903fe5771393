"""Server-side SVG waterfall of an explanation, in the headline's unit (chance of a seizure):
from the average parcel's chance, one bar per group of declaration fields labelled
"group = value", to this parcel's chance (``_present.explanation_steps`` computes the steps).
Bars that push the risk up are drawn in one colour and marked "▲", those that push it down in
another and marked "▼" (colour is never the only cue). No JavaScript, no external resources.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

WIDTH, ROW, TOP, LABEL_W, VALUE_W = 880, 30, 24, 380, 130
UP, DOWN, NEUTRAL = "#b42318", "#1a6fb0", "#4b5563"


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / 4)) if span > 0 else 1.0
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= 6:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick(x: float) -> str:
    return f"{x:.{max(0, -math.floor(math.log10(abs(x))) + 1)}f}%" if 0 < abs(x) < 1 else f"{x:g}%"


def waterfall(
    explained: dict[str, Any],
    labels: dict[str, str],
    chance: Callable[[float], str],
    points: Callable[[float], str],
) -> str:
    """The SVG text of :func:`explanation_steps`'s answer; ``labels`` the fixed captions
    (``title``, ``base``, ``final``), ``chance`` and ``points`` write the values."""
    rows: list[tuple[str, float, float, str, str]] = [
        (labels["base"], 0.0, explained["base"], NEUTRAL, chance(explained["base"]))
    ]
    shown = list(explained["steps"]) + ([explained["other"]] if explained["other"] else [])
    for step in shown:
        name = f"{step['label']} = {step['value']}" if step["value"] else step["label"]
        rows.append(
            (name, step["before"], step["after"], UP if step["up"] else DOWN, points(step["delta"]))
        )
    rows.append((labels["final"], 0.0, explained["final"], NEUTRAL, chance(explained["final"])))
    scale = 100.0  # drawn in percent
    top = max(max(a, b) for _, a, b, _, _ in rows) * scale
    lo, hi = 0.0, max(top * 1.08, 1e-6)
    plot_w = WIDTH - LABEL_W - VALUE_W
    height = TOP + ROW * len(rows) + 40

    def x(v: float) -> float:
        return LABEL_W + (v * scale - lo) / (hi - lo) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="wf-title" class="waterfall" '
        f'font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="wf-title">{escape(labels["title"])}</title>',
    ]
    axis_y = TOP + ROW * len(rows) + 4
    for tick in _ticks(lo, hi):
        tx = LABEL_W + (tick - lo) / (hi - lo) * plot_w
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{axis_y}" '
            f'stroke="#d1d5db" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" '
            f'fill="#374151">{_tick(tick)}</text>'
        )
    for i, (label, start, end, colour, value) in enumerate(rows):
        y = TOP + i * ROW
        left, right = sorted((x(start), x(end)))
        width = max(right - left, 1.5)
        total = i in (0, len(rows) - 1)
        mark = "" if total else ("▲ " if end >= start else "▼ ")
        kind = "total" if total else ("up" if end >= start else "down")
        out.append(f'<g class="wf-row wf-{kind}">')
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y + 19}" text-anchor="end" fill="#111827">'
            f"{escape(_fit(label))}</text>"
        )
        out.append(
            f'<rect x="{left:.1f}" y="{y + 5}" width="{width:.1f}" height="{ROW - 10}" '
            f'fill="{colour}" rx="2"/>'
        )
        if not total and i + 1 < len(rows):
            nx = x(end)
            out.append(
                f'<line x1="{nx:.1f}" y1="{y + ROW - 5}" x2="{nx:.1f}" y2="{y + ROW + 5}" '
                f'stroke="#9ca3af" stroke-dasharray="2,2"/>'
            )
        out.append(
            f'<text x="{WIDTH - VALUE_W + 8}" y="{y + 19}" fill="{colour}">'
            f"{mark}{escape(value)}</text>"
        )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _fit(label: str, chars: int = 52) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"
