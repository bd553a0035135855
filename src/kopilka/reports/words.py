"""The reports' words, Russian first and English complete (the admin's language: ``?lang=``,
then the cookie, then the browser's, as :func:`kopilka.cabinet.i18n.pick_lang` decides)."""

from __future__ import annotations

from collections.abc import Callable

WORDS: dict[str, dict[str, str]] = {
    "reports": {"ru": "Отчёты", "en": "Reports"},
    "customers": {"ru": "Клиенты", "en": "Customers"},
    "from": {"ru": "С", "en": "From"},
    "to": {"ru": "По", "en": "To"},
    "show": {"ru": "Показать", "en": "Show"},
    "bad_range": {"ru": "Неверный период", "en": "Wrong range"},
    "no_program": {
        "ru": "У портала ещё нет программы: отчёты появятся после её установки.",
        "en": "The portal has no program yet: reports appear once one is applied.",
    },
    "download": {"ru": "Скачать", "en": "Download"},
    "liability": {"ru": "Обязательства по баллам", "en": "Outstanding points (liability)"},
    "liability_desc": {
        "ru": "Сколько баллов клиенты могут потратить (вместе с зарезервированными) на конец "
        "каждого периода; 1 балл = 1 ₽.",
        "en": "Points customers can still spend (reserved ones included) at the end of each "
        "period; 1 point = 1 ₽.",
    },
    "opening": {"ru": "На начало периода", "en": "At the start"},
    "closing": {"ru": "На конец периода", "en": "At the end"},
    "flows": {"ru": "Движение баллов", "en": "Points in and out"},
    "flows_desc": {
        "ru": "Начислено, отменено, потрачено и сгорело за каждый период.",
        "en": "Accrued, reversed, redeemed and expired in each period.",
    },
    "period": {"ru": "Период", "en": "Period"},
    "date": {"ru": "Дата", "en": "Date"},
    "accrued": {"ru": "Начислено", "en": "Accrued"},
    "reversed": {"ru": "Отменено", "en": "Reversed"},
    "redeemed": {"ru": "Потрачено", "en": "Redeemed"},
    "expired": {"ru": "Сгорело", "en": "Expired"},
    "net": {"ru": "Изменение", "en": "Net change"},
    "points": {"ru": "Баллы", "en": "Points"},
    "roubles": {"ru": "Рубли", "en": "Roubles"},
    "total": {"ru": "Итого", "en": "Total"},
    "expiring": {"ru": "Сгорят в ближайшие дни", "en": "Expiring soon"},
    "expiring_desc": {
        "ru": "Баллы, которые сгорят в ближайшие 30, 60 и 90 дней, если их не потратить.",
        "en": "Points that expire within the next 30, 60 and 90 days unless spent.",
    },
    "within": {"ru": "В течение", "en": "Within"},
    "days": {"ru": "{n} дн.", "en": "{n} days"},
    "customers_n": {"ru": "Клиентов", "en": "Customers"},
    "activity": {"ru": "Клиенты и сгорание", "en": "Customers and breakage"},
    "active": {"ru": "Активные клиенты", "en": "Active customers"},
    "redeeming": {"ru": "Тратили баллы", "en": "Redeeming customers"},
    "breakage": {"ru": "Доля сгорания (breakage)", "en": "Breakage rate"},
    "breakage_desc": {
        "ru": "Сгорело / (сгорело + потрачено) за период.",
        "en": "Expired / (expired + redeemed) over the range.",
    },
    "figure": {"ru": "Показатель", "en": "Figure"},
    "value": {"ru": "Значение", "en": "Value"},
    "table": {"ru": "Таблица", "en": "Table"},
    "levels": {"ru": "Уровни клиентов", "en": "Customer levels"},
    "levels_desc": {
        "ru": "Сколько клиентов на каждом уровне сейчас.",
        "en": "How many customers are at each level now.",
    },
    "no_levels": {"ru": "В программе нет уровней.", "en": "The program has no levels."},
    "level": {"ru": "Уровень", "en": "Level"},
    "below_levels": {"ru": "Без уровня", "en": "No level yet"},
    "top_accrued": {"ru": "Больше всех начислено", "en": "Top customers by points accrued"},
    "top_balance": {"ru": "Больше всех на счёте", "en": "Top customers by balance"},
    "customer": {"ru": "Клиент", "en": "Customer"},
    "manual": {"ru": "Ручные начисления", "en": "Manual grants"},
    "manual_desc": {
        "ru": "Кто и за что начислял баллы вручную.",
        "en": "Who granted points by hand, and why.",
    },
    "who": {"ru": "Кто", "en": "Who"},
    "reason": {"ru": "Причина", "en": "Reason"},
    "grants": {"ru": "Начислений", "en": "Grants"},
    "reversed_since": {"ru": "Из них отменено", "en": "Reversed since"},
    "nothing": {"ru": "Нет данных за период.", "en": "Nothing in this range."},
    "chart_summary": {"ru": "{title}: {facts}.", "en": "{title}: {facts}."},
}

MONTHS = {
    "ru": "янв фев мар апр май июн июл авг сен окт ноя дек".split(),
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
}


def words(lang: str) -> Callable[..., str]:
    def w(key: str, **kw: object) -> str:
        said = WORDS[key][lang]
        return said.format(**kw) if kw else said

    return w
