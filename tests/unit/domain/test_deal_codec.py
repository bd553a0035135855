"""The deal as the engine saw it, as JSON and back (``b24_deals.engine_input``): exact round trip
through a real JSON text, for any deal; an unknown layout is refused."""

import json
from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kopilka.domain.deal import Contact, Deal, ProductRow
from kopilka.domain.deal_codec import decode, encode

ids = st.integers(min_value=1, max_value=2**53)
kopecks = st.integers(min_value=-(10**12), max_value=10**12)
text = st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
fields = st.dictionaries(st.from_regex(r"UF_CRM_[A-Z0-9_]{1,8}", fullmatch=True), json_values)
zones = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5))])
moments = st.datetimes(timezones=zones)

rows = st.builds(
    ProductRow,
    product_id=st.none() | ids,
    name=text,
    price=kopecks,
    quantity=st.integers(1, 1000),
    section_id=st.none() | ids,
    properties=st.dictionaries(
        st.from_regex(r"(CODE|PROPERTY_[A-Z0-9]{1,6})", fullmatch=True), json_values
    ),
)
contacts = st.builds(
    Contact,
    id=ids,
    type_id=st.none() | st.sampled_from(["CLIENT", "1", "PARTNER"]),
    fields=fields,
    birthdate=st.none() | st.dates(),
    share=st.none() | st.integers(0, 10_000),
    is_primary=st.booleans(),
)
deals = st.builds(
    Deal,
    id=ids,
    pipeline_id=st.integers(0, 50),
    stage=st.sampled_from(["process", "won", "lost"]),
    opportunity=kopecks,
    contacts=st.lists(contacts, max_size=4).map(tuple),
    company_id=st.none() | ids,
    rows=st.lists(rows, max_size=5).map(tuple),
    points_to_pay=st.integers(0, 10**9),
    closed_at=st.none() | moments,
    fields=fields,
)


@given(deals)
def test_a_deal_survives_json_exactly(deal: Deal) -> None:
    back = decode(json.loads(json.dumps(encode(deal))))
    assert back == deal
    if deal.closed_at is not None:  # the same moment in the same offset, not just equal
        assert back.closed_at is not None
        assert back.closed_at.utcoffset() == deal.closed_at.utcoffset()


def test_an_unknown_layout_is_refused() -> None:
    data = encode(Deal(1, 0, "won", 100, ()))
    with pytest.raises(ValueError, match="unknown engine_input layout 2"):
        decode(data | {"v": 2})
    with pytest.raises(ValueError, match="unknown deal stage 'open'"):
        decode(data | {"stage": "open"})
