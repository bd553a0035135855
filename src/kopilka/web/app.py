"""The FastAPI app factory. Engines and clients are created in the lifespan (STYLE 16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from kopilka.admin.pages import router as admin_router
from kopilka.api.errors import install_error_handlers
from kopilka.api.routes import router as api_router
from kopilka.bitrix24.events import router as b24_router
from kopilka.cabinet.pages import router as cabinet_router
from kopilka.cabinet.pages import static as cabinet_static
from kopilka.cards.endpoints import router as cards_router
from kopilka.pos.endpoints import router as pos_router
from kopilka.process.services import Services
from kopilka.registration.endpoints import router as registration_router
from kopilka.web.limits import BodyLimit
from kopilka.web.metrics import render


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services
        yield

    app = FastAPI(title="Kopilka", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)
    app.include_router(b24_router)
    app.include_router(api_router)
    app.include_router(pos_router)
    app.include_router(cabinet_router)
    app.include_router(admin_router)
    app.mount("/cabinet/static", cabinet_static, name="cabinet-static")
    app.include_router(registration_router)
    app.include_router(cards_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(await render(services.engine), media_type=CONTENT_TYPE_LATEST)

    return app
