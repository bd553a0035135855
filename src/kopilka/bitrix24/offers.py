"""Per-contact discounts and cashback on a deal, in a universal list (R-13, seed 004).

For a program with discounts, provisioning creates a universal list «Скидки и бонусы по
сделкам». For every contact of a deal Kopilka keeps one element (code ``kop_<deal>_<contact>``)
that lists what the contact may use on this deal — each discount with its percent and sum, the
cashback balance, or «не применяется» where the deal's pipeline forbids it — and what was
applied. The manager applies them in the same element: a percent per discount (up to the one
offered) and the points to pay. Kopilka reads the choices back with the deal (the manager's
edit itself raises no deal event; the sweep finds changed elements), and the applied total
becomes a discount on the deal's product rows; points a contact pays are held, and taken when
the deal is won, under a reference of their own (``deal:<id>:contact:<id>``).

The element is rewritten only when Kopilka's own text changes, carrying the manager's values
along (``lists.element.update`` clears what is not passed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24BadRequest
from kopilka.domain.effects import DiscountOffer
from kopilka.domain.explain import percent_text, rub
from kopilka.domain.money import percent_of
from kopilka.domain.texts import points as points_text
from kopilka.domain.texts import say
from kopilka.program.model import Program

IBLOCK_TYPE = "lists"
LIST_CODE = "KOPILKA_OFFERS"
PAGE = 50
DEALS_PER_READ = 20  # a page holds 50 elements: room for 2.5 contacts per deal

#: role -> (CODE, TYPE); titled offers.<role> in the program's locale (domain.texts)
BASE_FIELDS: dict[str, tuple[str, str]] = {
    "deal": ("KOP_DEAL", "N"),
    "contact": ("KOP_CONTACT", "N"),
    "offers": ("KOP_OFFERS", "S"),
    "points": ("KOP_POINTS", "N"),
    "applied": ("KOP_APPLIED", "S"),
}


def discount_code(discount_id: str) -> str:
    return "KOP_D_" + discount_id.upper().replace("-", "_")


@dataclass(frozen=True)
class Layout:
    """Where the list lives and which property holds what (stored in the field map)."""

    iblock_id: int
    fields: dict[str, str]  # role -> PROPERTY_<id>
    discounts: dict[str, str]  # discount id -> PROPERTY_<id>

    def as_json(self) -> dict[str, Any]:
        return {"iblock_id": self.iblock_id, "fields": self.fields, "discounts": self.discounts}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Layout | None:
        if not raw:
            return None
        return cls(int(raw["iblock_id"]), dict(raw["fields"]), dict(raw["discounts"]))


async def provision_list(client: Bitrix24Client, program: Program) -> Layout | None:
    """Create the list and its fields if missing (idempotent: found by their codes)."""
    if not program.discounts:
        return None
    locale = program.locale
    where = {"IBLOCK_TYPE_ID": IBLOCK_TYPE, "IBLOCK_CODE": LIST_CODE}
    try:
        found = await client.call("lists.get", where)
    except B24BadRequest as exc:
        if exc.b24_error != "ERROR_IBLOCK_NOT_FOUND":
            raise
        found = None
    if found:
        iblock_id = int(found[0]["ID"])
    else:
        iblock_id = int(
            await client.call(
                "lists.add",
                {**where, "FIELDS": {"NAME": say(locale, "offers.list"), "SORT": 500}},
                write=True,
            )
        )
    existing = await client.call("lists.field.get", where)
    by_code = {
        str(f.get("CODE")): str(key)
        for key, f in (existing or {}).items()
        if isinstance(f, Mapping) and f.get("CODE")
    }
    wanted = {role: (*spec, say(locale, f"offers.{role}")) for role, spec in BASE_FIELDS.items()}
    for discount in program.discounts:
        wanted[f"discount:{discount.id}"] = (
            discount_code(discount.id),
            "N",
            say(locale, "offers.discount", title=discount.title),
        )
    layout_fields: dict[str, str] = {}
    for sort, (role, (code, kind, title)) in enumerate(wanted.items(), start=1):
        if code not in by_code:
            by_code[code] = str(
                await client.call(
                    "lists.field.add",
                    {
                        **where,
                        "FIELDS": {"NAME": title, "TYPE": kind, "CODE": code, "SORT": sort * 10},
                    },
                    write=True,
                )
            )
        layout_fields[role] = by_code[code]
    discounts = {
        role.removeprefix("discount:"): prop
        for role, prop in layout_fields.items()
        if role.startswith("discount:")
    }
    base = {role: prop for role, prop in layout_fields.items() if role in BASE_FIELDS}
    return Layout(iblock_id, base, discounts)


@dataclass
class Element:
    """One contact's element as the portal shows it now."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)  # PROPERTY_<id> -> plain value

    def number(self, prop: str) -> Decimal:
        raw = self.values.get(prop)
        try:
            return (
                max(Decimal(str(raw).replace(",", ".").strip()), Decimal(0)) if raw else Decimal(0)
            )
        except InvalidOperation:
            return Decimal(0)


def element_code(deal_id: int, contact_id: int) -> str:
    return f"kop_{deal_id}_{contact_id}"


def inputs_digest(layout: Layout, elements: Mapping[str, Element], deal_id: int) -> str:
    """What the manager asked for in the deal's elements (the percents and the points, not
    Kopilka's own texts), as one comparable string: equal before and after Kopilka rewrites an
    element, different once the manager changes a number. An empty element asks nothing."""
    prefix = f"kop_{deal_id}_"
    inputs = sorted({*layout.discounts.values(), layout.fields["points"]})
    asked = []
    for code in sorted(c for c in elements if c.startswith(prefix)):
        numbers = [f"{p}={elements[code].number(p).normalize()}" for p in inputs]
        if any(not n.endswith("=0") for n in numbers):
            asked.append(code + ":" + ",".join(numbers))
    return ";".join(asked)


def _plain(raw: Any) -> Any:
    """List property values come keyed by value ID: ``{"1001": "5"}`` → ``"5"``."""
    if isinstance(raw, Mapping):
        values = list(raw.values())
        return values[0] if values else None
    return raw


async def read_elements(
    client: Bitrix24Client, layout: Layout, deal_ids: Sequence[int]
) -> dict[str, Element]:
    """The elements of these deals, by code: one filtered list command per 20 deals, in
    batches; a command that fills its page is continued."""
    deal_prop = layout.fields["deal"]
    ids = sorted(set(deal_ids))
    groups = [ids[i : i + DEALS_PER_READ] for i in range(0, len(ids), DEALS_PER_READ)]

    def command(group: Sequence[int], start: int) -> tuple[str, Mapping[str, Any]]:
        return (
            "lists.element.get",
            {
                "IBLOCK_TYPE_ID": IBLOCK_TYPE,
                "IBLOCK_ID": layout.iblock_id,
                "FILTER": {deal_prop: list(group)},
                "ELEMENT_ORDER": {"ID": "asc"},
                "start": start,
            },
        )

    out: dict[str, Element] = {}
    pending = {f"e{n}": (group, 0) for n, group in enumerate(groups)}
    while pending:
        results = await client.batch_many(
            {key: command(group, start) for key, (group, start) in pending.items()}
        )
        more: dict[str, tuple[list[int], int]] = {}
        for key, page in results.items():
            for row in page or []:
                out[str(row.get("CODE"))] = Element(
                    str(row.get("CODE")),
                    {k: _plain(v) for k, v in row.items() if k.startswith("PROPERTY_")},
                )
            if len(page or []) >= PAGE:
                group, start = pending[key]
                more[key] = (group, start + PAGE)
        pending = more
    return out


async def changed_deals(client: Bitrix24Client, layout: Layout, since: str) -> set[int]:
    """Deals whose elements were edited since ``since`` (the sweep's catch for the manager's
    choices, which raise no deal event)."""
    deal_prop = layout.fields["deal"]
    found: set[int] = set()
    async for row in _pages(client, layout, {">=TIMESTAMP_X": since}, [deal_prop]):
        try:
            found.add(int(str(_plain(row.get(deal_prop)))))
        except ValueError:
            continue
    return found


async def _pages(
    client: Bitrix24Client, layout: Layout, flt: Mapping[str, Any], select: list[str]
) -> Any:
    start = 0
    while True:
        page = await client.call(
            "lists.element.get",
            {
                "IBLOCK_TYPE_ID": IBLOCK_TYPE,
                "IBLOCK_ID": layout.iblock_id,
                "FILTER": dict(flt),
                "SELECT": select,
                "ELEMENT_ORDER": {"ID": "asc"},
                "start": start,
            },
        )
        for row in page or []:
            yield row
        if len(page or []) < PAGE:
            return
        start += PAGE


@dataclass(frozen=True)
class Applied:
    """What the manager applied for one contact, as far as the program allows it."""

    contact_id: int
    discount: int  # kopecks of percent discounts
    points_requested: int  # kopecks of points asked for (the ledger caps them)
    lines: tuple[str, ...]


def applied_for(
    offers: Sequence[DiscountOffer],
    element: Element | None,
    layout: Layout,
    share: int,
    locale: str = "ru",
) -> Applied | None:
    """Read one contact's choices against its offers. ``share``: the contact's part of the
    order (kopecks), the base of a percent discount."""
    if element is None or not offers:
        return None
    contact_id = offers[0].contact_id
    discount = 0
    lines: list[str] = []
    for offer in offers:
        if offer.discount_id == "points":
            continue
        prop = layout.discounts.get(offer.discount_id)
        asked = element.number(prop) if prop else Decimal(0)
        if asked <= 0:
            continue
        if not offer.applicable or offer.percent is None:
            lines.append(f"{offer.title}: {_note(offer, locale)}")
            continue
        percent = min(asked, offer.percent)
        amount = percent_of(share, percent, rounding="down", step=1)
        discount += amount
        lines.append(f"{offer.title}: {percent_text(percent, locale=locale)} — {rub(amount)}")
    points = next((o for o in offers if o.discount_id == "points"), None)
    asked_points = int(element.number(layout.fields["points"]) * 100)
    requested = 0
    if asked_points > 0 and points is not None:
        if points.applicable:
            requested = asked_points
        else:
            lines.append(f"{points.title}: {_note(points, locale)}")
    return Applied(contact_id, discount, requested, tuple(lines))


def _note(offer: DiscountOffer, locale: str) -> str:
    return offer.note_en if locale == "en" else offer.note_ru


def offers_text(offers: Sequence[DiscountOffer], locale: str = "ru") -> str:
    return "\n".join(f"{o.title}: {_note(o, locale)}" for o in offers)


def applied_text(applied: Applied | None, points_taken: int, locale: str = "ru") -> str:
    lines = list(applied.lines if applied else ())
    if points_taken:
        lines.append(say(locale, "offers.paid", points=points_text(locale, points_taken)))
    return "\n".join(lines) or say(locale, "offers.nothing")


def element_write(
    layout: Layout,
    deal_id: int,
    contact_id: int,
    name: str,
    current: Element | None,
    offers: str,
    applied: str,
    locale: str = "ru",
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The params of the write that brings the element up to date, or None when it is.
    ``inputs``: the numbers the element must show instead of its own (what was chosen on the
    deal's tab, :mod:`kopilka.bitrix24.deal_choices`)."""
    props = layout.fields
    if (
        current is not None
        and not inputs
        and str(current.values.get(props["offers"]) or "") == offers
        and str(current.values.get(props["applied"]) or "") == applied
    ):
        return None
    fields: dict[str, Any] = {
        "NAME": say(locale, "offers.element", deal=deal_id, name=name).strip(),
        props["deal"]: deal_id,
        props["contact"]: contact_id,
        props["offers"]: offers,
        props["applied"]: applied,
    }
    if current is not None:  # the manager's values, carried along
        for prop in (props["points"], *layout.discounts.values()):
            if current.values.get(prop) not in (None, ""):
                fields[prop] = current.values[prop]
    fields.update(inputs or {})
    return {
        "IBLOCK_TYPE_ID": IBLOCK_TYPE,
        "IBLOCK_ID": layout.iblock_id,
        "ELEMENT_CODE": element_code(deal_id, contact_id),
        "FIELDS": fields,
    }
