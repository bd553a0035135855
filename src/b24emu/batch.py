"""``batch`` (§5): up to 50 sub-calls in one HTTP request, ``$result[...]`` references."""

from __future__ import annotations

import re
from typing import Any

from b24emu.params import get_ci, parse_query
from b24emu.registry import Call, method
from b24emu.wire import php_array, php_truthy

MAX_COMMANDS = 50
_MISSING = object()


def _step(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        if key in node and node[key] is not None:
            return node[key]
        return _MISSING
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)] if node[int(key)] is not None else _MISSING
    return _MISSING


def _element(value: str, refs: dict[str, Any]) -> Any:
    """``CRestUtil::processBatchElement``: a whole-value reference keeps its type."""
    pattern = re.compile(r"\$(" + "|".join(refs) + r")([^\s]*)", re.IGNORECASE)
    query: Any = value
    for match in pattern.finditer(value):
        path = re.findall(r"\[([^\]]+)\]", match.group(2))
        if not path:
            continue
        node: Any = refs[match.group(1).lower()]
        for key in path:
            nxt = _step(node, key)
            if nxt is _MISSING:
                break
            node = nxt
        if match.group(0) == query:
            query = node
        elif isinstance(query, str):
            if isinstance(node, (int, float)) and not isinstance(node, bool):
                node = str(node)
            if isinstance(node, str):
                query = query.replace(match.group(0), node)
    return query


def substitute(params: Any, refs: dict[str, Any]) -> Any:
    if isinstance(params, dict):
        return {k: substitute(v, refs) for k, v in params.items()}
    if isinstance(params, list):
        return [substitute(v, refs) for v in params]
    if isinstance(params, str) and "$" in params:
        return _element(params, refs)
    return params


@method("batch", "basic", batchable=False)
def batch(call: Call) -> Any:
    portal = call.portal
    raw = get_ci(call.params, "cmd")
    halt = php_truthy(get_ci(call.params, "halt"))
    commands = list(raw.items()) if isinstance(raw, dict) else list(enumerate(raw or []))
    results: dict[Any, Any] = {}
    errors: dict[Any, Any] = {}
    totals: dict[Any, Any] = {}
    nexts: dict[Any, Any] = {}
    times: dict[Any, Any] = {}
    portal.stats.bump("batch_commands_total", len(commands))
    for index, (key, text) in enumerate(commands):
        if index >= MAX_COMMANDS:
            errors[key] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded",
            }
            if halt:
                break
            continue
        name, _, query = str(text).partition("?")
        refs = {
            "result": {str(k): v for k, v in results.items()},
            "next": {str(k): v for k, v in nexts.items()},
            "total": {str(k): v for k, v in totals.items()},
            "time": {str(k): v for k, v in times.items()},
            "error": {str(k): v for k, v in errors.items()},
        }
        params = substitute(parse_query(query), refs)
        _status, envelope = portal.execute(name, params, call.auth, in_batch=True)
        if "error" in envelope:
            errors[key] = envelope
            if halt:
                break
            continue
        results[key] = envelope["result"]
        if "total" in envelope:
            totals[key] = envelope["total"]
        if "next" in envelope:
            nexts[key] = envelope["next"]
        times[key] = envelope.get("time", {})
    return {
        "result": php_array(results),
        "result_error": php_array(errors),
        "result_total": php_array(totals),
        "result_next": php_array(nexts),
        "result_time": php_array(times),
    }
