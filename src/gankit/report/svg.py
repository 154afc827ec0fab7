"""Line charts as inline SVG, written by hand so a report needs no plotting library in the
browser and no network: one ``<svg>`` element per chart, axes with round ticks. Every string
(title, labels, colours) is escaped: labels are metric and run names from a run directory."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-safe categorical palette (Okabe & Ito 2008), then a few more.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#999999", "#882255", "#117733", "#332288")
DASHES = ("", "6 3", "2 2", "8 3 2 3")
MAX_POINTS = 800  # per series: a longer series is thinned to every k-th point (the last one kept)
CHAR_PX = 6.6     # an upper bound on the width of one character of the 11 px label font
LEGEND_ROW_PX = 16


@dataclass
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    color: str = PALETTE[0]
    dash: str = ""


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten apart) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def fmt(v: float) -> str:
    """A tick or value label: short, no trailing zeros."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2g}"
    return f"{v:.4g}"


def _thin(xs: Sequence[float], ys: Sequence[float | None]) -> tuple[list[float], list[float | None]]:
    if len(xs) <= MAX_POINTS:
        return list(xs), list(ys)
    k = math.ceil(len(xs) / MAX_POINTS)
    idx = list(range(0, len(xs), k))
    if idx[-1] != len(xs) - 1:
        idx.append(len(xs) - 1)
    return [xs[i] for i in idx], [ys[i] for i in idx]


def _finite(v: float | None) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def legend_layout(labels: Sequence[str], width: float) -> list[tuple[float, int, str]]:
    """The legend below a chart, as flowing text: ``(x, row, label)`` per entry, an entry
    (an 18 px line sample and its label) placed after the previous one in its row or at the
    start of the next row when it would cross ``width``; a label too long for a whole row is
    cut with an ellipsis. Widths are estimated (:data:`CHAR_PX`), never measured, so they
    err on the wide side."""
    max_chars = max(4, int((width - 22) / CHAR_PX))
    out: list[tuple[float, int, str]] = []
    x, row = 0.0, 0
    for label in labels:
        text = label if len(label) <= max_chars else label[:max_chars - 1] + "…"
        w = 22 + len(text) * CHAR_PX + 12
        if x > 0 and x + w > width:
            x, row = 0.0, row + 1
        out.append((x, row, text))
        x += w
    return out


def line_chart(series: Sequence[Series], *, title: str, xlabel: str = "step", ylabel: str = "",
               hlines: Sequence[tuple[float, str]] = (), ylim: tuple[float, float] | None = None,
               width: int = 392, height: int = 250) -> str:
    """One chart: ``series`` as polylines (a missing or non-finite value breaks the line; a
    series of one point is drawn as a dot), ``hlines`` as dashed reference lines ``(y, label)``."""
    right, top, bottom = 22, 28, 40
    legend = legend_layout([s.label for s in series], width - 16)
    legend_rows = legend[-1][1] + 1 if legend else 0
    ph = height - top - bottom
    base = height + 4          # the legend's rows start below the x axis's label
    height = base + LEGEND_ROW_PX * legend_rows
    xs_all = [x for s in series for x, y in zip(s.x, s.y) if _finite(y) and _finite(x)]
    ys_all = [y for s in series for y in s.y if _finite(y)] + [h for h, _ in hlines if _finite(h)]
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{escape(title)}">',
           f'<text x="{width / 2:.1f}" y="17" text-anchor="middle" class="ct">{escape(title)}</text>']
    if not xs_all or not ys_all:
        out.append(f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" class="cl">no data</text>')
        return "".join(out) + "</svg>"
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = ylim if ylim is not None else (min(ys_all), max(ys_all))
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 <= y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    elif ylim is None:
        pad = (y1 - y0) * 0.05
        y0, y1 = y0 - pad, y1 + pad
    yticks = [t for t in nice_ticks(y0, y1) if y0 <= t <= y1]
    # room on the left for the widest tick label and, beside it, the rotated y label
    left = int(24 + CHAR_PX * max((len(fmt(t)) for t in yticks), default=1))
    pw = width - left - right

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/>')
    for t in yticks:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
                   f'<text x="{left - 5}" y="{py(t) + 4:.1f}" text-anchor="end" class="cl">{fmt(t)}</text>')
    for t in nice_ticks(x0, x1):
        if x0 <= t <= x1:
            out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" class="axis"/>'
                       f'<text x="{px(t):.1f}" y="{top + ph + 16}" text-anchor="middle" class="cl">{fmt(t)}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph + 32}" text-anchor="middle" class="cl">{escape(xlabel)}</text>')
    if ylabel:
        fits = int(ph / CHAR_PX)
        text = ylabel if len(ylabel) <= fits else ylabel[:fits - 1] + "…"
        out.append(f'<text transform="translate(12 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
                   f'class="cl">{escape(text)}</text>')
    for h, label in hlines:
        if _finite(h) and y0 <= h <= y1:
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(h):.1f}" y2="{py(h):.1f}" class="ref"/>'
                       f'<text x="{left + pw - 3}" y="{py(h) - 3:.1f}" text-anchor="end" class="cl">{escape(label)}</text>')
    for s in series:
        xs, ys = _thin(s.x, s.y)
        dash = f' stroke-dasharray="{escape(s.dash)}"' if s.dash else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in zip(xs, ys):
            if _finite(y) and _finite(x):
                runs[-1].append((px(x), py(min(max(y, y0), y1))))
            elif runs[-1]:
                runs.append([])
        for pts in runs:
            if len(pts) == 1:
                out.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="3" fill="{escape(s.color)}"/>')
            elif pts:
                d = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                out.append(f'<polyline points="{d}" fill="none" stroke="{escape(s.color)}" stroke-width="1.6"{dash}/>')
    for s, (x, row, text) in zip(series, legend):   # below the x axis's label, wrapped to the chart's width
        lx, ly = 8 + x, base + LEGEND_ROW_PX * (row + 1) - 4
        dash = f' stroke-dasharray="{escape(s.dash)}"' if s.dash else ""
        out.append(f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly - 4:.1f}" y2="{ly - 4:.1f}" stroke="{escape(s.color)}" '
                   f'stroke-width="2"{dash}/><text x="{lx + 22:.1f}" y="{ly:.1f}" class="cl">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)
