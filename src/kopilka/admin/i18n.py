"""The admin's words, Russian and English (issue 18, item 7): the admin speaks the program's
locale unless the person picks the other language (``?lang=``, remembered in a cookie)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LANGS = ("ru", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "admin": ("Kopilka · управление", "Kopilka · admin"),
    "login": ("Логин", "Login"),
    "password": ("Пароль", "Password"),
    "enter": ("Войти", "Sign in"),
    "logout": ("Выйти", "Sign out"),
    "err.bad_password": ("Неверный логин или пароль", "Wrong login or password"),
    "err.locked": ("Слишком много попыток, попробуйте позже", "Too many attempts, try later"),
    "err.csrf": ("Форма устарела, обновите страницу", "The form expired: reload the page"),
    "err.not_configured": (
        "Нет ни одного пользователя: создайте владельца командой «kopilka admin user add»",
        "No users yet: create an owner with «kopilka admin user add»",
    ),
    "err.handover": (
        "Ссылка для входа недействительна или уже использована",
        "This sign-in link is invalid or was already used",
    ),
    "err.forbidden": ("Это действие недоступно вашей роли", "Your role does not allow this"),
    "nav.customers": ("Клиенты", "Customers"),
    "nav.requests": ("На согласовании", "Approvals"),
    "nav.people": ("Пользователи", "People"),
    "nav.audit": ("Журнал действий", "Audit log"),
    "nav.reports": ("Отчёты", "Reports"),
    "nav.campaigns": ("Акции", "Campaigns"),
    "nav.operations": ("Операции", "Operations"),
    "nav.segments": ("Рассылки", "Mailings"),
    "nav.iiko": ("Ресторан (iiko)", "Restaurant (iiko)"),
    "portal": ("Портал", "Portal"),
    "switch": ("Перейти", "Switch"),
    "search.placeholder": ("Телефон, имя или карта", "Phone, name or card"),
    "search": ("Найти", "Search"),
    "nothing": ("Ничего не найдено", "Nothing found"),
    "no_customer": ("Нет клиента #{n}", "No customer #{n}"),
    "card": ("карта", "card"),
    "parked": ("Сделки, которые не удаётся обработать", "Deals that cannot be synced"),
    "deal": ("Сделка", "Deal"),
    "attempts": ("попыток", "attempts"),
    "next_try": ("следующая", "next"),
    "balance": ("Баланс", "Balance"),
    "total": ("всего", "total"),
    "pending": ("ожидают начисления", "pending"),
    "held": ("в резерве", "held"),
    "cards": ("Карты", "Cards"),
    "holds": ("Резервы", "Holds"),
    "until": ("до", "until"),
    "ledger": ("История операций", "Ledger"),
    "reversed_by": ("отменено записью", "reversed by"),
    "who": ("кто", "by"),
    "source": ("источник", "source"),
    "rule": ("правило", "rule"),
    "grant": ("Начислить бонусы вручную", "Grant points by hand"),
    "reason": ("Причина", "Reason"),
    "amount": ("Бонусов", "Points"),
    "comment": ("Комментарий", "Comment"),
    "do_grant": ("Начислить", "Grant"),
    "granted": ("Начислено: {points}", "Granted: {points}"),
    "requested": (
        "Больше {limit} бонусов: начисление ждёт согласования владельца (заявка №{n})",
        "Above {limit} points: the grant waits for an owner's approval (request #{n})",
    ),
    "refused": ("Не начислено: {why}", "Not granted: {why}"),
    "reverse": ("Отменить запись", "Reverse this entry"),
    "reversed": ("Запись отменена", "Entry reversed"),
    "reissue": ("Перевыпустить карту", "Re-issue the card"),
    "reissued": ("Карта выпущена: {n}", "Card issued: {n}"),
    "why": ("Почему", "Why"),
    "status.active": ("действует", "active"),
    "status.blocked": ("заблокирована", "blocked"),
    "status.captured": ("списан", "captured"),
    "status.released": ("снят", "released"),
    "status.expired": ("истёк", "expired"),
    "card.no_contact": ("клиент не из Битрикс24", "the customer is not a Bitrix24 contact"),
    "card.incomplete": ("в контакте не хватает данных", "the contact lacks required fields"),
    "card.no_phone": ("у контакта нет телефона", "the contact has no phone"),
    "card.bad_phone": ("телефон контакта не похож на номер", "the contact's phone is not a number"),
    "card.taken": ("номер уже на карте другого клиента", "the number is another customer's card"),
    "req.title": ("Начисления на согласовании", "Grants waiting for approval"),
    "req.none": ("Нет заявок", "No requests"),
    "req.by": ("просит", "asked by"),
    "approve": ("Согласовать", "Approve"),
    "reject": ("Отклонить", "Reject"),
    "req.approved": ("Согласовано, начислено (запись №{n})", "Approved, posted (entry #{n})"),
    "req.rejected": ("Заявка отклонена", "Request rejected"),
    "req.own": (
        "Свою заявку согласует другой владелец",
        "Another owner approves your own request",
    ),
    "req.decided": ("Заявка уже рассмотрена", "This request was already decided"),
    "people.title": ("Пользователи портала", "People of this portal"),
    "people.add": ("Добавить пользователя", "Add a person"),
    "name": ("Имя", "Name"),
    "role": ("Роль", "Role"),
    "role.owner": ("владелец", "owner"),
    "role.manager": ("менеджер", "manager"),
    "role.viewer": ("наблюдатель", "viewer"),
    "limit": ("Лимит начислений", "Grant limit"),
    "no_limit": ("без лимита", "no limit"),
    "per": ("за", "per"),
    "period.day": ("день", "day"),
    "period.week": ("неделю", "week"),
    "period.month": ("месяц", "month"),
    "period.year": ("год", "year"),
    "create": ("Создать", "Create"),
    "save": ("Сохранить", "Save"),
    "disable": ("Отключить", "Disable"),
    "disabled": ("отключён", "disabled"),
    "created": ("Пользователь {login} создан", "{login} created"),
    "saved": ("Сохранено", "Saved"),
    "from_b24": ("из Битрикс24", "from Bitrix24"),
    "audit.title": ("Журнал действий", "Audit log"),
    "audit.person": ("Кто", "Person"),
    "audit.action": ("Действие", "Action"),
    "audit.from": ("С", "From"),
    "audit.to": ("По", "To"),
    "audit.any": ("все", "any"),
    "filter": ("Показать", "Filter"),
    "when": ("Когда", "When"),
    "what": ("Что", "What"),
    "bootstrap": (
        "Вход по общему паролю: создайте владельца — после этого общий пароль перестанет работать",
        "Signed in with the shared password: create an owner; then the shared password "
        "stops working",
    ),
    "handover.title": ("Вход из Битрикс24", "Sign in from Bitrix24"),
    "handover.text": (
        "Вы войдёте в управление Kopilka как владелец портала {portal}.",
        "You will sign in to the Kopilka admin as the owner of {portal}.",
    ),
}

ACTIONS: dict[str, tuple[str, str]] = {
    "grant.posted": ("начисление", "grant"),
    "grant.requested": ("заявка на начисление", "grant requested"),
    "grant.approved": ("заявка согласована", "grant approved"),
    "grant.rejected": ("заявка отклонена", "grant rejected"),
    "entry.reversed": ("отмена записи", "entry reversed"),
    "card.issued": ("выпуск карты", "card issued"),
    "user.created": ("новый пользователь", "user created"),
    "user.role": ("роль и лимит", "role and limit"),
    "user.password": ("смена пароля", "password changed"),
    "user.disabled": ("пользователь отключён", "user disabled"),
    "user.signed_in": ("вход", "signed in"),
    "limit.set": ("лимит начислений", "grant limit set"),
    "limit.removed": ("лимит снят", "grant limit removed"),
    "program.applied": ("программа применена", "program applied"),
    "portal.renamed": ("портал переименован", "portal renamed"),
    "portal.disconnected": ("портал отключён", "portal disconnected"),
    "message.retried": ("сообщение отправлено снова", "message sent again"),
    "message.cancelled": ("сообщение отменено", "message cancelled"),
    "deal.resynced": ("сделка пересчитана заново", "deal re-synced"),
}


def pick(request: Request, locale: str | None) -> str:
    """The person's pick (``?lang=`` or its cookie), else the program's locale, else Russian."""
    asked = request.query_params.get("lang") or request.cookies.get("kop_lang")
    if asked in LANGS:
        return str(asked)
    return locale if locale in LANGS else "ru"


def translator(lang: str) -> Callable[..., str]:
    index = LANGS.index(lang)

    def a(key: str, **kw: object) -> str:
        text = TEXTS[key][index]
        return text.format(**kw) if kw else text

    return a


def action_name(lang: str, action: str) -> str:
    found = ACTIONS.get(action)
    return found[LANGS.index(lang)] if found else action
