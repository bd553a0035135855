"""Kopilka's public HTTP API under ``/api/v1``: API keys with scopes, one error shape."""
