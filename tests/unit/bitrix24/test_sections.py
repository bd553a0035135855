"""Which named section a product in a portal's subsection counts as (seed 001)."""

from __future__ import annotations

from kopilka.bitrix24.sections import counted_section

#: 12 «Ремонт» > 20 «Тормоза» > 21 «Диски»; 14 «Расходники» > 30; 40 and 41 a broken loop
PARENTS = {12: None, 20: 12, 21: 20, 14: None, 30: 14, 40: 41, 41: 40}


def test_the_nearest_named_ancestor_or_the_section_itself() -> None:
    named = frozenset({12, 14})
    assert counted_section(21, PARENTS, named) == 12
    assert counted_section(30, PARENTS, named) == 14
    assert counted_section(12, PARENTS, named) == 12
    # the most specific named section wins: «Диски» named itself is not «Ремонт»
    assert counted_section(21, PARENTS, frozenset({12, 21})) == 21
    assert counted_section(21, PARENTS, frozenset({12, 20})) == 20


def test_unnamed_unknown_and_looping_sections_stay_as_they_are() -> None:
    named = frozenset({12, 14})
    assert counted_section(40, PARENTS, named) == 40  # a loop ends the walk
    assert counted_section(99, PARENTS, named) == 99
    assert counted_section(None, PARENTS, named) is None
