"""The tab's choice and the offers list's element for one contact: the latest edit wins, and the
element is told the chosen numbers (kopilka.bitrix24.deal_choices.reconcile, pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kopilka.bitrix24.deal_choices import BY_LIST, Choice, reconcile
from kopilka.bitrix24.offers import Element, Layout

LAYOUT = Layout(
    7,
    {"deal": "P1", "contact": "P2", "offers": "P3", "points": "P4", "applied": "P5"},
    {"birthday": "P6"},
)
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
CODE = "kop_5_1"


def tab(points: int, seen: str | None = None, birthday: str = "0") -> Choice:
    discounts = {"birthday": Decimal(birthday)} if birthday != "0" else {}
    return Choice(1, discounts, points, "b24:user:2 Мария", NOW, "k" * 20, seen)


def listed(points: str, birthday: str = "0") -> Element:
    return Element(CODE, {"P3": "offers text", "P4": points, "P6": birthday})


def test_a_new_choice_is_read_over_the_element_and_written_into_it() -> None:
    out = reconcile(LAYOUT, CODE, 1, listed("0"), tab(500_00), NOW)
    assert out.element is not None
    assert out.element.number("P4") == Decimal(500)
    assert out.element.values["P3"] == "offers text"  # Kopilka's own texts kept
    assert out.inputs == {"P4": "500", "P6": "0"}  # the element is told the choice
    assert out.row is not None
    assert out.row.list_inputs == "P4=0,P6=0"


def test_once_the_element_shows_the_choice_nothing_more_is_written() -> None:
    out = reconcile(LAYOUT, CODE, 1, listed("500"), tab(500_00, "P4=0,P6=0"), NOW)
    assert out.inputs is None
    assert out.row is not None
    assert out.row.list_inputs == "P4=500,P6=0"
    steady = reconcile(LAYOUT, CODE, 1, listed("500"), tab(500_00, "P4=500,P6=0"), NOW)
    assert steady.inputs is None
    assert steady.row is None


def test_the_element_written_before_the_choice_reached_it_does_not_undo_the_choice() -> None:
    out = reconcile(LAYOUT, CODE, 1, listed("0"), tab(500_00, "P4=0,P6=0"), NOW)
    assert out.element is not None
    assert out.element.number("P4") == Decimal(500)
    assert out.inputs == {"P4": "500", "P6": "0"}


def test_an_edit_in_the_list_after_the_choice_wins() -> None:
    out = reconcile(LAYOUT, CODE, 1, listed("300", "10"), tab(500_00, "P4=500,P6=0"), NOW)
    assert out.element is not None
    assert out.element.number("P4") == Decimal(300)
    assert out.inputs is None
    assert out.row is not None
    assert out.row.set_by == BY_LIST
    assert (out.row.points, out.row.discounts) == (300_00, {"birthday": Decimal(10)})
    assert out.row.list_inputs == "P4=300,P6=10"


def test_an_element_asking_nothing_and_no_choice_leave_no_row() -> None:
    assert reconcile(LAYOUT, CODE, 1, listed("0"), None, NOW).row is None
    assert reconcile(LAYOUT, CODE, 1, None, None, NOW).row is None
    asked = reconcile(LAYOUT, CODE, 1, listed("200"), None, NOW)
    assert asked.row is not None
    assert asked.row.set_by == BY_LIST
    assert asked.row.points == 200_00
