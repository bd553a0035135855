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
    # the app page (settings)
    "applied": {
        "ru": "Версия {version} применена, действует с {since}.",
        "en": "Version {version} applied, in force from {since}.",
    },
    "provisioned": {"ru": "Портал подготовлен", "en": "The portal is provisioned"},
    "connection": {"ru": "Подключение", "en": "Connection"},
    "times_in": {"ru": "Время — {zone}.", "en": "Times in {zone}."},
    "portal": {"ru": "Портал", "en": "Portal"},
    "mode_app": {"ru": "приложение", "en": "application"},
    "mode_webhook": {"ru": "вебхук", "en": "webhook"},
    "status_active": {"ru": "подключён", "en": "connected"},
    "status_uninstalled": {"ru": "приложение удалено", "en": "uninstalled"},
    "status_disconnected": {"ru": "отключён", "en": "disconnected"},
    "calls": {"ru": "Запросы к порталу", "en": "Calls to the portal"},
    "healthy": {"ru": "в порядке", "en": "healthy"},
    "failing": {"ru": "ошибка: {error}", "en": "failing: {error}"},
    "last_ok": {"ru": "последний успешный", "en": "last success"},
    "last_error": {"ru": "последняя ошибка", "en": "last error"},
    "events": {"ru": "События", "en": "Events"},
    "last_sync": {"ru": "последняя синхронизация", "en": "last sync"},
    "never": {"ru": "ещё не было", "en": "none yet"},
    "rejected": {"ru": "отклонено запросов: {n}", "en": "requests refused: {n}"},
    "last": {"ru": "последний", "en": "last"},
    "backlog": {"ru": "Очередь", "en": "Backlog"},
    "dirty": {"ru": "сделок ждут синхронизации: {n}", "en": "deals waiting for a sync: {n}"},
    "writes": {"ru": "записей в портал: {n}", "en": "writes to the portal: {n}"},
    "version": {"ru": "версия", "en": "version"},
    "since": {"ru": "действует с", "en": "in force from"},
    "by": {"ru": "применил", "en": "applied by"},
    "code": {"ru": "код", "en": "code"},
    "applied_at": {"ru": "применена", "en": "applied"},
    "scheduled": {
        "ru": "Запланирована версия {version} с {since}.",
        "en": "Version {version} is scheduled from {since}.",
    },
    "new_program": {"ru": "Новая версия программы", "en": "A new program version"},
    "program_file": {
        "ru": "Файл программы (YAML, до {kb} КБ)",
        "en": "Program file (YAML, up to {kb} KB)",
    },
    "check": {"ru": "Проверить", "en": "Check"},
    "no_file": {"ru": "Выберите файл программы.", "en": "Choose a program file."},
    "problems": {"ru": "В файле {name} есть ошибки:", "en": "The file {name} has problems:"},
    "line": {"ru": "строка {n}", "en": "line {n}"},
    "file_ok": {
        "ru": "Файл в порядке: «{title}», версия {version}.",
        "en": "The file is fine: “{title}”, version {version}.",
    },
    "whatif": {
        "ru": "Что было бы с уже выигранными сделками",
        "en": "What it would have done to the deals already won",
    },
    "deals": {"ru": "Сделок", "en": "Deals"},
    "replayed": {"ru": "пересчитано {n}", "en": "{n} replayed"},
    "not_replayable": {"ru": "не пересчитать {n}", "en": "{n} not replayable"},
    "earned": {"ru": "Начислено", "en": "Earned"},
    "would_earn": {"ru": "Было бы начислено", "en": "Would earn"},
    "difference": {"ru": "Разница", "en": "Difference"},
    "level_changes": {"ru": "Сменили бы уровень", "en": "Level changes"},
    "liability": {"ru": "Обязательства изменятся на", "en": "Liability change"},
    "contact": {"ru": "Контакт", "en": "Contact"},
    "level": {"ru": "Уровень", "en": "Level"},
    "diff": {"ru": "Изменения в тексте", "en": "Changes in the text"},
    "active_from": {
        "ru": "Действует с ({zone}; пусто — сейчас)",
        "en": "In force from ({zone}; empty: now)",
    },
    "apply": {"ru": "Применить", "en": "Apply"},
    "not_previewed": {
        "ru": "Это не тот файл, что был проверен: проверьте его снова.",
        "en": "This is not the file that was checked: check it again.",
    },
    "provisioning": {"ru": "Поля и привязки", "en": "Fields and bindings"},
    "provisioned_at": {"ru": "Портал подготовлен {at}.", "en": "Provisioned at {at}."},
    "not_provisioned": {
        "ru": "Поля ещё не созданы: они создаются, когда применена программа.",
        "en": "No fields yet: they are created when a program is applied.",
    },
    "entity_contact": {"ru": "Контакт", "en": "Contact"},
    "entity_deal": {"ru": "Сделка", "en": "Deal"},
    "provision_again": {"ru": "Проверить и привязать заново", "en": "Check and bind again"},
    "permissions": {"ru": "Кто что может", "en": "Who may do what"},
    "permissions_open": {"ru": "Открыть права и лимиты", "en": "Open roles and limits"},
    "read_only": {
        "ru": "Настройки меняет администратор портала.",
        "en": "The settings are changed by a portal administrator.",
    },
    "delivery": {"ru": "Доставка событий", "en": "Event delivery"},
    "delivery_online": {
        "ru": "онлайн: Битрикс24 присылает события",
        "en": "online: Bitrix24 posts the events",
    },
    "delivery_offline": {
        "ru": "офлайн: Копилка сама читает очередь портала",
        "en": "offline: Kopilka reads the portal's queue",
    },
    "polled": {
        "ru": "последнее чтение {at}, обработано {n}",
        "en": "last read {at}, {n} processed",
    },
    "switch_offline": {
        "ru": "Читать очередь (сервер недоступен из интернета)",
        "en": "Read the queue (the server is not reachable from the internet)",
    },
    "switch_online": {"ru": "Принимать события онлайн", "en": "Take events online"},
    "switched_offline": {
        "ru": "События переведены в офлайн: Копилка читает очередь портала.",
        "en": "Events are offline now: Kopilka reads the portal's queue.",
    },
    "switched_online": {
        "ru": "События снова приходят онлайн; то, что осталось в очереди, будет прочитано.",
        "en": "Events come online again; what is left in the queue is read.",
    },
}
