"""The program file's ``wallet:`` section: how the customer's card looks in Apple Wallet and
Google Wallet (colours, barcode, texts). Every key has a default: a program without the section
gets a plain dark card with a QR code."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kopilka.program.types import Strict

#: ``#rrggbb``
Colour = str
_HEX = r"^#[0-9a-fA-F]{6}$"


class Wallet(Strict):
    barcode: Literal["qr", "code128"] = "qr"  # the card number (phone) as the till reads it
    background: Colour = Field(default="#1e1e1e", pattern=_HEX)
    foreground: Colour = Field(default="#ffffff", pattern=_HEX)
    label: Colour = Field(default="#c8c8c8", pattern=_HEX)
    shop_name: str | None = Field(default=None, max_length=60)  # default: the program's title
    points_label: str | None = Field(default=None, max_length=30)  # default: «Баллы» / "Points"
    terms: str | None = Field(default=None, max_length=2000)  # the back of the card
    expiring_days: int = Field(default=30, ge=1, le=366)  # "expiring soon" means within these
