"""What Bitrix24 reads on the wire: parameters as PHP's ``http_build_query`` writes them, and the
values a JSON body may hold (reference §3)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote


def php_query(params: Mapping[str, Any]) -> str:
    """Encode ``params`` as PHP's ``http_build_query`` would: ``a[b][0]=x``.

    Dicts and lists nest with brackets (lists by index); empty dicts and lists vanish, as in PHP;
    ``None`` becomes an empty value (which clears a field); ``True``/``False`` become ``1``/``0``
    (CRM flags want ``"Y"``/``"N"``: pass those strings); dates use ISO 8601.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten(str(key), value, pairs)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]", item, out)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    else:
        out.append((prefix, _scalar(value)))


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a Bitrix24 query")


def json_default(value: Any) -> str:
    """JSON bodies encode what :func:`php_query` encodes: decimals and dates as strings."""
    if isinstance(value, Decimal | date | datetime):
        return _scalar(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a Bitrix24 call")
