"""Talking to customers and managers: channels (SMS, e-mail, Bitrix24 chat and timeline), the
notification outbox, templates and the jobs that deliver them (docs/notifications.md)."""
