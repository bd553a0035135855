"""Every shipped example program loads, and loading is deterministic."""

import hashlib
from pathlib import Path

import pytest

from kopilka.program import load_program, parse_program

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))


def test_there_is_one_example_per_seed_case() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"retail-wholesale", "car-service", "travel-club", "aesthetic-medicine"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads(path: Path) -> None:
    program = load_program(path)
    assert program.hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert program.source_name == str(path)
    assert program.title


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_parse_gives_the_same_hash_as_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_program(text, path.name).hash == load_program(path).hash


def test_retail_wholesale_uses_the_seed_names() -> None:
    program = load_program(EXAMPLES[0].parent / "retail-wholesale.yaml")
    assert {p.title for p in program.pipelines.values()} == {"Розница", "Опт"}
    assert program.pipelines["retail"].id == 0
    assert program.pipelines["wholesale"].id == 1
    assert program.redemption.max_share == 40


def test_program_is_frozen() -> None:
    program = load_program(EXAMPLES[0].parent / "car-service.yaml")
    with pytest.raises(ValueError, match="frozen"):
        program.title = "x"  # type: ignore[misc]
