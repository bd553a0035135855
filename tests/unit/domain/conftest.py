"""Factories for domain tests: programs from the examples or from a few lines of YAML."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kopilka.program import Program, load_program, parse_program

EXAMPLES = Path(__file__).parents[3] / "examples"
NOW = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def example() -> Callable[[str], Program]:
    def load(name: str) -> Program:
        return load_program(EXAMPLES / f"{name}.yaml")

    return load


@pytest.fixture
def program_from() -> Callable[[str], Program]:
    """A program from YAML lines added after a minimal head (program, title, two pipelines)."""

    def build(body: str) -> Program:
        head = (
            "program: t\ntitle: Тест\n"
            "pipelines:\n  retail: {id: 0, title: Розница}\n  wholesale: {id: 1, title: Опт}\n"
        )
        return parse_program(head + body, "test.yaml")

    return build


@pytest.fixture
def now() -> datetime:
    return NOW
