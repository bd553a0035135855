"""The words of the installer and the app page (settings), Russian first: a portal
administrator reads them (gathered into :data:`kopilka.b24app.texts.TEXTS`)."""

from __future__ import annotations

APP_TEXTS: dict[str, dict[str, str]] = {
    "install_title": {"ru": "Установка Копилки", "en": "Installing Kopilka"},
    "installed": {
        "ru": "Приложение установлено: портал подключён, обработчики привязаны.",
        "en": "The application is installed: the portal is connected, the handlers are bound.",
    },
    "install_failed": {"ru": "Установка не завершена", "en": "The installation is not finished"},
    "install_retry": {
        "ru": "Портал подключён, но привязать обработчики не удалось. Откройте установку ещё раз.",
        "en": "The portal is connected but the handlers could not be bound. Run the installer "
        "again.",
    },
    "install_next": {
        "ru": "Дальше: загрузите программу на странице приложения — тогда будут созданы поля "
        "и начнётся начисление баллов.",
        "en": "Next: upload the program on the application's page — then the fields are created "
        "and points start to accrue.",
    },
    "install_program": {
        "ru": "Программа «{title}» уже действует, её поля проверены.",
        "en": "The program “{title}” is already in force; its fields were checked.",
    },
    "events_bound": {"ru": "События", "en": "Events"},
    "placements_bound": {"ru": "Вкладки «Бонусы»", "en": "«Bonuses» tabs"},
    "robots_registered": {"ru": "Роботы", "en": "Robots"},
    "fields_created": {"ru": "Созданы поля", "en": "Fields created"},
    "fields_existing": {"ru": "Поля уже были", "en": "Fields already there"},
    "missing_scopes": {
        "ru": "Не хватает прав приложения",
        "en": "The application lacks the scopes",
    },
    "already": {"ru": "уже привязаны", "en": "already bound"},
}
