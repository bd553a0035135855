"""Request parameter decoding: PHP bracket syntax, form/JSON/multipart bodies (§2.1, §2.2)."""

from __future__ import annotations

import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\]]*)\]")


def _split_key(key: str) -> list[str]:
    """``filter[>ID][0]`` -> ``["filter", ">ID", "0"]``; ``a[]`` -> ``["a", ""]``."""
    head, bracket, rest = key.partition("[")
    if not bracket or not head:
        return [key]
    parts = [head]
    remainder = "[" + rest
    pos = 0
    while pos < len(remainder):
        match = _SEGMENT.match(remainder, pos)
        if not match:
            # PHP keeps a malformed tail as part of the last name; close enough to ignore it.
            break
        parts.append(match.group(1))
        pos = match.end()
    return parts


def _insert(target: dict[str, Any], parts: list[str], value: Any) -> None:
    node = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        key = part
        if key == "":
            numeric = [int(k) for k in node if isinstance(k, str) and k.isdigit()]
            key = str(max(numeric) + 1 if numeric else 0)
        if last:
            node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def listify(value: Any) -> Any:
    """Turn PHP-style dicts with keys ``0..n-1`` into lists, recursively."""
    if isinstance(value, dict):
        converted = {k: listify(v) for k, v in value.items()}
        keys = list(converted)
        if keys and all(isinstance(k, str) and k.isdigit() for k in keys):
            if [int(k) for k in keys] == list(range(len(keys))):
                return list(converted.values())
        return converted
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def parse_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in pairs:
        _insert(tree, _split_key(key), value)
    result = listify(tree)
    return result if isinstance(result, dict) else {}


def parse_query(query: str) -> dict[str, Any]:
    """Decode a query string / form body the way PHP's ``parse_str`` does."""
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    pairs: list[tuple[str, Any]] = []
    if not message.is_multipart():
        return {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        if filename:
            pairs.append((name, {"name": filename, "size": len(payload)}))
        else:
            charset = part.get_content_charset() or "utf-8"
            pairs.append((name, payload.decode(charset, errors="replace")))
    return parse_pairs(pairs)


def decode_request(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """GET parameters, then POST parameters on top (§2.1: POST overrides GET).

    A body that claims to be JSON but does not parse is silently ignored (§14.16).
    """
    params = parse_query(query)
    kind = content_type.split(";")[0].strip().lower()
    posted: dict[str, Any] = {}
    if body:
        if kind == "application/json":
            try:
                decoded = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                decoded = None
            if isinstance(decoded, dict):
                posted = decoded
        elif kind == "multipart/form-data":
            posted = _multipart(body, content_type)
        else:
            posted = parse_query(body.decode("utf-8", errors="replace"))
    params.update(posted)
    return params


def get_ci(params: dict[str, Any], *names: str, default: Any = None) -> Any:
    """Legacy CRM parameter lookup: ``id``/``ID``, ``fields``/``FIELDS``/``arFields`` (§2.2)."""
    lowered = {k.lower(): k for k in params if isinstance(k, str)}
    for name in names:
        key = lowered.get(name.lower())
        if key is not None:
            return params[key]
    return default


def as_list(value: Any) -> list[Any]:
    """A PHP array argument as a list of values (dict values in order, scalars wrapped)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def flatten_form(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Inverse of :func:`parse_query`: nested data to PHP bracket pairs, all scalars as strings."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            pairs.extend(flatten_form(item, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            pairs.extend(flatten_form(item, f"{prefix}[{index}]"))
    elif value is None:
        pairs.append((prefix, ""))
    elif isinstance(value, bool):
        pairs.append((prefix, "1" if value else "0"))
    else:
        pairs.append((prefix, str(value)))
    return pairs
