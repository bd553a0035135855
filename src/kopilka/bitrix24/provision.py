"""Provisioning a portal: create the user fields the program maps, and (app mode) bind events.

Idempotent: existing fields are found by name and left as they are (an integrator may have
renamed their labels); only missing ones are created, in one batch. Events already bound to our
handler are not bound twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kopilka.b24app.bindings import bind_placements
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.errors import B24InsufficientScope
from kopilka.bitrix24.offers import provision_list
from kopilka.bitrix24.offline.bindings import apply_bindings
from kopilka.bitrix24.products import needs_catalog
from kopilka.bitrix24.sections import SECTION_EVENTS
from kopilka.domain.texts import TEXTS, say
from kopilka.program.model import Program
from kopilka.robots.registration import register_robots

#: user field type per mapped role; titled field.<role> in the program's locale (domain.texts)
CONTACT_FIELDS: dict[str, str] = {
    "balance": "double",
    "level": "string",
    "percent": "double",
    "won_deals": "integer",
    "card_number": "string",
    "birthday_flag": "boolean",
    "purchases_total": "double",
    "pending": "double",
    "expiring_soon": "string",
}
DEAL_FIELDS: dict[str, str] = {
    "pay_with_points": "double",
    "points_paid": "double",
    "points_earned": "double",
    "balance": "double",
    "max_payable": "double",
}
DEAL_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")
PRODUCT_EVENTS = ("ONCRMPRODUCTUPDATE", "ONCRMPRODUCTDELETE")  # the catalog cache goes stale
#: bonus cards (kopilka.cards.service); a contact's type or fields changed: its open deals
#: are judged again (segments, offers)
CONTACT_EVENTS = ("ONCRMCONTACTADD", "ONCRMCONTACTUPDATE")


def events_for(program: Program) -> tuple[str, ...]:
    """The portal events the program needs: deals always; products when it looks at the
    catalog; contacts when it issues bonus cards or judges a deal by its contacts (segments,
    per-contact offers). Each event costs the portal and Kopilka a request (and Kopilka's own
    contact writes come back as contact events), so none is asked for in vain."""
    events: tuple[str, ...] = DEAL_EVENTS
    if needs_catalog(program)[0]:
        events += PRODUCT_EVENTS
    if program.eligible_sections is not None:
        events += SECTION_EVENTS
    if program.cards is not None or program.segments or program.discounts:
        events += CONTACT_EVENTS
    return events


async def _existing_fields(
    client: Bitrix24Client, wanted: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the fields the portal has, asked by name (``FIELD_NAME`` is an exact filter of
    ``crm.*.userfield.list``): a portal with more fields than a 50-row page is answered right,
    in one request per 50 fields."""
    asked = {f"{entity}_{name}": (entity, name) for entity, name in sorted(wanted)}
    results = await client.batch_many(
        {
            key: (f"crm.{entity}.userfield.list", {"filter": {"FIELD_NAME": name}})
            for key, (entity, name) in asked.items()
        }
    )
    return {asked[key] for key, rows in results.items() if rows}


@dataclass
class Provisioned:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    events_bound: list[str] = field(default_factory=list)
    placements_bound: list[str] = field(default_factory=list)  # app mode only
    robots_registered: list[str] = field(default_factory=list)  # app mode only
    missing_scopes: list[str] = field(default_factory=list)  # the app lacks them: not bound
    field_map: dict[str, Any] = field(default_factory=dict)


def wanted_fields(
    program: Program, now: datetime | None = None
) -> list[tuple[str, str, str, tuple[str, str]]]:
    """(entity, role, FIELD_NAME, spec) for every field the program maps: the contact and
    deal fields, the deal fields the data transfer fills, and the yearly totals of the covered
    years and the next one (so that 1 January needs no provisioning). Each spec is (type,
    title): Kopilka's own titles in the program's locale, the program's titles as written."""
    locale = program.locale
    out = []
    dates = {rule.year_of for rule in program.transfer.totals if rule.year_of}
    for copy in program.transfer.product_to_deal:
        if copy.to.startswith("UF_CRM_"):
            title = copy.title or copy.to.removeprefix("UF_CRM_").replace("_", " ").capitalize()
            kind = "date" if copy.to in dates else "string"  # totals go by its year
            out.append(("deal", f"transfer_{copy.to}", copy.to, (kind, title)))
    for discount in program.discounts:
        if discount.field:
            title = say(locale, "field.discount", title=discount.title)
            out.append(("contact", f"discount_{discount.id}", discount.field, ("double", title)))
    year = (now or datetime.now(UTC)).astimezone(program.tz).year
    for rule in program.transfer.totals:
        for y in range(year - rule.years_back, year + 2):
            code, title = rule.field.format(year=y), rule.title.format(year=y)
            out.append(("contact", f"total_{code}", code, ("double", title)))
    for entity, mapped, specs in (
        ("contact", program.fields.contact.model_dump(), CONTACT_FIELDS),
        ("deal", program.fields.deal.model_dump(), DEAL_FIELDS),
    ):
        for role, name in mapped.items():
            if name and role in specs:
                key = f"field.{entity}.{role}"  # a deal's balance is not the contact's
                title = say(locale, key if key in TEXTS else f"field.{role}")
                out.append((entity, role, str(name), (specs[role], title)))
    return out


def _definition(name: str, spec: tuple[str, str]) -> dict[str, Any]:
    """The field, titled alike in every language the portal may show: managers read the
    program's language whatever their interface's."""
    kind, title = spec
    labels = {"ru": title, "en": title}
    return {
        "FIELD_NAME": name.removeprefix("UF_CRM_"),
        "USER_TYPE_ID": kind,
        "XML_ID": f"KOPILKA_{name.removeprefix('UF_CRM_')}",
        "EDIT_FORM_LABEL": labels,
        "LIST_COLUMN_LABEL": labels,
        "LIST_FILTER_LABEL": labels,
        "SHOW_IN_LIST": "Y",
        "EDIT_IN_LIST": "Y",
    }


async def provision(
    client: Bitrix24Client,
    connection: Connection,
    program: Program,
    handler_url: str,
    *,
    now: datetime | None = None,
    offline: bool = False,
) -> Provisioned:
    """``offline``: the portal's events go to its offline queue (``kopilka.bitrix24.offline``;
    the delivery stored for the portal, ``offline.queries.delivery_of``)."""
    done = Provisioned()
    wanted = list(wanted_fields(program, now))
    existing = await _existing_fields(client, {(entity, name) for entity, _, name, _ in wanted})
    adds: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for entity, role, name, spec in wanted:
        done.field_map.setdefault(entity, {})[role] = name
        if (entity, name) in existing:
            done.existing.append(name)
            continue
        adds[f"{entity}_{role}"] = (
            f"crm.{entity}.userfield.add",
            {"fields": _definition(name, spec)},
        )
        done.created.append(name)
    if adds:
        await client.batch(adds, write=True)
    layout = await provision_list(client, program)
    if layout is not None:
        done.field_map["offers_list"] = layout.as_json()
    if connection.mode == "app":  # online to handler_url, or to the portal's offline queue
        made = await apply_bindings(
            client, events_for(program), handler_url, offline=offline, unbind=False
        )
        done.events_bound = sorted(name.split("_", 1)[1] for name in made)
        base = handler_url.removesuffix("/b24/events")
        try:  # an app without the scope still syncs: what is missing is reported
            done.placements_bound = await bind_placements(client, base)
        except B24InsufficientScope:
            done.missing_scopes.append("placement")
        try:
            done.robots_registered = await register_robots(client, base + "/b24/robot")
        except B24InsufficientScope:
            done.missing_scopes.append("bizproc")
    return done
