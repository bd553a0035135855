"""The program file's ``mailing`` block (issue 18, item 6): segments for mailings read, and
their mistakes reported with the line, as every other rule's."""

import pytest

from kopilka.program import ProgramFileError, parse_program

HEAD = (
    "program: demo\ntitle: Демо\n"
    "segments:\n  wholesale: {title: опт, when: {contact_type: ['1']}}\n"
    "levels:\n  basis: won_deals\n  tiers:\n    - {id: base, title: B, from: 0, percent: 3}\n"
)


def problems(text: str) -> list[str]:
    with pytest.raises(ProgramFileError) as caught:
        parse_program(text, "x.yaml")
    return str(caught.value).splitlines()


def test_a_mailing_segment_is_read() -> None:
    program = parse_program(
        HEAD
        + "mailing:\n  segments:\n    offer:\n      title: Оптовикам\n"
        + "      segments: [wholesale]\n      levels: [base]\n      balance: {min: 100}\n"
        + "      last_purchase: {older_than_days: 180}\n      expiring_within_days: 30\n"
        + "      channel: email\n      unisender_list: 7\n      daily: true\n",
        "x.yaml",
    )
    offer = program.mailing.segments["offer"]
    assert (offer.segments, offer.levels, offer.unisender_list, offer.daily) == (
        ["wholesale"],
        ["base"],
        7,
        True,
    )
    assert offer.last_purchase is not None
    assert offer.last_purchase.older_than_days == 180


def test_unknown_segments_and_levels_are_named_with_their_line() -> None:
    text = HEAD + "mailing:\n  segments:\n    offer:\n      title: T\n"
    text += "      segments: [wholesal]\n      levels: [gold]\n"
    assert problems(text) == [
        "x.yaml:13: mailing.segments.offer.segments[0]: unknown segment 'wholesal' — "
        "known: wholesale",
        "x.yaml:14: mailing.segments.offer.levels[0]: unknown level 'gold' — known: base",
    ]


def test_a_daily_export_needs_a_list_and_a_purchase_rule_one_kind() -> None:
    base = HEAD + "mailing:\n  segments:\n    offer:\n      title: T\n"
    (daily,) = problems(base + "      daily: true\n")
    assert daily.startswith("x.yaml:11: mailing.segments.offer: ")
    assert daily.endswith("daily: true needs unisender_list (where the daily export goes)")
    (purchase,) = problems(base + "      last_purchase: {within_days: 30, never: true}\n")
    assert purchase == (
        "x.yaml:13: mailing.segments.offer.last_purchase: "
        "give one of within_days, older_than_days, never: true"
    )
