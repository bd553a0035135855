"""Problems found in a program file, reported all at once with file, line and field path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kopilka.domain.errors import ProgramError


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str  # dotted path, e.g. "earn[1].percent"; "" for the whole file
    message: str
    severity: Literal["error", "warning"] = "error"  # a warning never stops a file loading

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        prefix = f"{where}: {self.field}" if self.field else where
        label = "warning: " if self.severity == "warning" else ""
        return f"{prefix}: {label}{self.message}"


class ProgramFileError(ProgramError):
    """A program file that cannot be loaded; ``problems`` lists every problem, in file order."""

    code = "invalid_program"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line if p.line is not None else 0)
        super().__init__("\n".join(str(p) for p in self.problems))
