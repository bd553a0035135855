"""Log lines are JSON carrying the ids of the work in hand."""

from __future__ import annotations

import json
import logging

from kopilka.logs import JsonFormatter, bound


def test_lines_carry_bound_ids_and_nest() -> None:
    fmt = JsonFormatter()
    record = logging.LogRecord("kopilka.x", logging.INFO, __file__, 1, "synced %s", ("x",), None)
    with bound(portal_id=3, job_id=11):
        with bound(deal_id=759):
            inner = json.loads(fmt.format(record))
        outer = json.loads(fmt.format(record))
    after = json.loads(fmt.format(record))
    assert inner | {"ts": None} == {
        "ts": None,
        "level": "info",
        "logger": "kopilka.x",
        "message": "synced x",
        "portal_id": 3,
        "job_id": 11,
        "deal_id": 759,
    }
    assert "deal_id" not in outer
    assert outer["portal_id"] == 3
    assert "portal_id" not in after
