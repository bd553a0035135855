"""Wire-level value formats: PHP-style JSON, PHP arrays, money, dates with the portal offset."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any


def php_json(value: Any) -> bytes:
    """JSON as the portal encodes it (``JSON_HEX_TAG|AMP|APOS``, escaped slashes, raw UTF-8).

    ``/ < > & '`` can only occur inside JSON strings, so a textual replacement is safe.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = (
        text.replace("/", "\\/")
        .replace("<", "\\u003C")
        .replace(">", "\\u003E")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )
    return text.encode("utf-8")


def php_array(mapping: dict[Any, Any]) -> Any:
    """A PHP array as ``json_encode`` prints it: ``[]`` when empty, a list for keys 0..n-1."""
    if not mapping:
        return []
    keys = list(mapping)
    if all(str(k).isdigit() for k in keys) and [int(k) for k in keys] == list(range(len(keys))):
        return list(mapping.values())
    return {str(k): v for k, v in mapping.items()}


def parse_offset(offset: str) -> tzinfo:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", offset.strip())
    if not match:
        raise ValueError(f"bad tz offset {offset!r}, expected like +03:00")
    sign = 1 if match.group(1) == "+" else -1
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return timezone(sign * delta)


def fmt_datetime(value: datetime, tz: tzinfo) -> str:
    """``2026-11-23T15:04:05+03:00`` in the portal's offset."""
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def fmt_date(value: date, tz: tzinfo) -> str:
    """A ``date`` field as the portal returns it: midnight UTC seen in the portal offset.

    2001-11-11 on a +03:00 portal -> ``2001-11-11T03:00:00+03:00`` (§7 general facts).
    """
    midnight = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return midnight.astimezone(tz).isoformat()


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")


def parse_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """Parse what a client may send for a datetime; ``None`` when unparseable (silently dropped)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in (*_DATETIME_FORMATS, *_DATE_FORMATS):
            try:
                parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - zone added below
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_date(value: Any, tz: tzinfo) -> date | None:
    """A date from ``2024-08-30``, ``30.08.2024`` or a datetime (its date in the given offset)."""
    if isinstance(value, str):
        text = value.strip()
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a bare date
            except ValueError:
                continue
    moment = parse_datetime(value, tz)
    return moment.astimezone(tz).date() if moment else None


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> str:
    """``"1000.00"`` — a legacy double with two decimals."""
    number = to_decimal(value) or Decimal(0)
    return str(number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def number(value: Any) -> int | float:
    """A JSON number: integral values print without a fraction (``999``, ``899.1``)."""
    dec = to_decimal(value) or Decimal(0)
    if dec == dec.to_integral_value():
        return int(dec)
    return float(dec)


def to_int(value: Any, default: int = 0) -> int:
    """PHP ``intval``: leading digits, else the default."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        match = re.match(r"\s*([+-]?\d+)", value)
        if match:
            return int(match.group(1))
    return default


def php_truthy(value: Any) -> bool:
    """PHP truthiness: ``""``, ``"0"``, ``0``, ``false``, ``null`` and ``[]`` are false."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return bool(value)


def yn(value: Any, default: str = "N") -> str:
    """Normalise a flag to ``Y``/``N``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "Y" if value else "N"
    text = str(value).strip().upper()
    if text in ("Y", "1", "TRUE", "YES"):
        return "Y"
    if text in ("N", "0", "FALSE", "NO"):
        return "N"
    return default
