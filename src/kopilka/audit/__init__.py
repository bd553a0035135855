"""The audit log (issue 18): who changed what, when and why — written in the change's own
transaction, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

from kopilka.audit.service import record

__all__ = ["record"]
