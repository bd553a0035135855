"""The tests' way into a whole Kopilka on an emulated portal (see ``kopilka.process.devstack``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import Portal
from kopilka.config import Settings
from kopilka.process.devstack import Stack, example
from kopilka.process.devstack import kopilka_on_emulator as _stack
from kopilka.program.loader import load_program

Harness = Stack


@asynccontextmanager
async def kopilka_on_emulator(
    engine: AsyncEngine,
    *,
    program: str = "retail-wholesale.yaml",
    portal: Portal | None = None,
    worker: bool = True,
    settings: Settings | None = None,
    app: bool = False,
    **kw: Any,
) -> AsyncIterator[Stack]:
    path, source = example(program)
    async with _stack(
        engine,
        load_program(path),
        source,
        portal=portal,
        worker=worker,
        settings=settings,
        app=app,
        **kw,
    ) as stack:
        yield stack
