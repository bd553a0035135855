"""Leaky bucket 503 (§3.1) and the operating-time 429 (§3.2)."""

from __future__ import annotations

import time

import httpx

from b24emu import EmuServer, Portal, RateLimit


def test_burst_then_drain(portal: Portal, hook: str, http: httpx.Client) -> None:
    # Requests until the bucket refuses one: however slow this machine, the burst of 50 goes
    # through first (the leak only adds to it), and a refusal comes.
    answers = []
    while len(answers) < 500 and (not answers or answers[-1].status_code != 503):
        answers.append(http.get(hook + "crm.deal.fields"))
    statuses = [a.status_code for a in answers]
    assert statuses[:50] == [200] * 50
    assert statuses[-1] == 503
    assert answers[-1].json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert portal.stats.rejected_503 >= 1
    assert 49 <= portal.stats.max_bucket_level <= 50
    time.sleep(1.0)  # at 2 requests/s, at least two places leak out
    after = []
    while len(after) < 500 and (not after or after[-1] != 503):
        after.append(http.get(hook + "crm.deal.fields").status_code)
    assert after[:2] == [200, 200]
    assert after[-1] == 503
    # portal.call never touches the bucket
    assert portal.call("crm.deal.fields")["result"]["ID"]["type"] == "integer"


def test_batch_is_one_request_for_the_bucket(http: httpx.Client) -> None:
    portal = Portal(rate_limit=RateLimit(burst=3, per_second=0.5))
    with EmuServer(portal):
        hook = portal.add_webhook()
        cmd = {f"c{i}": "crm.deal.fields" for i in range(50)}
        statuses = [http.post(hook + "batch", json={"cmd": cmd}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 503]


def test_operating_time_limit(http: httpx.Client) -> None:
    portal = Portal(operating_limit_seconds=2.0)
    portal.method_cost_seconds = {"crm.deal.list": 1.0}
    with EmuServer(portal):
        hook = portal.add_webhook()
        before = time.time()
        first = http.get(hook + "crm.deal.list").json()
        assert first["time"]["operating"] >= 1.0  # the method's cost is charged
        # the window opens with the call (the next line, not a clock bound, shows the limit)
        assert first["time"]["operating_reset_at"] >= int(before) + 590
        # the second call takes the sum over 2 s and still runs; the third is refused
        statuses = [http.get(hook + "crm.deal.list").status_code for _ in range(2)]
        assert statuses == [200, 429]
        blocked = http.get(hook + "crm.deal.list")
        assert blocked.json() == {
            "error": "OPERATION_TIME_LIMIT",
            "error_description": "Method is blocked due to operation time limit.",
        }
        assert http.get(hook + "crm.deal.fields").status_code == 200  # other methods unaffected
        other_hook = portal.add_webhook()
        assert http.get(other_hook + "crm.deal.list").status_code == 200  # other webhooks too
        nested = http.post(hook + "batch", json={"cmd": {"l": "crm.deal.list"}}).json()
        assert nested["result"]["result_error"]["l"]["error"] == "OPERATION_TIME_LIMIT"
        assert portal.stats.rejected_429 == 3
