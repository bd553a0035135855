"""Bitrix24 portal emulator (arrives with the connector issue)."""
