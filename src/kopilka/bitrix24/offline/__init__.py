"""Offline events (reference §6.7; docs/bitrix24.md, "Offline events"): for a Kopilka that
Bitrix24 cannot reach (a server behind NAT), the portal keeps its events in a queue and Kopilka
reads it. ``queries`` the per-portal delivery and the batch reserved; ``bindings`` which
``event.bind``/``event.unbind`` calls a delivery needs; ``delivery`` switches a portal online or
offline; ``drain`` reads the queue (reserve, hint, clear); ``deferred`` and ``tasks`` its jobs."""
