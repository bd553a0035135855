"""A portal's domain as Kopilka compares it: ``shop.bitrix24.ru`` from ``https://Shop.Bitrix24.ru/``,
``crm.example.local`` from ``crm.example.local:8443`` (an on-premise portal behind a port) or
``crm.example.local.`` (a fully qualified name). The events' ``auth[domain]``, the webhook URL
given to ``kopilka connect`` and the install's domain all go through :func:`normal_domain`
before they are stored or looked up (issue 15)."""

from __future__ import annotations

from urllib.parse import urlsplit


def normal_domain(value: str) -> str:
    """The bare host name, lower case: no scheme, user, port, path or trailing dot ("" if
    there is none)."""
    text = value.strip()
    if "//" not in text:
        text = "//" + text  # urlsplit finds a host only after "//"
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # a malformed port or IPv6 literal: no host to compare
        return ""
    return host.rstrip(".").lower()
