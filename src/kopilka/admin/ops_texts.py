"""The words of the operations and mailing pages, Russian first, English complete."""

from __future__ import annotations

from collections.abc import Callable

TEXTS: dict[str, tuple[str, str]] = {
    "operations": ("Операции", "Operations"),
    "segments": ("Рассылки", "Mailings"),
    "jobs": ("Очередь задач", "Job queue"),
    "task": ("Задача", "Task"),
    "job.todo": ("ждут", "waiting"),
    "job.doing": ("выполняются", "running"),
    "job.failed": ("с ошибкой", "failed"),
    "job.cancelled": ("отменены", "cancelled"),
    "job.aborted": ("прерваны", "aborted"),
    "job.succeeded": ("выполнены", "succeeded"),
    "retried": ("повторы", "retried"),
    "no_jobs": ("Очередь пуста", "The queue is empty"),
    "failures": ("Последние ошибки задач", "Newest job failures"),
    "attempt": ("попытка", "attempt"),
    "now": ("сейчас", "now"),
    "outbox": ("Сообщения клиентам и менеджерам", "Messages to customers and managers"),
    "channel": ("Канал", "Channel"),
    "ch.sms": ("SMS", "SMS"),
    "ch.email": ("E-mail", "E-mail"),
    "ch.b24_chat": ("Чат Битрикс24", "Bitrix24 chat"),
    "ch.b24_timeline": ("Лента сделки", "Deal timeline"),
    "ch.b24_todo": ("Дело в Битрикс24", "Bitrix24 to-do"),
    "msg.pending": ("ждут отправки", "pending"),
    "msg.sending": ("отправляются", "sending"),
    "msg.sent": ("отправлены", "sent"),
    "msg.failed": ("не отправлены", "failed"),
    "msg.skipped": ("пропущены", "skipped"),
    "msg.cancelled": ("отменены", "cancelled"),
    "all": ("все", "all"),
    "show_messages": ("Открыть сообщения", "Show the messages"),
    "answer": ("Ответ провайдера", "The provider's answer"),
    "retry": ("Отправить ещё раз", "Send again"),
    "cancel": ("Отменить", "Cancel"),
    "retried_ok": ("Сообщение снова в очереди", "The message is queued again"),
    "cancelled_ok": ("Сообщение отменено", "The message is cancelled"),
    "not_changed": (
        "Сообщение уже не в этом состоянии — ничего не изменено",
        "The message is no longer in that state: nothing changed",
    ),
    "no_messages": ("Сообщений нет", "No messages"),
    "writes": ("Записи в Битрикс24", "Writes to Bitrix24"),
    "w.pending": ("ждут", "pending"),
    "w.sent": ("записаны", "written"),
    "w.failed": ("с ошибкой", "failed"),
    "w.unknown": ("исход неизвестен", "outcome unknown"),
    "parked": ("Сделки, которые не удаётся обработать", "Deals that cannot be synced"),
    "deal": ("Сделка", "Deal"),
    "attempts": ("попыток", "attempts"),
    "next_try": ("следующая попытка", "next try"),
    "resync": ("Пересчитать сделку", "Sync the deal again"),
    "resynced": ("Сделка поставлена в очередь на пересчёт", "The deal is queued for a sync"),
    "no_parked": ("Таких сделок нет", "None"),
    "health": ("Связь с порталом", "Connection to the portal"),
    "healthy": ("в порядке", "healthy"),
    "unhealthy": ("ошибка", "failing"),
    "last_ok": ("последний успешный вызов", "last successful call"),
    "last_error": ("последняя ошибка", "last error"),
    "delivery": ("доставка событий", "event delivery"),
    "backlog": ("сделок ждут синхронизации", "deals waiting for a sync"),
    "oldest": ("самая давняя с", "oldest since"),
    "last_sync": ("последняя синхронизация", "last sync"),
    "last_sweep": ("последняя сверка", "last sweep"),
    "rejected": ("Отклонённые запросы за сутки", "Rejected requests in the last day"),
    "not_connected": ("Портал не подключён", "The portal is not connected"),
    "csrf": ("Форма устарела, обновите страницу", "The form expired: reload the page"),
    "never": ("никогда", "never"),
    # mailings
    "seg.title": ("Сегменты для рассылок", "Segments for mailings"),
    "seg.none": (
        "В программе нет сегментов для рассылок (раздел mailing)",
        "The program has no mailing segments (its mailing section)",
    ),
    "seg.list": ("Список UniSender", "UniSender list"),
    "seg.daily": ("ежедневно", "daily"),
    "seg.export": ("Выгрузить в UniSender", "Export to UniSender"),
    "seg.csv": ("Скачать CSV", "Download CSV"),
    "seg.history": ("Выгрузки", "Exports"),
    "seg.contacts": ("контактов", "contacts"),
    "seg.inserted": ("добавлено", "inserted"),
    "seg.updated": ("обновлено", "updated"),
    "seg.invalid": ("с ошибкой", "invalid"),
    "seg.deleted": ("убрано", "removed"),
    "seg.done": ("Выгружено", "Exported"),
    "seg.failed": ("Выгрузка не удалась", "The export failed"),
    "seg.no_list": ("список не задан", "no list set"),
    "seg.err.unknown": ("Нет такого сегмента в программе", "The program has no such segment"),
    "seg.err.not_connected": ("Портал не подключён к Битрикс24", "The portal is not connected"),
    "seg.err.no_list": (
        "У сегмента не задан список UniSender (unisender_list)",
        "The segment names no UniSender list (unisender_list)",
    ),
    "seg.err.not_configured": (
        "UniSender не настроен (KOPILKA_UNISENDER_API_KEY)",
        "UniSender is not configured (KOPILKA_UNISENDER_API_KEY)",
    ),
}


def ops_translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def o(key: str) -> str:
        pair = TEXTS.get(key)
        return pair[index] if pair else key

    return o


def known(key: str | None) -> str | None:
    """``key`` if it is one of these words (a note named in a URL), else None."""
    return key if key in TEXTS else None
