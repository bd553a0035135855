"""Which version of a program is in force at a moment: a pure function of the activations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kopilka.lifecycle.schemas import Activation, in_force, scheduled

T = datetime(2026, 6, 1, tzinfo=UTC)


def act(n: int, hours: int, hash_: str | None = None) -> Activation:
    return Activation(n, 1, "shop", hash_ or f"v{n}", T + timedelta(hours=hours), T, "cli")


def test_the_newest_started_activation_is_in_force() -> None:
    history = [act(1, 0), act(2, 10), act(3, 100)]
    assert in_force(history, T + timedelta(hours=5)) == history[0]
    assert in_force(history, T + timedelta(hours=10)) == history[1]  # from its moment on
    assert in_force(history, T + timedelta(hours=99)) == history[1]  # the third is scheduled
    assert scheduled(history, T + timedelta(hours=99)) == [history[2]]
    assert in_force(history, T + timedelta(hours=100)) == history[2]


def test_before_every_activation_the_first_version_is_in_force() -> None:
    history = [act(1, 0), act(2, 10)]
    assert in_force(history, T - timedelta(days=365)) == history[0]
    assert in_force([], T) is None


def test_at_one_moment_the_one_applied_last_wins() -> None:
    history = [act(1, 0), act(2, 10, "a"), act(3, 10, "b")]
    assert in_force(history, T + timedelta(hours=10)).hash == "b"  # type: ignore[union-attr]


@given(st.lists(st.integers(-50, 50), min_size=1, max_size=8), st.integers(-60, 60))
def test_in_force_is_started_or_first(offsets: list[int], at_hours: int) -> None:
    history = [act(i + 1, h) for i, h in enumerate(offsets)]
    at = T + timedelta(hours=at_hours)
    chosen = in_force(history, at)
    assert chosen is not None
    started = [a for a in history if a.active_from <= at]
    if started:
        assert chosen.active_from <= at
        assert all((a.active_from, a.id) <= (chosen.active_from, chosen.id) for a in started)
    else:
        assert chosen.active_from == min(a.active_from for a in history)
