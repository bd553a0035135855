"""What Kopilka offers Bitrix24's automation: four actions, each a robot (CRM automation rules,
on deals) and the same as a business-process activity (the designer; also on contacts), with
their parameters and the values they return (reference §11.1, §11.4).

A robot and an activity of one application may not share a code inside Bitrix24 (one table
holds both), so the activity's code is the robot's with ``_bp``. Every action returns ``error``:
empty when it worked, else the refusal in the manager's words (the robot log shows it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREFIX = "kopilka_"
ACTIVITY_SUFFIX = "_bp"
DEAL = ["crm", "CCrmDocumentDeal"]
CONTACT = ["crm", "CCrmDocumentContact"]


def _lang(ru: str, en: str) -> dict[str, str]:
    return {"ru": ru, "en": en}


def _prop(
    ru: str, en: str, kind: str, *, required: bool = False, about: str = ""
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Name": _lang(ru, en),
        "Type": kind,
        "Required": "Y" if required else "N",
        "Multiple": "N",
    }
    if about:
        spec["Description"] = {"ru": about, "en": about}
    return spec


ERROR = _prop("Ошибка", "Error", "string")
BALANCE = _prop("Баланс бонусов", "Points balance", "double")
CARD = _prop("Номер карты", "Card number", "string")


@dataclass(frozen=True)
class Action:
    name: str  # accrue | pay | card | balance
    title: dict[str, str]
    description: dict[str, str]
    properties: dict[str, Any]
    returns: dict[str, Any]
    on_contacts: bool  # the activity also runs on a contact (robots run on deals only)

    @property
    def robot_code(self) -> str:
        return PREFIX + self.name

    @property
    def activity_code(self) -> str:
        return self.robot_code + ACTIVITY_SUFFIX

    def fields(self, handler_url: str, *, robot: bool) -> dict[str, Any]:
        """``bizproc.robot.add`` / ``bizproc.activity.add`` without ``CODE``."""
        include = [DEAL, CONTACT] if self.on_contacts and not robot else [DEAL]
        fields: dict[str, Any] = {
            "HANDLER": handler_url,
            "USE_SUBSCRIPTION": "Y",
            "NAME": self.title,
            "DESCRIPTION": self.description,
            "PROPERTIES": self.properties,
            "RETURN_PROPERTIES": self.returns,
            "FILTER": {"INCLUDE": include},
            "USE_PLACEMENT": "N",
        }
        if robot:  # the types of the parameters come from the deal
            fields["DOCUMENT_TYPE"] = [*DEAL, "DEAL"]
        return fields


ACTIONS: tuple[Action, ...] = (
    Action(
        "accrue",
        _lang("Копилка: начислить бонусы", "Kopilka: accrue bonus points"),
        _lang(
            "Бонус по причине из программы, в её лимитах; покупателю сделки или контакту",
            "A bonus for a reason of the program, within its limits",
        ),
        {
            "reason": _prop(
                "Причина (код из программы)",
                "Reason (the program's code)",
                "string",
                required=True,
                about="review, apology…",
            ),
            "amount": _prop(
                "Сколько бонусов", "Points", "double", about="пусто — по умолчанию для причины"
            ),
            "comment": _prop("Комментарий", "Comment", "text"),
        },
        {"balance": BALANCE, "error": ERROR},
        on_contacts=True,
    ),
    Action(
        "pay",
        _lang("Копилка: оплатить бонусами", "Kopilka: pay with points"),
        _lang(
            "Списать бонусы покупателя в оплату этой сделки (не больше, чем позволяет программа)",
            "Pay this deal with the payer's points, within the program's cap",
        ),
        {"amount": _prop("Сколько бонусов списать", "Points to pay", "double", required=True)},
        {
            "applied": _prop("Списано бонусов", "Points applied", "double"),
            "balance": BALANCE,
            "error": ERROR,
        },
        on_contacts=False,
    ),
    Action(
        "card",
        _lang("Копилка: выдать бонусную карту", "Kopilka: issue the bonus card"),
        _lang(
            "Карта по телефону покупателя; уже выданная остаётся",
            "A card by the customer's phone",
        ),
        {},
        {"card_number": CARD, "error": ERROR},
        on_contacts=True,
    ),
    Action(
        "balance",
        _lang("Копилка: узнать баланс", "Kopilka: get the balance"),
        _lang(
            "Баланс, уровень, номер карты и сколько бонусов можно списать в сделке",
            "Balance, level, card number and the most the deal may pay with points",
        ),
        {},
        {
            "balance": BALANCE,
            "level": _prop("Уровень", "Level", "string"),
            "card_number": CARD,
            "max_payable": _prop("Можно списать в сделке", "Payable on the deal", "double"),
            "error": ERROR,
        },
        on_contacts=True,
    ),
)
BY_CODE: dict[str, Action] = {
    **{a.robot_code: a for a in ACTIONS},
    **{a.activity_code: a for a in ACTIONS},
}


@dataclass(frozen=True)
class Answer:
    """What the portal is told: the return values and the line for the robot's log."""

    values: dict[str, str]
    log: str
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"values": self.values, "log": self.log, "error": self.error}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(dict(data["values"]), str(data["log"]), data.get("error"))
