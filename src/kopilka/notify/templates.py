"""The texts: Jinja2 templates, Russian by default and English available, each overridable by
the program (``notifications.templates``). An e-mail's (or to-do's) first line is its subject,
then a blank line, then the body. Program texts run in Jinja2's sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from kopilka.program.model import Program
from kopilka.program.notify import TEMPLATE_NAMES

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@lru_cache(maxsize=128)
def builtin(locale: str, name: str) -> str:
    if name not in TEMPLATE_NAMES:
        raise KeyError(f"unknown template {name!r}")
    folder = resources.files("kopilka.notify") / "templates" / locale
    return (folder / f"{name}.txt").read_text(encoding="utf-8")


def render(program: Program, template: str, /, **variables: Any) -> Rendered:
    name = template
    source = program.notifications.templates.get(name) or builtin(program.locale, name)
    text = _ENV.from_string(source).render(company=program.title, **variables).strip()
    if name.endswith((".email", ".todo")):
        subject, _, body = text.partition("\n")
        return Rendered(subject.strip(), body.strip() or subject.strip())
    return Rendered("", text)
