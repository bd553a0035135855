"""The words of the pages shown inside Bitrix24, Russian first, English available. Managers
and administrators read them: CRM words («сделка», «контакт») are theirs."""

from __future__ import annotations

from collections.abc import Callable

from kopilka.b24app.app_texts import APP_TEXTS
from kopilka.b24app.contact_texts import CONTACT_WORDS

TEXTS: dict[str, dict[str, str]] = {
    "app": {"ru": "Копилка — бонусная программа", "en": "Kopilka — loyalty program"},
    "refused": {"ru": "Страница не открыта", "en": "The page could not be opened"},
    "reopen": {
        "ru": "Закройте и снова откройте вкладку. Если не помогло — обратитесь к администратору.",
        "en": "Close and reopen the tab. If that does not help, ask your administrator.",
    },
    "you": {"ru": "Вы", "en": "You"},
    "admin": {"ru": "администратор портала", "en": "portal administrator"},
    "balance": {"ru": "Баланс", "en": "Balance"},
    "available": {"ru": "Доступно", "en": "Available"},
    "pending": {"ru": "Ожидают начисления", "en": "Pending"},
    "held": {"ru": "Зарезервировано", "en": "Held"},
    "no_customer": {
        "ru": "У этого контакта ещё нет бонусного счёта.",
        "en": "This contact has no points account yet.",
    },
    "no_program": {
        "ru": "Бонусная программа ещё не настроена.",
        "en": "The loyalty program is not set up yet.",
    },
    "deal": {"ru": "Сделка", "en": "Deal"},
    "program": {"ru": "Программа", "en": "Program"},
    **APP_TEXTS,
}
TEXTS |= CONTACT_WORDS  # the contact tab's and the permissions page's, in a module of their own


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        words = TEXTS.get(key, {})
        text = words.get(lang) or words.get("ru") or key
        return text.format(**values) if values else text

    return t
