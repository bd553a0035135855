"""The end of ``kopilka demo --serve`` (what ``make demo`` runs): after the story, everything
stays up on 127.0.0.1 for a newcomer to click — the emulated portal with Kopilka's «Бонусы» tabs
on a contact's and a deal's card, the application's settings page, the customer's cabinet (login
codes arrive at a local SMS.ru, printed here) and the admin — until Ctrl+C stops it all, the
embedded database included."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr
from rich.table import Table

from kopilka.admin.passwords import hash_password
from kopilka.cli.common import out
from kopilka.config import Settings
from kopilka.fakes.smsru import SmsRuFake
from kopilka.process.devstack import Stack

SMS_API_ID = "kopilka-demo"


@dataclass
class Live:
    """What a serving demo adds to the story's settings: the SMS fake and the admin login."""

    sms: SmsRuFake
    admin_password: str

    def settings(self, base: Settings, member_id: str) -> Settings:
        return base.model_copy(
            update={
                "cabinet_portal": member_id,
                "smsru_api_id": SecretStr(SMS_API_ID),
                "smsru_url": self.sms.url,
                "admin_password_hash": SecretStr(hash_password(self.admin_password)),
                "notify_settle_seconds": 0.0,
                "quiet_hours": "",
            }
        )


@asynccontextmanager
async def live() -> AsyncIterator[Live]:
    with SmsRuFake(api_id=SMS_API_ID) as sms:
        yield Live(sms, secrets.token_urlsafe(9))


def links(stack: Stack, live: Live, contact: int, deal: int, phone: str) -> Table:
    emu, web, app = stack.server.url, stack.web_url, stack.connection.client_id or ""
    table = Table(title="Kopilka is running — open these in a browser (Ctrl+C stops everything)")
    table.add_column("what")
    table.add_column("where")
    table.add_column("how to log in")
    table.add_row(
        "the contact's card in the portal, «Бонусы» tab",
        f"{emu}/portal/crm/contact/details/{contact}/?tab=0",
        "you are the portal's admin; ?as=2 is a manager",
    )
    table.add_row(
        "a deal's card, «Бонусы» tab", f"{emu}/portal/crm/deal/details/{deal}/?tab=0", "—"
    )
    table.add_row("Kopilka's page in the portal", f"{emu}/portal/apps/{app}/", "—")
    table.add_row("the portal", f"{emu}/portal/", "—")
    table.add_row(
        "the customer's cabinet", f"{web}/cabinet", f"phone {phone}; the SMS code prints here"
    )
    table.add_row("the admin", f"{web}/admin", f"password {live.admin_password}")
    return table


async def serve_until_stopped(live: Live) -> None:
    """Print every SMS the fake receives (the cabinet's login codes) until cancelled."""
    seen = 0
    while True:
        for message in live.sms.messages[seen:]:
            out.print(f"SMS to +{message.phone}: {message.text}")
        seen = len(live.sms.messages)
        await asyncio.sleep(0.5)
