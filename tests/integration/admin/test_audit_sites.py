"""The changes people make outside the admin are in the audit log too (issue 18), written in the
change's own transaction: a limit set and removed (the permissions page and the CLI share the
service), a program applied. A grant through the API: tests/integration/api/test_grant_audit.py."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.permissions import remove_limit, set_limit
from tests.integration.admin.people import NOW, seed_shop


async def _audit(conn: AsyncConnection, portal_id: int) -> list[tuple[object, ...]]:
    rows = await conn.execute(
        text("SELECT actor, action, subject FROM audit_log WHERE portal_id = :p ORDER BY id"),
        {"p": portal_id},
    )
    return [tuple(r) for r in rows]


async def test_limits_and_program_changes_are_audited(db: AsyncConnection) -> None:
    shop = await seed_shop(db)  # installs the program
    await set_limit(
        db,
        shop.portal_id,
        user_id=None,
        max_total=2000_00,
        period="month",
        actor="b24:user:1 Ольга",
        now=NOW,
    )
    limit_id = await db.scalar(
        text("SELECT id FROM b24_grant_limits WHERE portal_id = :p"), {"p": shop.portal_id}
    )
    assert await remove_limit(db, shop.portal_id, int(limit_id), actor="cli:root")
    assert not await remove_limit(db, shop.portal_id, int(limit_id), actor="cli:root")
    assert await _audit(db, shop.portal_id) == [
        ("kopilka", "program.applied", "program:travel-club"),
        ("b24:user:1 Ольга", "limit.set", "role:manager"),
        ("cli:root", "limit.removed", "role:manager"),
    ]
