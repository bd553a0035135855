"""Which event.bind / event.unbind calls a delivery needs, from what event.get says (§6.7)."""

from __future__ import annotations

from kopilka.bitrix24.offline.bindings import binding_calls

H = "https://kopilka.example.ru/b24/events"
EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE")


def online(event: str, handler: str = H) -> dict[str, object]:
    return {"event": event, "handler": handler, "auth_type": "0", "offline": 0}


def offline(event: str) -> dict[str, object]:
    return {"event": event, "handler": "", "auth_type": "0", "offline": 1}


def test_going_offline_binds_the_queue_and_the_signal_then_unbinds_the_handler() -> None:
    bound = [online("ONCRMDEALADD"), online("ONCRMDEALUPDATE"), online("ONAPPUNINSTALL")]
    binds, unbinds = binding_calls(bound, EVENTS, H, offline=True, signal_seconds=7)
    assert binds == {
        "offline_ONCRMDEALADD": ("event.bind", {"event": "ONCRMDEALADD", "event_type": "offline"}),
        "offline_ONCRMDEALUPDATE": (
            "event.bind",
            {"event": "ONCRMDEALUPDATE", "event_type": "offline"},
        ),
        "online_ONOFFLINEEVENT": (
            "event.bind",
            {"event": "ONOFFLINEEVENT", "handler": H, "options": {"minTimeout": 7}},
        ),
    }
    assert unbinds == {
        "online_ONCRMDEALADD": ("event.unbind", {"event": "ONCRMDEALADD", "handler": H}),
        "online_ONCRMDEALUPDATE": ("event.unbind", {"event": "ONCRMDEALUPDATE", "handler": H}),
    }


def test_going_online_is_the_reverse_and_keeps_other_handlers() -> None:
    bound = [
        offline("ONCRMDEALADD"),
        online("ONCRMDEALUPDATE", "https://other.example.ru/hook"),
        online("ONOFFLINEEVENT"),
        online("ONAPPUNINSTALL"),
    ]
    binds, unbinds = binding_calls(bound, EVENTS, H, offline=False)
    assert sorted(binds) == ["online_ONCRMDEALADD", "online_ONCRMDEALUPDATE"]
    assert unbinds == {
        "offline_ONCRMDEALADD": (
            "event.unbind",
            {"event": "ONCRMDEALADD", "event_type": "offline"},
        ),
        "online_ONOFFLINEEVENT": ("event.unbind", {"event": "ONOFFLINEEVENT", "handler": H}),
    }


def test_nothing_to_do_when_bound_and_provisioning_only_adds() -> None:
    bound = [offline("ONCRMDEALADD"), online("ONAPPUNINSTALL"), online("ONOFFLINEEVENT")]
    assert binding_calls(bound, ["ONCRMDEALADD"], H, offline=True) == ({}, {})
    binds, unbinds = binding_calls(bound, ["ONCRMDEALADD"], H, offline=False, unbind=False)
    assert list(binds) == ["online_ONCRMDEALADD"]
    assert unbinds == {}
