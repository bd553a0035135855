"""Robots and business-process activities: Kopilka's actions in Bitrix24 automation."""
