"""The ``kopilka`` command line (Typer). Each command is one unit of work on the database."""

from kopilka.cli.app import app

__all__ = ["app"]
