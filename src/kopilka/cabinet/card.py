"""The card's number as a QR code (segno) and a Code128 barcode (python-barcode), inline SVG."""

from __future__ import annotations

import io
import re

import segno
from barcode import Code128  # type: ignore[import-untyped]
from barcode.writer import SVGWriter  # type: ignore[import-untyped]


def qr_svg(number: str) -> str:
    buffer = io.BytesIO()
    segno.make(number, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title="QR"
    )
    return buffer.getvalue().decode()


def barcode_svg(number: str) -> str:
    buffer = io.BytesIO()
    Code128(number, writer=SVGWriter()).write(
        buffer,
        {
            "module_width": 0.5,
            "module_height": 18.0,
            "font_size": 0,
            "text_distance": 1,
            "quiet_zone": 2,
        },
    )
    svg = buffer.getvalue().decode()
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)


def pretty_number(e164: str) -> str:
    """'+79123456789' → '+7 912 345-67-89' (other countries as they are)."""
    if e164.startswith("+7") and len(e164) == 12:
        d = e164[2:]
        return f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"
    return e164
