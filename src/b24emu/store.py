"""The portal's data, kept in the legacy wire form (strings, ``Y``/``N``, ISO with offset).

Every collection is a plain dict keyed by integer id; values are the records exactly as
``crm.*.get`` would return them, so tests can read ``portal.deals[7]["STAGE_ID"]`` directly.
Writing to them bypasses the portal's rules (no events, no derived fields).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any

from b24emu.wire import fmt_date, fmt_datetime


class Store:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.clock: Callable[[], datetime] | None = None  # set to freeze/shift portal time
        self.seq: dict[str, int] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        # deal id -> [{"CONTACT_ID": int, "SORT": int, "ROLE_ID": 0, "IS_PRIMARY": "Y"|"N"}]
        self.deal_contacts: dict[int, list[dict[str, Any]]] = {}
        # deal id -> rows in the crm.deal.productrows.get shape
        self.product_rows: dict[int, list[dict[str, Any]]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.sections: dict[int, dict[str, Any]] = {}
        # crm.product.property.get records (catalog iblock properties)
        self.product_properties: dict[int, dict[str, Any]] = {}
        self.catalog_iblock_id = 25
        self.userfields: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.deal_categories: dict[int, dict[str, Any]] = {}
        self.iblocks: dict[int, dict[str, Any]] = {}
        self.iblock_fields: dict[int, dict[str, dict[str, Any]]] = {}
        self.list_elements: dict[int, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.timeline_comments: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.placements: list[dict[str, Any]] = []
        # automation (b24emu.bizproc): registrations by "<client_id>:<CODE>", calls by token
        self.robots: dict[str, dict[str, Any]] = {}
        self.bp_activities: dict[str, dict[str, Any]] = {}
        self.robot_calls: dict[str, Any] = {}  # event_token -> b24emu.robots.RobotCall
        self.robot_results: dict[str, dict[str, Any]] = {}  # event_token -> what was sent

    # -- ids and time ---------------------------------------------------------------------
    def next_id(self, name: str) -> int:
        value = self.seq.get(name, 1)
        self.seq[name] = value + 1
        return value

    def now(self) -> datetime:
        moment = self.clock() if self.clock is not None else datetime.now(self.tz)
        return moment.astimezone(self.tz)

    def now_str(self) -> str:
        return fmt_datetime(self.now(), self.tz)

    def today(self) -> date:
        return self.now().date()

    def date_str(self, value: date) -> str:
        return fmt_date(value, self.tz)

    # -- convenient read access for tests -------------------------------------------------
    def contacts_of_deal(self, deal_id: int) -> list[int]:
        return [b["CONTACT_ID"] for b in self.deal_contacts.get(deal_id, [])]

    def comments_for(self, entity_type: str, entity_id: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.timeline_comments.values()
            if c["ENTITY_TYPE"] == entity_type.lower() and int(c["ENTITY_ID"]) == entity_id
        ]

    def stages(self, category_id: int) -> list[dict[str, Any]]:
        entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        rows = [s for s in self.statuses if s["ENTITY_ID"] == entity]
        return sorted(rows, key=lambda s: int(s["SORT"]))

    def stage(self, stage_id: str) -> dict[str, Any] | None:
        for row in self.statuses:
            if row["ENTITY_ID"].startswith("DEAL_STAGE") and row["STATUS_ID"] == stage_id:
                return row
        return None

    def status_ids(self, entity_id: str) -> list[str]:
        return [s["STATUS_ID"] for s in self.statuses if s["ENTITY_ID"] == entity_id]
