"""Kopilka inside Bitrix24: the pages a portal frames (CRM card tabs, the app page) and who is
looking at them (docs/bitrix24.md, "Inside Bitrix24")."""
