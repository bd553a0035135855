"""``importContacts`` of UniSender's classic API (docs: unisender.com/ru/support/api/contacts/
importcontacts): ``field_names[k]`` and ``data[i][k]`` as a form, at most 500 contacts a call;
the answer counts ``total``, ``inserted``, ``updated``, ``deleted``, ``invalid`` and logs each
refused row. A row with ``delete`` = 1 takes its e-mail and phone out of the list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from kopilka.config import Settings
from kopilka.notify.sms import SmsSendError, UniSenderSms
from kopilka.segments.schemas import Export, ListRow

BATCH = 500  # UniSender's limit per call
TIMEOUT = 30.0  # UniSender's own timeout for one call
COLUMNS = ("email", "email_list_ids", "phone", "phone_list_ids", "Name", "delete")


class ExportError(Exception):
    """UniSender refused the call, or could not be reached."""


def configured(settings: Settings) -> bool:
    return settings.unisender_api_key is not None


def form_of(rows: Sequence[ListRow], list_id: int) -> dict[str, str]:
    """One call's form: every column named, each row's e-mail and phone in the list (an empty
    cell leaves it out), or taken out of it (``delete`` = 1)."""
    form = {f"field_names[{k}]": name for k, name in enumerate(COLUMNS)}
    form["overwrite_lists"] = "0"  # add to this list; the contact's other lists stay
    for i, r in enumerate(rows):
        cells = (
            r.email or "",
            str(list_id) if r.email else "",
            (r.phone or "").lstrip("+"),
            str(list_id) if r.phone else "",
            r.name,
            "1" if r.delete else "",
        )
        for k, value in enumerate(cells):
            form[f"data[{i}][{k}]"] = value
    return form


async def import_contacts(
    http: httpx.AsyncClient,
    settings: Settings,
    rows: Sequence[ListRow],
    list_id: int,
    out: Export,
) -> None:
    """Put ``rows`` in the list (or take them out), ``BATCH`` at a time, adding UniSender's
    counts to ``out``; raises :class:`ExportError` at the first refused call (the batches before
    it are in)."""
    assert settings.unisender_api_key is not None
    api = UniSenderSms(
        http,
        api_key=settings.unisender_api_key.get_secret_value(),
        sender="-",
        url=settings.unisender_url,
        lang=settings.unisender_lang,
        timeout=TIMEOUT,
    )
    for start in range(0, len(rows), BATCH):
        try:
            result: Any = await api.call(
                "importContacts", form_of(rows[start : start + BATCH], list_id)
            )
        except SmsSendError as exc:
            raise ExportError(str(exc)) from None
        if not isinstance(result, dict):
            raise ExportError("unisender: unexpected answer to importContacts")
        out.inserted += int(result.get("inserted") or 0)
        out.updated += int(result.get("updated") or 0)
        out.invalid += int(result.get("invalid") or 0)
        out.deleted += int(result.get("deleted") or 0)
        for entry in result.get("log") or []:
            if isinstance(entry, dict) and len(out.log) < 100:
                index = int(entry.get("index") or 0) + start
                out.log.append(
                    {
                        "index": index,
                        "code": str(entry.get("code") or ""),
                        "message": str(entry.get("message") or "")[:200],
                    }
                )
