"""What the legacy ``crm.deal/contact/company.*`` methods share: value conversion, select, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from b24emu import userfields
from b24emu.errors import legacy
from b24emu.listing import legacy_page, matches, order_rows, parse_filter
from b24emu.params import as_list, get_ci
from b24emu.registry import Call, Page
from b24emu.schema import (
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    DATE_TYPES,
    DEAL_FIELDS,
    MULTIFIELDS,
    NUMERIC_TYPES,
    FieldDef,
    by_name,
)
from b24emu.wire import (
    fmt_date,
    fmt_datetime,
    money,
    number,
    parse_date,
    parse_datetime,
    to_int,
    yn,
)

if TYPE_CHECKING:
    from b24emu.portal import Portal

MONEY_FIELDS = frozenset({"OPPORTUNITY", "TAX_VALUE", "PRICE"})
_SKIP = object()


@dataclass(frozen=True)
class Kind:
    name: str  # DEAL | CONTACT | COMPANY
    uf_entity: str
    fields: tuple[FieldDef, ...]
    collection: str
    entity_type_id: int

    @property
    def by_name(self) -> dict[str, FieldDef]:
        return by_name(list(self.fields))

    def records(self, portal: Portal) -> dict[int, dict[str, Any]]:
        result: dict[int, dict[str, Any]] = getattr(portal, self.collection)
        return result

    @property
    def event_prefix(self) -> str:
        return f"ONCRM{self.name}"


DEAL = Kind("DEAL", "CRM_DEAL", tuple(DEAL_FIELDS), "deals", 2)
CONTACT = Kind("CONTACT", "CRM_CONTACT", tuple(CONTACT_FIELDS), "contacts", 3)
COMPANY = Kind("COMPANY", "CRM_COMPANY", tuple(COMPANY_FIELDS), "companies", 4)


def convert(portal: Portal, fd: FieldDef, value: Any) -> Any:
    """Internalise one standard field; returns ``_SKIP`` for values the portal drops silently."""
    kind = fd.type
    if kind in ("file", "crm_multifield", "location"):
        return _SKIP
    if kind == "char":
        return yn(value)
    if value is None or value == "" or value is False:
        return "" if kind in DATE_TYPES else None
    if isinstance(value, (dict, list)):
        return _SKIP
    if kind == "double":
        return money(value) if fd.name in MONEY_FIELDS else str(number(value))
    if kind in NUMERIC_TYPES:
        return str(to_int(value))
    if kind == "date":
        day = parse_date(value, portal.tz)
        return fmt_date(day, portal.tz) if day else _SKIP
    if kind == "datetime":
        moment = parse_datetime(value, portal.tz)
        return fmt_datetime(moment, portal.tz) if moment else _SKIP
    return str(value)


def internalize(
    portal: Portal, kind: Kind, fields: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    """Writable standard fields and UF values from ``fields``; the rest is ignored (§14.8)."""
    defs = kind.by_name
    ufs = userfields.by_name(portal, kind.uf_entity)
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        name = str(key).upper()
        if name in ufs:
            stored = userfields.internalize(portal, ufs[name], value)
            changes[name] = stored
            continue
        fd = defs.get(name)
        if fd is None or fd.ro or (fd.immutable and not creating) or fd.multiple:
            continue
        stored = convert(portal, fd, value)
        if stored is not _SKIP:
            changes[name] = stored
    return changes


def blank(portal: Portal, kind: Kind) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for fd in kind.fields:
        if not fd.readable or fd.type == "crm_multifield":
            continue
        record[fd.name] = "N" if fd.type == "char" else ("" if fd.type in DATE_TYPES else None)
    for defn in userfields.definitions(portal, kind.uf_entity):
        record[defn["FIELD_NAME"]] = userfields.empty_value(defn)
    return record


def require_id(params: dict[str, Any]) -> int:
    entity_id = to_int(get_ci(params, "id"), 0)
    if entity_id <= 0:
        raise legacy("ID is not defined or invalid.")
    return entity_id


def fields_param(params: dict[str, Any]) -> dict[str, Any]:
    fields = get_ci(params, "fields", "arFields")
    if not isinstance(fields, dict):
        raise legacy("Parameter 'fields' must be array.")
    return fields


def describe_fields(portal: Portal, kind: Kind) -> dict[str, Any]:
    result = {fd.name: fd.describe() for fd in kind.fields}
    for defn in userfields.definitions(portal, kind.uf_entity):
        result[defn["FIELD_NAME"]] = userfields.describe(portal, defn)
    return result


def resolver(portal: Portal, kind: Kind) -> Any:
    defs = kind.by_name
    ufs = userfields.by_name(portal, kind.uf_entity)

    def resolve(record: dict[str, Any], field: str) -> tuple[Any, str] | None:
        name = field.upper()
        if name in MULTIFIELDS:
            return [m["VALUE"] for m in record.get(name, [])], "str"
        if name in ufs:
            return record.get(name), userfields.filter_kind(ufs[name])
        fd = defs.get(name)
        if fd is None or not fd.readable:
            return None
        if fd.type in NUMERIC_TYPES:
            return record.get(name), "num"
        if fd.type in DATE_TYPES:
            return record.get(name), "date"
        return record.get(name), "str"

    return resolve


def selected(portal: Portal, kind: Kind, select: Any) -> list[str]:
    """Legacy select: default ``*`` + ``UF_*``; multifields and multiple UFs only when named."""
    names = [str(s).upper() for s in as_list(select) if str(s).strip()]
    ufs = userfields.definitions(portal, kind.uf_entity)
    standard = [fd.name for fd in kind.fields if fd.readable and fd.in_star]
    if not names:
        names = ["*", "UF_*"]
    result: list[str] = ["ID"]
    for name in names:
        if name == "*":
            result.extend(standard)
        elif name == "UF_*":
            result.extend(d["FIELD_NAME"] for d in ufs if d["MULTIPLE"] == "N")
        elif name in kind.by_name and kind.by_name[name].readable:
            result.append(name)
        elif any(d["FIELD_NAME"] == name for d in ufs):
            result.append(name)
    order = [fd.name for fd in kind.fields] + [d["FIELD_NAME"] for d in ufs]
    wanted = set(result)
    return [n for n in order if n in wanted]


def render(record: dict[str, Any], names: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in names:
        if name in MULTIFIELDS:
            if record.get(name):
                row[name] = [dict(m) for m in record[name]]
        elif name in record:
            value = record[name]
            row[name] = list(value) if isinstance(value, list) else value
    return row


def full(portal: Portal, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
    """``*.get``: every readable field, every UF; multifields only when non-empty."""
    names = [fd.name for fd in kind.fields if fd.readable]
    names += [d["FIELD_NAME"] for d in userfields.definitions(portal, kind.uf_entity)]
    return render(record, names)


def legacy_list(
    call: Call, kind: Kind, sort_override: Any = None, extra_resolve: Any = None
) -> Page:
    portal = call.portal
    raw_filter = get_ci(call.params, "filter")
    raw_order = get_ci(call.params, "order")
    if raw_filter is not None and not isinstance(raw_filter, (dict, list)):
        raise legacy("Parameter 'filter' must be array.")
    if raw_order is not None and not isinstance(raw_order, (dict, list)):
        raise legacy("Parameter 'order' must be array.")
    group = parse_filter(raw_filter if isinstance(raw_filter, dict) else {})
    base = resolver(portal, kind)

    def resolve(record: dict[str, Any], field: str) -> tuple[Any, str] | None:
        if extra_resolve is not None:
            found: tuple[Any, str] | None = extra_resolve(record, field)
            if found is not None:
                return found
        found_base: tuple[Any, str] | None = base(record, field)
        return found_base

    rows = [r for _, r in sorted(kind.records(portal).items())]
    rows = [r for r in rows if matches(r, group, resolve, portal.tz)]
    rows = order_rows(rows, raw_order, resolve, portal.tz, sort_override)
    page = legacy_page(rows, call.start)
    names = selected(portal, kind, get_ci(call.params, "select"))
    page.result = [render(r, names) for r in page.result]
    return page
