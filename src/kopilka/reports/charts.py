"""Charts drawn on the server as inline SVG: no script, no front-end build, nothing fetched.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says its numbers
in words (screen readers read them; the page also prints every chart's table). Every text is
escaped here, the page inserts the markup as it is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from kopilka.domain.money import format_points

W, H = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 34
COLORS = {"accrued": "#0b6e4f", "reversed": "#e3a008", "redeemed": "#1f6feb", "expired": "#b3261e"}
_ids = itertools.count(1)


def _scale(low: int, high: int) -> list[int]:
    """Gridlines at a round step (1, 2, 2.5 or 5 times a power of ten, a point at least) from
    below ``low`` to above ``high``: about four intervals."""
    raw = max((high - low) / 4, 100)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(int(m * magnitude) for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    last = max(math.ceil(high / step) * step, first + step)
    return list(range(first, last + 1, step))


def _frame(title: str, desc: str, body: list[str], height: int = H, width: int = W) -> Markup:
    n = next(_ids)
    return Markup(  # noqa: S704 - every text in body is escaped where it is made
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart{n}-t" aria-describedby="chart{n}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _axis(values: Sequence[int]) -> tuple[list[str], Callable[[int], float]]:
    ticks = _scale(min(0, *values) if values else 0, max(0, *values) if values else 0)
    low, top = ticks[0], ticks[-1]
    plot = H - TOP - BOTTOM

    def y(v: int) -> float:
        return TOP + plot * (top - v) / (top - low)

    parts = []
    for v in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="{"#999" if v == 0 else "#e3e6ea"}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#667">{escape(_short(v))}</text>'
        )
    return parts, y


def _x_labels(labels: Sequence[str], x: Callable[[int], float]) -> list[str]:
    every = max(1, -(-len(labels) // 8))
    return [
        f'<text x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" font-size="12" '
        f'fill="#667">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def _short(kopecks: int) -> str:
    return format_points(kopecks - kopecks % 100)


def line(title: str, desc: str, labels: Sequence[str], values: Sequence[int]) -> Markup:
    """One series over time (the liability), its points marked."""
    parts, y = _axis(values)
    step = (W - LEFT - RIGHT) / max(len(values), 1)

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#0b6e4f" stroke-width="2.5"/>')
    parts += [
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#0b6e4f">'
        f"<title>{escape(labels[i])}: {escape(format_points(v))}</title></circle>"
        for i, v in enumerate(values)
    ]
    return _frame(title, desc, parts + _x_labels(labels, x))


def bars(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
) -> Markup:
    """Grouped bars, one group per period: ``series`` is (key, its name, values)."""
    parts, y = _axis([v for _, _, values in series for v in values])
    group = (W - LEFT - RIGHT) / max(len(labels), 1)
    width = max(group * 0.8 / max(len(series), 1), 1.0)

    def x(i: int) -> float:
        return LEFT + group * (i + 0.5)

    for s, (key, name, values) in enumerate(series):
        for i, v in enumerate(values):
            left = x(i) - group * 0.4 + s * width
            y0, y1 = sorted((y(0), y(v)))
            parts.append(
                f'<rect x="{left:.1f}" y="{y0:.1f}" width="{width:.1f}" '
                f'height="{max(y1 - y0, 0):.1f}" fill="{COLORS.get(key, "#667")}">'
                f"<title>{escape(labels[i])} · {escape(name)}: {escape(format_points(v))}</title>"
                "</rect>"
            )
    parts += _x_labels(labels, x)
    legend_x = LEFT
    for key, name, _ in series:
        parts.append(
            f'<rect x="{legend_x}" y="{H - 12}" width="10" height="10" '
            f'fill="{COLORS.get(key, "#667")}"/><text x="{legend_x + 14}" y="{H - 3}" '
            f'font-size="12" fill="#1c1f23">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    return _frame(title, desc, parts)


def hbars(
    title: str, desc: str, items: Sequence[tuple[str, int, str]], color: str = "#0b6e4f"
) -> Markup:
    """Horizontal bars, one per item: (label, value, the value as shown)."""
    row, width = 30, 420
    height = TOP + row * max(len(items), 1) + 6
    top = max((v for _, v, _ in items), default=0) or 1
    label_w, bar_w = 130, width - 130 - 80
    parts = []
    for i, (label, value, shown) in enumerate(items):
        y = TOP + i * row
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
            f'fill="#1c1f23">{escape(label[:20])}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{max(bar_w * value / top, 0):.1f}" '
            f'height="{row - 10}" fill="{color}" rx="3"/>'
            f'<text x="{label_w + max(bar_w * value / top, 0) + 6:.1f}" y="{y + 17}" '
            f'font-size="12" fill="#1c1f23">{escape(shown)}</text>'
        )
    return _frame(title, desc, parts, height, width)
