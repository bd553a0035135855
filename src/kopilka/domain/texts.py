"""What Kopilka writes into Bitrix24 — timeline comments, the offers list, the provisioned
fields' titles — in the program's locale (``locale: ru`` by default, ``en`` available).

One catalogue, keyed like ``cabinet/i18n.py`` (``{key: {"ru": …, "en": …}}``); it lives in the
domain because the Bitrix24 connector may not import the cabinet, and it is pure. Notices sent
through the notification outbox (chat, to-dos, card timeline) are templates of their own
(``notify/templates/<locale>``).

The ledger records its reasons in Russian (they are part of the books); :func:`reason` gives an
English portal the English of every reason Kopilka itself words — the ``reason.*`` entries are
also the patterns they are recognised by. A reason a person typed is shown as typed.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from kopilka.domain.explain import points_en, points_ru

Locale = Literal["ru", "en"]

TEXTS: dict[str, dict[str, str]] = {
    "brand": {"ru": "Копилка", "en": "Kopilka"},
    # what a ledger transaction did, on the deal's timeline
    "kind.accrual": {"ru": "Начислено", "en": "Earned"},
    "kind.reversal": {"ru": "Отменено", "en": "Cancelled"},
    "kind.hold": {"ru": "Зарезервировано для оплаты", "en": "Reserved for payment"},
    "kind.capture": {"ru": "Списано в оплату", "en": "Paid with points"},
    "kind.release": {"ru": "Резерв снят", "en": "Reservation released"},
    "mark.entry": {"ru": " · запись №{n}", "en": " · entry #{n}"},
    "mark.change": {"ru": " · изменение №{n}", "en": " · change #{n}"},
    "mark.hold": {"ru": " · резерв №{n}", "en": " · hold #{n}"},
    "level.removed": {"ru": "уровень снят", "en": "level removed"},
    "level.up": {
        "ru": "уровень повышен до «{title}» — {percent} %",
        "en": "level raised to «{title}» — {percent} %",
    },
    "level.down": {
        "ru": "уровень понижен до «{title}» — {percent} %",
        "en": "level lowered to «{title}» — {percent} %",
    },
    "grant": {
        "ru": "+{points} — {reason} (выдал: {actor})",
        "en": "+{points} — {reason} (by {actor})",
    },
    "expired": {"ru": "сгорело {points} — {reason}", "en": "{points} expired — {reason}"},
    # the ledger's own reasons (Russian in the books)
    "reason.capture": {"ru": "сделка выиграна: оплата баллами", "en": "deal won: paid with points"},
    "reason.refund": {
        "ru": "оплата баллами по сделке отменена",
        "en": "payment with points for the deal cancelled",
    },
    "reason.lost": {"ru": "сделка проиграна: резерв снят", "en": "deal lost: reservation released"},
    "reason.pay_changed": {"ru": "оплата баллами изменена", "en": "payment with points changed"},
    "reason.recounted": {
        "ru": "сделка изменена: начисление пересчитано",
        "en": "deal changed: points recounted",
    },
    "reason.not_won": {"ru": "сделка больше не выиграна", "en": "deal no longer won"},
    "reason.expired": {"ru": "баллы сгорели: срок истёк {at}", "en": "points expired: due {at}"},
    "reason.offers_pay": {
        "ru": "оплата бонусами по сделке №{deal}",
        "en": "paid with points, deal #{deal}",
    },
    # a campaign's line (before the plain "earned" ones: reasons are recognised in this order)
    "reason.campaign_x": {
        "ru": "+{points}: ×{factor} по акции «{title}»",
        "en": "+{points}: ×{factor} in the «{title}» campaign",
    },
    "reason.campaign_both": {
        "ru": "+{points}: ×{factor} и бонус по акции «{title}»",
        "en": "+{points}: ×{factor} and a bonus in the «{title}» campaign",
    },
    "reason.campaign_bonus": {
        "ru": "+{points}: бонус по акции «{title}»",
        "en": "+{points}: a bonus in the «{title}» campaign",
    },
    "reason.earned_percent": {
        "ru": "+{points}: {what} от {base}",
        "en": "+{points}: {what} of {base}",
    },
    "reason.earned": {"ru": "+{points}: {what}", "en": "+{points}: {what}"},
    "reason.pay_share": {
        "ru": "Списать {points} из {asked} запрошенных: не больше {share} от заказа {order}",
        "en": "Pay {points} of {asked} asked: at most {share} of the {order} order",
    },
    "reason.pay_balance": {
        "ru": "Списать {points} из {asked} запрошенных: на счёте {balance_points}",
        "en": "Pay {points} of {asked} asked: the balance is {balance_points}",
    },
    "reason.pay": {
        "ru": "Списать {points} из {asked} запрошенных",
        "en": "Pay {points} of {asked} asked",
    },
    "reason.pay_pipeline": {
        "ru": "Оплата бонусами в этом направлении не применяется",
        "en": "Paying with points is not applicable in this pipeline",
    },
    # the per-contact offers list
    "offers.list": {"ru": "Скидки и бонусы по сделкам", "en": "Deal discounts and bonuses"},
    "offers.deal": {"ru": "Сделка", "en": "Deal"},
    "offers.contact": {"ru": "Контакт", "en": "Contact"},
    "offers.offers": {"ru": "Доступные скидки и бонусы", "en": "Available discounts and bonuses"},
    "offers.points": {"ru": "Оплатить бонусами", "en": "Pay with points"},
    "offers.applied": {"ru": "Применено", "en": "Applied"},
    "offers.account": {"ru": "Бонусный счёт", "en": "Points account"},
    "offers.discount": {"ru": "Применить «{title}», %", "en": "Apply «{title}», %"},
    "offers.paid": {"ru": "Оплата бонусами: {points}", "en": "Paid with points: {points}"},
    "offers.nothing": {"ru": "ничего не применено", "en": "nothing applied"},
    "offers.element": {"ru": "Сделка №{deal}: {name}", "en": "Deal #{deal}: {name}"},
    # the user fields Kopilka provisions
    "field.balance": {"ru": "Бонусный баланс", "en": "Bonus balance"},
    "field.level": {"ru": "Уровень программы", "en": "Loyalty level"},
    "field.percent": {"ru": "Процент начисления", "en": "Earn percent"},
    "field.won_deals": {"ru": "Выигранных сделок", "en": "Won deals"},
    "field.card_number": {"ru": "Номер бонусной карты", "en": "Bonus card number"},
    "field.birthday_flag": {"ru": "День рождения скоро", "en": "Birthday window"},
    "field.purchases_total": {"ru": "Сумма покупок", "en": "Purchases total"},
    "field.pending": {"ru": "Бонусы в ожидании", "en": "Pending points"},
    "field.expiring_soon": {"ru": "Бонусы скоро сгорят", "en": "Points expiring soon"},
    "field.pay_with_points": {"ru": "Сколько списать баллов", "en": "Points to pay"},
    "field.points_paid": {"ru": "Оплачено баллами", "en": "Paid with points"},
    "field.points_earned": {"ru": "Начислено баллов", "en": "Points earned"},
    "field.deal.balance": {"ru": "Баланс клиента, баллов", "en": "Customer's points balance"},
    "field.max_payable": {"ru": "Можно оплатить баллами", "en": "Payable with points"},
    "field.discount": {"ru": "Скидка: {title}, %", "en": "Discount: {title}, %"},
}


def say(locale: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``locale`` (Russian when the locale has none), filled in."""
    entry = TEXTS[key]
    return entry.get(locale, entry["ru"]).format(**values)


def points(locale: str, minor: int) -> str:
    """«500 бонусов» / "500 points"."""
    return points_en(minor) if locale == "en" else points_ru(minor)


_NUMBER = r"-?[\d\u00a0 ]+(?:,\d+)?"
_SLOTS = {
    "points": rf"(?P<{{name}}>{_NUMBER}) бонус(?:а|ов)?",
    "money": rf"(?P<{{name}}>{_NUMBER}\u00a0₽)",
    "text": r"(?P<{name}>.+?)",
}


def _slot(name: str) -> str:
    if name.endswith("points"):
        return "points"
    return "money" if name in ("base", "order") else "text"


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    out = []
    for key, entry in TEXTS.items():
        if not key.startswith("reason."):
            continue
        parts = re.split(r"\{(\w+)\}", entry["ru"])
        regex = "".join(
            re.escape(part) if n % 2 == 0 else _SLOTS[_slot(part)].format(name=part)
            for n, part in enumerate(parts)
        )
        out.append((re.compile(regex), key))
    return tuple(out)


def _english(name: str, value: str) -> str:
    if name == "factor":
        return value.replace(",", ".")
    if _slot(name) == "points":
        return f"{value} point{'' if value == '1' else 's'}"
    return re.sub(r"(\d),(\d+\u00a0%)", r"\1.\2", value)  # "2,5 %" -> "2.5 %"


def reason(locale: str, text: str) -> str:
    """A ledger reason as an English portal reads it (unchanged in Russian, or when a person
    typed it)."""
    if locale == "ru" or not text:
        return text
    for pattern, key in _patterns():
        found = pattern.fullmatch(text)
        if found is None:
            continue
        values = {name: _english(name, value) for name, value in found.groupdict().items()}
        return say(locale, key, **values)
    return text
