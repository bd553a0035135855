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
    # the deal tab (deal_tab.py, templates/deal.html)
    "deal.cap": {"ru": "Можно оплатить баллами", "en": "May pay with points"},
    "deal.will_earn": {"ru": "Начислим при выигрыше", "en": "Earns if won"},
    "deal.paid": {"ru": "Оплачено баллами", "en": "Paid with points"},
    "deal.earned": {"ru": "Начислено", "en": "Earned"},
    "deal.offer": {"ru": "Скидка или бонус", "en": "Discount or bonus"},
    "deal.terms": {"ru": "Условия", "en": "Terms"},
    "deal.chosen": {"ru": "Применено", "en": "Applied"},
    "deal.chosen_by": {"ru": "Выбрал(а): {who}, {at}", "en": "Chosen by {who}, {at}"},
    "deal.in_list": {"ru": "в списке «Скидки и бонусы по сделкам»", "en": "in the offers list"},
    "deal.via_field": {
        "ru": "списывается через поле сделки «Сколько списать баллов»",
        "en": "paid through the deal's points-to-pay field",
    },
    "deal.pay": {"ru": "Оплатить баллами (до {cap})", "en": "Pay with points (up to {cap})"},
    "deal.up_to": {"ru": "до", "en": "up to"},
    "deal.apply": {"ru": "Применить", "en": "Apply"},
    "deal.won": {
        "ru": "Сделка выиграна: баллы списаны и начислены.",
        "en": "The deal is won: points were taken and earned.",
    },
    "deal.lost": {
        "ru": "Сделка проиграна: баллы возвращены клиентам.",
        "en": "The deal is lost: held points went back to the customers.",
    },
    "deal.no_contacts": {"ru": "У сделки нет контактов.", "en": "The deal has no contacts."},
    "deal.no_program": {
        "ru": "Бонусная программа ещё не настроена.",
        "en": "The loyalty program is not set up yet.",
    },
    "deal.unseen": {
        "ru": "Копилка ещё не видела эту сделку: обновите вкладку через минуту.",
        "en": "Kopilka has not seen this deal yet: reopen the tab in a minute.",
    },
    "deal.deleted": {"ru": "Сделка удалена.", "en": "The deal was deleted."},
    "asked": {
        "ru": "Выбор сохранён; сделка пересчитывается.",
        "en": "Saved; the deal is being recalculated.",
    },
    "form.contact": {"ru": "Не указан контакт.", "en": "No contact given."},
    "form.points": {
        "ru": "Баллы — число, например 500 или 500,50.",
        "en": "Points are a number, e.g. 500 or 500.50.",
    },
    "form.percent": {
        "ru": "Процент скидки — число, например 5.",
        "en": "A discount percent is a number, e.g. 5.",
    },
    "ask.closed": {
        "ru": "Сделка закрыта: изменить скидки и оплату баллами уже нельзя.",
        "en": "The deal is closed: discounts and payments can no longer change.",
    },
    "ask.not_on_deal": {
        "ru": "Этого контакта нет в сделке.",
        "en": "This contact is not on the deal.",
    },
    "ask.negative": {
        "ru": "Число не может быть отрицательным.",
        "en": "A number cannot be negative.",
    },
    "ask.no_discount": {
        "ru": "Такой скидки в программе нет.",
        "en": "The program has no such discount.",
    },
    "ask.not_applicable": {
        "ru": "«{title}» не применяется в этой сделке.",
        "en": "«{title}» does not apply to this deal.",
    },
    "ask.over_percent": {
        "ru": "«{title}»: не больше {percent} %.",
        "en": "«{title}»: at most {percent} %.",
    },
    "ask.no_paying": {
        "ru": "Этот контакт не может оплатить сделку баллами.",
        "en": "This contact cannot pay the deal with points.",
    },
    "ask.points_not_applicable": {
        "ru": "Оплата баллами в этом направлении не применяется.",
        "en": "Points do not pay in this pipeline.",
    },
    "ask.over_cap": {
        "ru": "Можно оплатить баллами не больше {cap}.",
        "en": "At most {cap} points may pay.",
    },
    "ask.step": {
        "ru": "Баллы списываются кратно {step}.",
        "en": "Points are paid in steps of {step}.",
    },
    "deal.contact_no": {"ru": "Контакт №{id}", "en": "Contact #{id}"},
    "ask.bad_key": {
        "ru": "Форма устарела: обновите вкладку.",
        "en": "The form is out of date: reopen the tab.",
    },
}
TEXTS |= CONTACT_WORDS  # the contact tab's and the permissions page's, in a module of their own


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        words = TEXTS.get(key, {})
        text = words.get(lang) or words.get("ru") or key
        return text.format(**values) if values else text

    return t
