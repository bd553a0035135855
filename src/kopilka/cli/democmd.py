"""``kopilka demo [--serve]`` (what ``make demo`` runs); the story itself is imported only when
the command runs (it brings the emulator and the devstack along)."""

from __future__ import annotations

from typing import Annotated

import typer

from kopilka.cli.common import out, run


def demo(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="afterwards keep the portal, Kopilka and the pages up until Ctrl+C"
        ),
    ] = False,
    iiko: Annotated[
        bool, typer.Option("--iiko", help="the restaurant on iiko story instead (docs/iiko.md)")
    ] = False,
) -> None:
    """Run a scripted story through the engine and the ledger and show the balances."""
    from kopilka.cli.demo import run_demo
    from kopilka.cli.demo_iiko import run_iiko_demo

    try:
        run(run_iiko_demo() if iiko else run_demo(serve=serve))
    except KeyboardInterrupt:  # the servers and the database were stopped on the way out
        out.print("stopped")


def register(app: typer.Typer) -> None:
    app.command()(demo)
