"""The portal's own pages as HTML: the layout, the index, CRM cards (fields, deal contacts,
product rows) and the app frame area. Plain server-rendered markup with stable ids."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

from b24emu.frames import FramePost

if TYPE_CHECKING:
    from b24emu.portal import Portal

STYLE = """
body{font-family:Arial,Helvetica,sans-serif;margin:0;background:#eef2f4;color:#333}
header#top{background:#2fc6f6;color:#fff;padding:10px 20px;display:flex;gap:20px}
header#top a{color:#fff}
main{padding:16px 20px}
.card{background:#fff;border-radius:8px;padding:16px;margin-bottom:12px}
nav#tabs{display:flex;gap:4px;margin-bottom:8px}
nav#tabs a{padding:8px 14px;background:#dfe6ea;border-radius:6px 6px 0 0;color:#333;
text-decoration:none}
nav#tabs a.active{background:#fff;font-weight:bold}
table{border-collapse:collapse}
th,td{text-align:left;padding:4px 10px;border-bottom:1px solid #e5e9eb;vertical-align:top}
iframe#app-frame{width:100%;height:600px;border:0;background:#fff}
.notice{padding:16px;background:#fff3cd;border-radius:8px}
"""


def layout(portal: Portal, title: str, body: str, user_id: int) -> str:
    user = portal.users.get(user_id, {})
    who = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".strip()
    return (
        f'<!doctype html><html lang="{escape(portal.lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body data-as="{user_id}"><header id="top"><a href="/portal/?as={user_id}">'
        f"Битрикс24 — {escape(portal.domain)}</a>"
        f'<span id="current-user" data-user-id="{user_id}">{escape(who)}</span></header>'
        f"<main>{body}</main></body></html>"
    )


def notice(text: str) -> str:
    return f'<div class="notice" id="notice">{escape(text)}</div>'


def contact_name(record: dict[str, Any]) -> str:
    parts = [record.get("NAME"), record.get("SECOND_NAME"), record.get("LAST_NAME")]
    name = " ".join(str(p) for p in parts if p)
    return name or f"Контакт #{record.get('ID')}"


def index(portal: Portal, user_id: int) -> str:
    q = f"?as={user_id}"
    contacts = "".join(
        f'<li><a class="contact-link" href="/portal/crm/contact/details/{cid}/{q}">'
        f"{escape(contact_name(rec))}</a></li>"
        for cid, rec in sorted(portal.contacts.items())
    )
    deals = "".join(
        f'<li><a class="deal-link" href="/portal/crm/deal/details/{did}/{q}">'
        f"{escape(str(rec.get('TITLE') or did))}</a></li>"
        for did, rec in sorted(portal.deals.items())
    )
    apps = "".join(
        f'<li><a class="app-link" href="/portal/apps/{escape(app.client_id)}/{q}">'
        f"{escape(app.client_id)}</a> {'установлено' if app.installed else 'не установлено'}"
        f"</li>"
        for app in portal.auth.apps.values()
        if app.app_url
    )
    users = "".join(
        f'<li><a class="user-link" href="/portal/?as={uid}">'
        f"{escape(str(u.get('NAME', '')))} {escape(str(u.get('LAST_NAME', '')))}</a>"
        f"{' (администратор)' if u.get('ADMIN') else ''}</li>"
        for uid, u in sorted(portal.users.items())
    )
    body = (
        f'<div class="card"><h2>Контакты</h2><ul id="contacts">{contacts}</ul></div>'
        f'<div class="card"><h2>Сделки</h2><ul id="deals">{deals}</ul></div>'
        f'<div class="card"><h2>Приложения</h2><ul id="apps">{apps}</ul></div>'
        f'<div class="card"><h2>Сотрудники</h2><ul id="users">{users}</ul></div>'
    )
    return layout(portal, "Битрикс24", body, user_id)


def _value(value: Any) -> str:
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and "VALUE" in value[0]:
            return ", ".join(str(v.get("VALUE", "")) for v in value)
        return ", ".join(str(v) for v in value)
    if value is None or value is False:
        return ""
    return str(value)


def _uf_label(portal: Portal, entity: str, name: str) -> str:
    for defn in portal.userfields.values():
        if defn["ENTITY_ID"] == entity and defn["FIELD_NAME"] == name:
            labels = defn.get("EDIT_FORM_LABEL") or {}
            label = labels.get(portal.lang) or next(iter(labels.values()), None)
            return str(label or name)
    return name


def fields_table(portal: Portal, entity: str, record: dict[str, Any], keys: list[str]) -> str:
    names = [*keys, *sorted(k for k in record if k.startswith("UF_CRM_"))]
    rows = "".join(
        f'<tr data-field="{escape(key)}">'
        f"<th>{escape(LABELS.get(key) or _uf_label(portal, entity, key))}</th>"
        f'<td class="value">{escape(_value(record.get(key)))}</td></tr>'
        for key in names
        if key in record
    )
    return f'<table id="fields">{rows}</table>'


LABELS = {
    "ID": "ID",
    "NAME": "Имя",
    "LAST_NAME": "Фамилия",
    "PHONE": "Телефон",
    "EMAIL": "E-mail",
    "TYPE_ID": "Тип",
    "BIRTHDATE": "Дата рождения",
    "TITLE": "Название",
    "STAGE_ID": "Стадия",
    "OPPORTUNITY": "Сумма",
    "CURRENCY_ID": "Валюта",
    "CATEGORY_ID": "Воронка",
    "CONTACT_ID": "Контакт",
    "COMPANY_ID": "Компания",
}


def card_head(portal: Portal, kind: str, record: dict[str, Any]) -> tuple[str, str]:
    """The card's title and its header: the name, and for a deal its stage and amount."""
    title = contact_name(record) if kind == "contact" else str(record.get("TITLE"))
    head = f'<h1 id="card-title">{escape(title)}</h1>'
    if kind == "deal":
        stage_id = str(record.get("STAGE_ID"))
        stage = portal.stage(stage_id) or {}
        currency = record.get("CURRENCY_ID") or portal.currency
        head += (
            f'<p><span id="deal-stage" data-stage="{escape(stage_id)}">'
            f"{escape(str(stage.get('NAME', stage_id)))}</span> · "
            f'<span id="deal-amount">{escape(str(record.get("OPPORTUNITY")))} '
            f"{escape(str(currency))}</span></p>"
        )
    return title, head


def deal_contacts(portal: Portal, deal_id: int, user_id: int) -> str:
    items = "".join(
        f'<li data-contact-id="{cid}"><a href="/portal/crm/contact/details/{cid}/?as={user_id}">'
        f"{escape(contact_name(portal.contacts.get(cid, {'ID': cid})))}</a></li>"
        for cid in portal.contacts_of_deal(deal_id)
    )
    return f'<h3>Контакты</h3><ul id="deal-contacts">{items}</ul>'


def deal_rows(portal: Portal, deal_id: int) -> str:
    rows = "".join(
        f'<tr class="deal-row" data-row-id="{escape(str(r.get("ID")))}" '
        f'data-product-id="{escape(str(r.get("PRODUCT_ID")))}">'
        f'<td class="name">{escape(str(r.get("PRODUCT_NAME", "")))}</td>'
        f'<td class="price">{escape(str(r.get("PRICE", "")))}</td>'
        f'<td class="quantity">{escape(str(r.get("QUANTITY", "")))}</td>'
        f'<td class="discount-sum">{escape(str(r.get("DISCOUNT_SUM", "")))}</td>'
        f'<td class="discount-rate">{escape(str(r.get("DISCOUNT_RATE", "")))}</td>'
        f'<td class="sum">{_row_sum(r)}</td></tr>'
        for r in portal.product_rows.get(deal_id, [])
    )
    head = (
        "<tr><th>Товар</th><th>Цена</th><th>Количество</th><th>Скидка</th>"
        "<th>Скидка, %</th><th>Сумма</th></tr>"
    )
    return f'<h3>Товары</h3><table id="deal-rows">{head}{rows}</table>'


def _row_sum(row: dict[str, Any]) -> str:
    try:
        return f"{float(row.get('PRICE') or 0) * float(row.get('QUANTITY') or 0):.2f}"
    except (TypeError, ValueError):
        return ""


def tab_strip(base: str, user_id: int, tabs: list[tuple[str, str]], active: int | None) -> str:
    """``tabs``: (placement code, title); the main tab first, then the placements in order."""
    main = "active" if active is None else ""
    links = [f'<a id="tab-main" class="tab {main}" href="{base}?as={user_id}">Общие</a>']
    seen: dict[str, int] = {}
    for number, (code, title) in enumerate(tabs):
        seen[code] = seen.get(code, 0) + 1
        tab_id = f"tab-{code}" if seen[code] == 1 else f"tab-{code}-{seen[code]}"
        state = "active" if active == number else ""
        links.append(
            f'<a id="{escape(tab_id)}" class="tab placement-tab {state}" '
            f'data-placement="{escape(code)}" href="{base}?as={user_id}&amp;tab={number}">'
            f"{escape(title)}</a>"
        )
    return f'<nav id="tabs">{"".join(links)}</nav>'


def frame_area(post: FramePost, page_origin: str) -> str:
    """The iframe and the hidden form posted into it (as Bitrix24 opens an app frame).

    The frame's ``name`` is ``<page host>|<protocol>|<APP_SID>``: the stub BX24 library
    reads it to know where to post its messages (the page's origin) and under which frame."""
    scheme, _, host = page_origin.partition("://")
    name = f"{host}|{1 if scheme == 'https' else 0}|{post.sid}"
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in post.form.items()
    )
    init = json.dumps(post.init, ensure_ascii=False).replace("<", "\\u003c")
    return (
        f'<div id="app-area"><iframe id="app-frame" name="{escape(name)}"></iframe>'
        f'<form id="app-form" method="post" action="{escape(post.action)}" '
        f'target="{escape(name)}" style="display:none">{inputs}</form>'
        f'<script type="application/json" id="frame-init">{init}</script>'
        f'<script src="/portal/static/portal.js"></script></div>'
    )
