"""The card's number as a QR code (segno) and a Code128 barcode (python-barcode's encoding),
inline SVG that scales to its box: a till's scanner reads it on a phone and on a desktop."""

from __future__ import annotations

import io

import segno
from barcode import Code128  # type: ignore[import-untyped]

QUIET = 10  # modules of white either side (Code128 asks for at least 10)
HEIGHT = 40  # bar height in modules


def qr_svg(number: str) -> str:
    buffer = io.BytesIO()
    segno.make(number, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, omitsize=True
    )
    return buffer.getvalue().decode()


def barcode_svg(number: str) -> str:
    """Code128 of ``number`` drawn in modules with a ``viewBox``: it keeps its proportions and
    its quiet zones at any width (the text is the page's own, under it)."""
    modules = "".join(Code128(number).build())
    width = len(modules) + 2 * QUIET
    bars = []
    x = 0
    while x < len(modules):
        if modules[x] == "1":
            run = len(modules[x:]) - len(modules[x:].lstrip("1"))
            bars.append(f'<rect x="{x + QUIET}" y="0" width="{run}" height="{HEIGHT}"/>')
            x += run
        else:
            x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
        f'preserveAspectRatio="xMidYMid meet" shape-rendering="crispEdges" role="img" '
        f'aria-label="Code128 {number}"><rect width="{width}" height="{HEIGHT}" fill="#fff"/>'
        f'<g fill="#000">{"".join(bars)}</g></svg>'
    )


def pretty_number(e164: str) -> str:
    """'+79123456789' → '+7 912 345-67-89' (other countries as they are)."""
    if e164.startswith("+7") and len(e164) == 12:
        d = e164[2:]
        return f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"
    return e164
