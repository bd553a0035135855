"""Business errors of the domain, with a stable machine code each.

    KopilkaError                    root; every expected failure is one of these
    ├── InvalidAmount               an amount that is negative, zero, a float, or has > 2 decimals
    ├── InvalidCommand              a command whose inputs contradict each other (e.g. dates)
    ├── NotFound                    a customer, account, entry or hold that does not exist
    │   ├── UnknownCustomer
    │   ├── UnknownTransaction
    │   └── UnknownHold
    ├── Conflict                    the request contradicts the ledger's state
    │   ├── InsufficientPoints      spending more than the available (not pending, not held) balance
    │   ├── IdempotencyConflict     the same idempotency key reused with different inputs
    │   ├── AlreadyReversed
    │   ├── NotReversible
    │   └── HoldNotActive           capturing or releasing a hold that is no longer active
    └── ProgramError                a program file that cannot be loaded (kopilka.program.errors)

HTTP statuses are mapped at the web edge, never here.
"""

from __future__ import annotations


class KopilkaError(Exception):
    code = "kopilka_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(KopilkaError):
    code = "invalid_amount"


class InvalidCommand(KopilkaError):
    code = "invalid_command"


class NotFound(KopilkaError):
    code = "not_found"


class UnknownCustomer(NotFound):
    code = "unknown_customer"


class UnknownTransaction(NotFound):
    code = "unknown_entry"


class UnknownHold(NotFound):
    code = "unknown_hold"


class Conflict(KopilkaError):
    code = "conflict"


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class AlreadyReversed(Conflict):
    code = "already_reversed"


class NotReversible(Conflict):
    code = "not_reversible"


class HoldNotActive(Conflict):
    code = "hold_not_active"


class ProgramError(KopilkaError):
    code = "invalid_program"
