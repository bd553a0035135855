"""The words of the contact tab and of the permissions page (gathered into
:data:`kopilka.b24app.texts.TEXTS`): a manager's words («баллы», «сделка», «контакт»), Russian
first, English available."""

from __future__ import annotations

CONTACT_WORDS: dict[str, dict[str, str]] = {
    "bonuses": {"ru": "Бонусы", "en": "Bonus points"},
    "level": {"ru": "Уровень", "en": "Level"},
    "no_level": {"ru": "пока без уровня", "en": "no level yet"},
    "to_next": {"ru": "До уровня «{title}»", "en": "To «{title}»"},
    "deals_left": {"ru": "ещё сделок: {n}", "en": "deals to go: {n}"},
    "card": {"ru": "Бонусная карта", "en": "Bonus card"},
    "card_issue": {"ru": "Выпустить карту", "en": "Issue the card"},
    "card_reissue": {"ru": "Выпустить заново", "en": "Issue again"},
    "card_issued": {"ru": "Карта {number} выпущена.", "en": "Card {number} issued."},
    "card_exists": {
        "ru": "У контакта уже есть карта {number}; номер снова записан в карточку контакта.",
        "en": "The contact already has card {number}; its number is written to the contact again.",
    },
    "card_incomplete": {
        "ru": "Карта не выпущена: в контакте не заполнены нужные поля.",
        "en": "No card: the contact lacks the required fields.",
    },
    "card_no_phone": {
        "ru": "Карта не выпущена: у контакта нет телефона. Добавьте телефон и выпустите снова.",
        "en": "No card: the contact has no phone. Add one and issue again.",
    },
    "card_bad_phone": {
        "ru": "Карта не выпущена: телефон контакта не похож на номер.",
        "en": "No card: the contact's phone is not a valid number.",
    },
    "card_taken": {
        "ru": "Карта не выпущена: номер {number} уже принадлежит карте другого контакта.",
        "en": "No card: number {number} already belongs to another contact's card.",
    },
    "expiring": {"ru": "Скоро сгорят", "en": "Expiring soon"},
    "grant": {"ru": "Начислить бонус", "en": "Grant a bonus"},
    "reason": {"ru": "Причина", "en": "Reason"},
    "amount": {"ru": "Баллов", "en": "Points"},
    "by_default": {"ru": "по умолчанию", "en": "default"},
    "comment": {"ru": "Комментарий", "en": "Comment"},
    "do_grant": {"ru": "Начислить", "en": "Grant"},
    "default_amount": {"ru": "По умолчанию", "en": "Default"},
    "max_per_grant": {"ru": "Не больше за раз", "en": "Max per grant"},
    "per_period_limit": {"ru": "Лимит для контакта", "en": "Limit per contact"},
    "left_for_contact": {"ru": "Осталось", "en": "Left"},
    "comment_required": {"ru": "нужен комментарий", "en": "comment required"},
    "no_reasons": {
        "ru": "В программе нет причин для ручного начисления.",
        "en": "The program has no reasons for manual bonuses.",
    },
    "my_limit": {
        "ru": "Ваш лимит начислений: {limit} в {period}, осталось {left}.",
        "en": "Your grant limit: {limit} a {period}, {left} left.",
    },
    "in_period": {"ru": "в {period}", "en": "a {period}"},
    "per_day": {"ru": "день", "en": "day"},
    "per_week": {"ru": "неделю", "en": "week"},
    "per_month": {"ru": "месяц", "en": "month"},
    "per_year": {"ru": "год", "en": "year"},
    "per_days": {"ru": "период", "en": "period"},
    "ledger": {"ru": "История баллов", "en": "Points history"},
    "date": {"ru": "Дата", "en": "Date"},
    "what": {"ru": "За что", "en": "What for"},
    "points": {"ru": "Баллы", "en": "Points"},
    "granted_by": {"ru": "начислил(а):", "en": "granted by"},
    "no_entries": {"ru": "Записей пока нет.", "en": "No entries yet."},
    "older": {"ru": "Более ранние записи", "en": "Older entries"},
    "granted": {"ru": "Начислено {points}: {reason}.", "en": "Granted {points}: {reason}."},
    "replayed": {
        "ru": "(Форма отправлена повторно — второй раз ничего не начислено.)",
        "en": "(The form was sent again — nothing was granted twice.)",
    },
    "no_contact": {"ru": "Контакт не найден в портале.", "en": "The contact is not in the portal."},
    "portal_down": {
        "ru": "Портал не ответил. Попробуйте ещё раз через минуту.",
        "en": "The portal did not answer. Try again in a minute.",
    },
    "refused_unknown": {
        "ru": "Нет такой причины начисления: «{title}».",
        "en": "There is no such reason: «{title}».",
    },
    "refused_amount": {
        "ru": "Укажите число баллов больше нуля.",
        "en": "Give a number of points above zero.",
    },
    "refused_comment": {
        "ru": "«{title}»: нужен комментарий — за что начисляете.",
        "en": "«{title}»: a comment is required — what is it for.",
    },
    "refused_per_grant": {
        "ru": "«{title}»: не больше {limit} за одно начисление. Ничего не начислено.",
        "en": "«{title}»: at most {limit} per grant. Nothing was granted.",
    },
    "refused_per_period": {
        "ru": "«{title}»: лимит для контакта — {limit} в {period}, осталось {left}. "
        "Ничего не начислено.",
        "en": "«{title}»: the limit per contact is {limit} a {period}, {left} left. "
        "Nothing was granted.",
    },
    "refused_quota": {
        "ru": "Превышен ваш лимит начислений: {limit} в {period}, осталось {left}. "
        "Ничего не начислено. Лимит меняет администратор портала.",
        "en": "Your grant limit would be exceeded: {limit} a {period}, {left} left. "
        "Nothing was granted. The portal administrator sets the limit.",
    },
    # «Кто что может» (b24app/permissions_page.py)
    "permissions": {"ru": "Кто сколько может начислять", "en": "Who may grant how much"},
    "permissions_help": {
        "ru": "Администраторы портала — владельцы программы: они меняют эти лимиты. Лимит "
        "ограничивает, сколько баллов сотрудник начисляет вручную за период всем контактам по "
        "всем причинам вместе. Лимит сотрудника важнее лимита для всех менеджеров; без лимита "
        "действуют только ограничения причин в программе.",
        "en": "Portal administrators own the program and set these limits. A limit caps the "
        "points a person grants by hand per period, to all contacts and for all reasons "
        "together. A person's own limit overrides the managers' one; with no limit only the "
        "program's limits per reason apply.",
    },
    "limit_who": {"ru": "Кому", "en": "Who"},
    "limit_max": {"ru": "Баллов", "en": "Points"},
    "limit_period": {"ru": "За", "en": "Per"},
    "limit_used": {"ru": "Начислено за период", "en": "Granted this period"},
    "limit_changed": {"ru": "Изменён", "en": "Changed"},
    "limit_remove": {"ru": "Убрать", "en": "Remove"},
    "limit_set": {"ru": "Задать лимит", "en": "Set a limit"},
    "limit_user_name": {"ru": "Имя сотрудника", "en": "Person's name"},
    "limit_save": {"ru": "Сохранить", "en": "Save"},
    "limit_who_help": {
        "ru": "«manager» — для всех менеджеров; число — ID пользователя Битрикс24 (виден в "
        "адресе его профиля). 0 баллов — не может начислять вовсе.",
        "en": "«manager»: every manager; a number: the Bitrix24 user ID (in their profile's "
        "address). 0 points: may not grant at all.",
    },
    "to_settings": {"ru": "← К настройкам", "en": "← Settings"},
    "all_managers": {"ru": "Все менеджеры", "en": "Every manager"},
    "no_limits": {
        "ru": "Лимитов нет: действуют только ограничения причин в программе.",
        "en": "No limits: only the program's limits per reason apply.",
    },
    "limit_saved": {"ru": "Лимит сохранён.", "en": "The limit is saved."},
    "limit_removed": {"ru": "Лимит убран.", "en": "The limit is removed."},
    "limit_gone": {"ru": "Такого лимита уже нет.", "en": "There is no such limit any more."},
    "limit_bad_who": {
        "ru": "Кому: «manager» или ID пользователя Битрикс24.",
        "en": "Who: «manager» or a Bitrix24 user ID.",
    },
    "limit_bad_amount": {
        "ru": "Баллов: число, 0 или больше.",
        "en": "Points: a number, 0 or more.",
    },
}
