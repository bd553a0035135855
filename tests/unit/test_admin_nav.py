"""The admin's header on a page another feature renders with ``cabinet.web.render`` and the
admin's templates (reports, campaigns, operations): its links in the page's language."""

from __future__ import annotations

import pytest

from kopilka.admin.web import env


@pytest.mark.parametrize(
    ("lang", "words"), [("ru", ["Отчёты", "Выйти"]), ("en", ["Reports", "Sign out"])]
)
def test_the_nav_speaks_the_pages_language_without_a_person(lang: str, words: list[str]) -> None:
    html = env.get_template("_admin_nav.html").render(lang=lang, csrf="token")
    for word in words:
        assert word in html
    assert 'value="token"' in html  # the sign-out form carries the CSRF token
