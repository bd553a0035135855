"""What the notification and card flows need from a Bitrix24 contact, read 50 to a command."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.phones import InvalidPhone, is_mobile, normalize_phone

BASE_SELECT = ("ID", "NAME", "LAST_NAME", "SECOND_NAME", "PHONE", "EMAIL", "ASSIGNED_BY_ID")


async def read_contacts(
    client: Bitrix24Client, ids: Iterable[int], extra: Sequence[str] = ()
) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    select = sorted({*BASE_SELECT, "BIRTHDATE", *extra})
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {
        f"k{n}": (
            "crm.contact.list",
            {"filter": {"@ID": wanted[i : i + 50]}, "select": select, "start": -1},
        )
        for n, i in enumerate(range(0, len(wanted), 50))
    }
    found: dict[int, dict[str, Any]] = {}
    if commands:
        for result in (await client.batch_many(commands)).values():
            for contact in result or []:
                found[int(contact["ID"])] = contact
    return found


def _multi(contact: Mapping[str, Any], kind: str) -> list[str]:
    values = contact.get(kind) or []
    if not isinstance(values, list):
        return []
    return [str(v.get("VALUE") or "").strip() for v in values if isinstance(v, dict)]


def raw_phone(contact: Mapping[str, Any]) -> str | None:
    """The first phone as typed, or None."""
    phones = [p for p in _multi(contact, "PHONE") if p]
    return phones[0] if phones else None


def sms_phone(contact: Mapping[str, Any]) -> str | None:
    """The first phone that is a valid mobile number, in E.164."""
    for raw in _multi(contact, "PHONE"):
        try:
            number = normalize_phone(raw)
        except InvalidPhone:
            continue
        if is_mobile(number):
            return number
    return None


def email(contact: Mapping[str, Any]) -> str | None:
    emails = [e for e in _multi(contact, "EMAIL") if "@" in e]
    return emails[0] if emails else None


def first_name(contact: Mapping[str, Any]) -> str:
    return str(contact.get("NAME") or "").strip() or full_name(contact)


def full_name(contact: Mapping[str, Any]) -> str:
    parts = (contact.get("NAME"), contact.get("SECOND_NAME"), contact.get("LAST_NAME"))
    text = " ".join(str(p).strip() for p in parts if p and str(p).strip())
    return text or f"№{contact.get('ID', '?')}"


def responsible(contact: Mapping[str, Any]) -> str | None:
    value = str(contact.get("ASSIGNED_BY_ID") or "").strip()
    return value if value.isdigit() and value != "0" else None


def birth_date(contact: Mapping[str, Any]) -> date | None:
    """``BIRTHDATE`` arrives as ``"1985-03-15T03:00:00+03:00"`` (or ``""``): the date part is the
    date the manager typed."""
    raw = str(contact.get("BIRTHDATE") or "").strip()
    if len(raw) < 10:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def truthy(value: Any) -> bool:
    """A Bitrix24 checkbox or list value that means "yes"."""
    if isinstance(value, list):
        return any(truthy(v) for v in value)
    return str(value or "").strip().upper() in ("Y", "1", "TRUE", "YES", "ДА")


def filled(contact: Mapping[str, Any], field: str) -> bool:
    value = contact.get(field)
    if field in ("PHONE", "EMAIL"):
        return bool(_multi(contact, field) and any(_multi(contact, field)))
    if isinstance(value, list):
        return any(str(v).strip() for v in value)
    return value is not None and str(value).strip() not in ("", "0", "false")
