"""The cabinet's and the admin's words, Russian first, English available."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LANGS = ("ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "title": {"ru": "Личный кабинет", "en": "My account"},
    "login_title": {"ru": "Вход в личный кабинет", "en": "Log in"},
    "phone": {"ru": "Номер телефона", "en": "Phone number"},
    "get_code": {"ru": "Получить код", "en": "Get a code"},
    "code": {"ru": "Код из SMS", "en": "Code from the SMS"},
    "code_sent": {
        "ru": "Если номер есть в программе, мы отправили на него SMS с кодом.",
        "en": "If the number is in the programme, we have sent it an SMS with a code.",
    },
    "enter": {"ru": "Войти", "en": "Log in"},
    "other_phone": {"ru": "Другой номер", "en": "Another number"},
    "bad_phone": {"ru": "Проверьте номер телефона", "en": "Please check the phone number"},
    "bad_code": {
        "ru": "Неверный или устаревший код. Попробуйте ещё раз.",
        "en": "Wrong or expired code. Please try again.",
    },
    "locked": {
        "ru": "Слишком много неудачных попыток. Вход заблокирован до {until}.",
        "en": "Too many failed attempts. Login is locked until {until}.",
    },
    "too_many_codes": {
        "ru": "Слишком много запросов кода. Попробуйте позже.",
        "en": "Too many codes requested. Please try later.",
    },
    "busy": {
        "ru": "Сейчас слишком много запросов кода. Попробуйте через несколько минут.",
        "en": "Too many codes are being requested right now. Please try again in a few minutes.",
    },
    "wait": {
        "ru": "Новый код пока нельзя запросить: введите код из последнего SMS или подождите.",
        "en": "A new code cannot be requested yet: enter the code from the last SMS or wait.",
    },
    "resend_in": {
        "ru": "Новый код можно будет запросить через {seconds} с.",
        "en": "You can request a new code in {seconds} s.",
    },
    "resend_now": {"ru": "Можно запросить новый код.", "en": "You can request a new code now."},
    "resend": {"ru": "Получить новый код", "en": "Send a new code"},
    "sms_failed": {
        "ru": "Не удалось отправить SMS. Попробуйте позже.",
        "en": "The SMS could not be sent. Please try later.",
    },
    "csrf": {
        "ru": "Страница устарела, обновите её и повторите.",
        "en": "The page is out of date: reload it and try again.",
    },
    "logout": {"ru": "Выйти", "en": "Log out"},
    "balance": {"ru": "Баланс", "en": "Balance"},
    "points": {"ru": "баллов", "en": "points"},
    "available": {"ru": "Доступно", "en": "Available"},
    "pending": {"ru": "Ожидают начисления", "en": "Pending"},
    "held": {"ru": "Зарезервировано", "en": "Reserved"},
    "expiring": {"ru": "Сгорают", "en": "Expiring"},
    "history": {"ru": "История операций", "en": "Points history"},
    "no_history": {"ru": "Пока нет операций", "en": "No points yet"},
    "orders": {"ru": "Заказы", "en": "Orders"},
    "no_orders": {"ru": "Пока нет заказов", "en": "No orders yet"},
    "order": {"ru": "Заказ", "en": "Order"},
    "deal": {"ru": "Сделка", "en": "Deal"},
    "refunded": {"ru": "возврат", "en": "refunded"},
    "card": {"ru": "Бонусная карта", "en": "Bonus card"},
    "show_card": {"ru": "Показать карту", "en": "Show the card"},
    "no_card": {"ru": "Карта ещё не выпущена", "en": "No card has been issued yet"},
    "blocked": {"ru": "Карта заблокирована", "en": "The card is blocked"},
    "level": {"ru": "Уровень", "en": "Level"},
    "no_level": {"ru": "Пока без уровня", "en": "No level yet"},
    "cashback": {"ru": "кэшбэк", "en": "cashback"},
    "next_deals": {
        "ru": "До уровня «{title}»: ещё {n}",
        "en": "{n} to go to «{title}»",
    },
    "next_sum": {
        "ru": "До уровня «{title}»: купить ещё на {sum}",
        "en": "Buy {sum} more to reach «{title}»",
    },
    "top_level": {"ru": "Это высший уровень", "en": "This is the top level"},
    "more": {"ru": "Показать всё", "en": "Show all"},
    "order_of": {"ru": "Заказ от {date}", "en": "Order of {date}"},
    "order_no": {"ru": "Заказ №{number} от {date}", "en": "Order #{number} of {date}"},
    "details": {"ru": "Подробнее", "en": "Details"},
    "items": {"ru": "Состав заказа", "en": "Items"},
    "no_items": {"ru": "Состав заказа не сохранился", "en": "The items were not recorded"},
    "order_total": {"ru": "Сумма заказа", "en": "Order total"},
    "earned_points": {"ru": "Начислено", "en": "Earned"},
    "paid_points": {"ru": "Оплачено баллами", "en": "Paid with points"},
    "qty": {"ru": "{n} шт. × {price}", "en": "{n} × {price}"},
    "till_hint": {
        "ru": "Покажите код на кассе: его можно отсканировать или ввести номер.",
        "en": "Show this code at the till: it can be scanned, or the number typed in.",
    },
    "wallets": {"ru": "Добавить карту в кошелёк", "en": "Add the card to a wallet"},
    "back": {"ru": "Назад", "en": "Back"},
    "not_configured": {
        "ru": "Личный кабинет ещё не настроен.",
        "en": "The account pages are not set up yet.",
    },
    "session_expired": {
        "ru": "Сессия истекла, войдите снова.",
        "en": "Your session has expired: please log in again.",
    },
}


def pick_lang(request: Request, default: str | None = None) -> str:
    """The language the person chose (``?lang=``, then the ``kop_lang`` cookie); otherwise
    ``default`` (the cabinet passes the program's locale), or the browser's for the admin."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get("kop_lang")
    if cookie in LANGS:
        return cookie
    if default in LANGS:
        return default
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "en" if first.startswith("en") else "ru"


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **kw: object) -> str:
        text = TEXTS[key][lang]
        return text.format(**kw) if kw else text

    return t
