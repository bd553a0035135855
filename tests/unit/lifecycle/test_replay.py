"""The what-if replay, pure: deals are judged in close order (not by id), by their contacts'
histories as of their close under the replayed program, and a deal that cannot be replayed still
counts in the histories with the shares recorded for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kopilka.domain.deal import Contact, Deal, ProductRow
from kopilka.lifecycle.replay import Recorded, replay
from kopilka.program.loader import load_program

CAR = load_program(Path(__file__).parents[3] / "examples" / "car-service.yaml")
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY = datetime(2026, 1, 10, 12, tzinfo=UTC)


def repair(deal_id: int, contact: int, closed: datetime, roubles: int = 10_000) -> Recorded:
    deal = Deal(
        deal_id,
        0,
        "won",
        roubles * 100,
        (Contact(contact, "CLIENT", is_primary=True),),
        rows=(ProductRow(1, "Ремонт", roubles * 100, section_id=12),),
        closed_at=closed,
    )
    return Recorded(deal_id, closed, deal)


def test_deals_are_judged_in_close_order_by_the_history_before_them() -> None:
    # car-service: silver 3 % from the 1st won deal, gold 5 % from the 3rd (the deal counts)
    late_ids = [repair(30 - n, 7, DAY + timedelta(days=n)) for n in range(4)]
    done, standing = replay(CAR, late_ids, NOW)
    by_id = {r.deal.id: r.earned()[7] for r in done}
    # deal 30 closed first (3 %), 29 second (3 %), 28 third and 27 fourth (5 %)
    assert by_id == {30: 300_00, 29: 300_00, 28: 500_00, 27: 500_00}
    assert [r.deal.id for r in done] == [30, 29, 28, 27]
    assert done[2].histories[7].won_deals == 2  # as of its close: the two before it
    level = standing.level(7)
    assert level is not None
    assert level.level_id == "gold"


def test_a_deal_without_engine_input_still_counts_in_the_histories() -> None:
    blind = Recorded(1, DAY, None, shares=((7, 0, 10_000_00),))
    other = Recorded(2, DAY + timedelta(days=1), None, shares=((7, 0, 5_000_00),))
    done, _ = replay(CAR, [repair(3, 7, DAY + timedelta(days=2)), other, blind], NOW)
    assert [r.deal.id for r in done] == [3]
    assert done[0].histories[7].won_deals == 2
    assert done[0].earned() == {7: 500_00}  # the third deal: gold, 5 %
