"""Bitrix24 posts events as ``application/x-www-form-urlencoded`` with PHP-style bracketed keys
(``auth[application_token]``, ``data[FIELDS][ID]``). Kept flat: callers ask for the exact key."""

from __future__ import annotations

from urllib.parse import parse_qsl


def parse_form(body: bytes) -> dict[str, str]:
    """The last value wins for a repeated key, as PHP's ``$_POST`` does."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=1000))


def nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``nested(form, "auth")`` → {"member_id": …, …} from ``auth[member_id]`` keys."""
    head = prefix + "["
    return {
        key[len(head) : -1]: value
        for key, value in form.items()
        if key.startswith(head) and key.endswith("]") and "[" not in key[len(head) : -1]
    }
