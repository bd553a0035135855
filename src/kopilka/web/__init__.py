"""The web app: Bitrix24 endpoints, health and metrics (and later the API and the cabinet)."""
