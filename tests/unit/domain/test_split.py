"""Splitting a deal between its contacts: equal, primary, by a share field — exact to the kopeck."""

from hypothesis import given
from hypothesis import strategies as st

from kopilka.domain.deal import Contact
from kopilka.domain.split import split_total
from kopilka.program.policies import Split

A, B, C = Contact(1), Contact(2, is_primary=True), Contact(3)


def test_equal_gives_the_remainder_to_the_primary_contact() -> None:
    assert split_total(Split(mode="equal"), (A, B, C), 100) == {2: 34, 1: 33, 3: 33}


def test_equal_without_primary_gives_it_to_the_first() -> None:
    assert split_total(Split(mode="equal"), (Contact(5), Contact(6)), 30_000_001) == {
        5: 15_000_001,
        6: 15_000_000,
    }


def test_primary_takes_all() -> None:
    assert split_total(Split(mode="primary"), (A, B), 500) == {2: 500, 1: 0}


def test_share_field_uses_weights() -> None:
    split = Split(mode="share_field", field="UF_CRM_SHARE")
    contacts = (
        Contact(1, fields={"UF_CRM_SHARE": "1"}),
        Contact(2, share=2, is_primary=True),
        Contact(3, fields={"UF_CRM_SHARE": "0"}),
    )
    assert split_total(split, contacts, 1_000) == {2: 667, 1: 333, 3: 0}


def test_share_field_without_weights_falls_back_to_equal() -> None:
    split = Split(mode="share_field", field="UF_CRM_SHARE")
    assert split_total(split, (A, C), 101) == {1: 51, 3: 50}


def test_no_contacts() -> None:
    assert split_total(Split(), (), 100) == {}


@given(total=st.integers(0, 10**12), weights=st.lists(st.integers(0, 1000), min_size=1, max_size=6))
def test_shares_always_sum_to_the_whole(total: int, weights: list[int]) -> None:
    contacts = tuple(Contact(i, share=w) for i, w in enumerate(weights))
    for mode in ("equal", "primary", "share_field"):
        split = Split(mode=mode, field="UF_CRM_SHARE")  # type: ignore[arg-type]
        shares = split_total(split, contacts, total)
        assert sum(shares.values()) == total
        assert min(shares.values()) >= 0
