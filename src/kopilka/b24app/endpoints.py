"""The routes of the pages Kopilka shows inside Bitrix24, gathered (each page in its module)."""

from __future__ import annotations

from fastapi import APIRouter

from kopilka.b24app.app_page import router as app_page
from kopilka.b24app.contact_tab import router as contact_tab
from kopilka.b24app.deal_tab import router as deal_tab
from kopilka.b24app.frames import static
from kopilka.b24app.install_page import router as install_page
from kopilka.b24app.permissions_page import router as permissions_page
from kopilka.b24app.settings_actions import router as settings_actions

router = APIRouter(tags=["bitrix24-app"])
router.include_router(app_page)
router.include_router(contact_tab)
router.include_router(deal_tab)
router.include_router(permissions_page)
router.include_router(install_page)
router.include_router(settings_actions)

__all__ = ["router", "static"]
