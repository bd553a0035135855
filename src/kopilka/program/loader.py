"""Load a program file: YAML -> pydantic model -> cross checks, all problems reported at once."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from kopilka.program.crossref import cross_check
from kopilka.program.errors import Problem, ProgramFileError
from kopilka.program.messages import problems_from_errors
from kopilka.program.model import Program
from kopilka.program.review import review
from kopilka.program.yamlsource import dotted, line_of, read_yaml


def load_program(path: str | Path) -> Program:
    """Read and validate the program at ``path``; raises ``ProgramFileError``."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ProgramFileError(
            [Problem(str(path), None, "", f"cannot read the file: {exc}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramFileError([Problem(str(path), None, "", f"not UTF-8 text: {exc}")]) from None
    return _parse(text, raw, str(path))


def parse_program(text: str, filename: str, *, stored: bool = False) -> Program:
    """Validate program ``text``; ``filename`` is only used in messages and ``source_name``.

    ``stored``: the text of a program Kopilka accepted earlier (a portal's stored version).
    Deals were priced by it, so it must keep loading: what ``program.review`` finds — checks
    added after it was accepted, such as CEL types — comes back as warnings, never errors.
    """
    return _parse(text, text.encode("utf-8"), filename, stored=stored)


def _parse(text: str, raw: bytes, filename: str, *, stored: bool = False) -> Program:
    data, lines, problems = read_yaml(text, filename)
    if problems and data is None:
        raise ProgramFileError(problems)
    if not isinstance(data, dict):
        problems.append(
            Problem(
                filename,
                1,
                "",
                "the file must be a block of keys starting with 'program:' and 'title:'",
            )
        )
        raise ProgramFileError(problems)
    try:
        program = Program.model_validate(data, context={"stored": stored})
    except ValidationError as exc:
        problems += problems_from_errors(exc.errors(), data, lines, filename, Program)
        raise ProgramFileError(problems) from None
    for path, message in cross_check(program):
        problems.append(Problem(filename, line_of(lines, path), dotted(path), message))
    if problems:
        raise ProgramFileError(problems)
    warnings: list[Problem] = []
    for path, message, severity in review(program):
        severity = "warning" if stored else severity
        found = Problem(filename, line_of(lines, path), dotted(path), message, severity)
        (problems if severity == "error" else warnings).append(found)
    if problems:
        raise ProgramFileError(problems)
    program._hash = hashlib.sha256(raw).hexdigest()
    program._source_name = filename
    program._warnings = ProgramFileError(warnings).problems  # in file order
    return program
