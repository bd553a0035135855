"""The FastAPI app factory. Engines and clients are created in the lifespan (STYLE 16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from kopilka.admin.campaigns import router as admin_campaigns_router
from kopilka.admin.iiko import router as admin_iiko_router
from kopilka.admin.operations import router as operations_router
from kopilka.admin.pages import router as admin_router
from kopilka.api.errors import install_error_handlers
from kopilka.api.routes import router as api_router
from kopilka.b24app.endpoints import router as b24app_router
from kopilka.b24app.endpoints import static as b24app_static
from kopilka.bitrix24.events import router as b24_router
from kopilka.bitrix24.health import portal_health
from kopilka.cabinet.pages import router as cabinet_router
from kopilka.cabinet.pages import static as cabinet_static
from kopilka.cards.endpoints import router as cards_router
from kopilka.pos.endpoints import router as pos_router
from kopilka.process.services import Services
from kopilka.registration.endpoints import router as registration_router
from kopilka.reports.endpoints import router as reports_router
from kopilka.robots.endpoints import router as robots_router
from kopilka.segments.endpoints import router as segments_router
from kopilka.wallet.apple.endpoints import cabinet_router as wallet_cabinet_router
from kopilka.wallet.apple.endpoints import router as wallet_apple_router
from kopilka.wallet.google.endpoints import router as google_wallet_router
from kopilka.web.inflight import InFlightLimit
from kopilka.web.limits import BodyLimit
from kopilka.web.metrics import LedgerCache, allowed, render
from kopilka.web.unavailable import install_unavailable_handler


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services
        yield

    settings = services.settings
    app = FastAPI(title="Kopilka", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    app.state.ledger_cache = ledger = LedgerCache(settings.metrics_cache_seconds)
    install_error_handlers(app)
    install_unavailable_handler(app, settings.db_retry_after)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(  # the outermost: a refused request costs nothing more
        InFlightLimit, limit=settings.max_in_flight, retry_after=settings.overload_retry_after
    )
    app.include_router(b24_router)
    app.include_router(b24app_router)
    app.mount("/b24/app/static", b24app_static, name="b24app-static")
    app.include_router(api_router)
    app.include_router(pos_router)
    app.include_router(cabinet_router)
    app.include_router(google_wallet_router)
    app.include_router(admin_router)
    app.include_router(reports_router)
    app.include_router(admin_campaigns_router)
    app.include_router(admin_iiko_router)
    app.include_router(operations_router)
    app.include_router(segments_router)
    app.mount("/cabinet/static", cabinet_static, name="cabinet-static")
    app.include_router(registration_router)
    app.include_router(cards_router)
    app.include_router(robots_router)
    app.include_router(wallet_apple_router)
    app.include_router(wallet_cabinet_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """The database, and each portal's connection by its id (no names: this is public)."""
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                portals = [row.as_dict() for row in await portal_health(conn)]
        except Exception as exc:
            return JSONResponse(
                {"status": "database unavailable", "database": type(exc).__name__},
                status_code=503,
                headers={"Retry-After": str(settings.db_retry_after)},
            )
        status = "ok" if all(p["healthy"] for p in portals) else "degraded"
        return JSONResponse({"status": status, "database": "ok", "portals": portals})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        if settings.metrics_listen or not allowed(authorization, settings.metrics_token):
            return JSONResponse({"error": {"code": "not_found", "message": "not found"}}, 404)
        return Response(await render(services.engine, ledger), media_type=CONTENT_TYPE_LATEST)

    return app
