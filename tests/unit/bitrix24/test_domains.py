"""A portal's domain compared normalised (issue 15, item 3)."""

from __future__ import annotations

import pytest

from kopilka.bitrix24.domains import normal_domain


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("shop.bitrix24.ru", "shop.bitrix24.ru"),
        ("Shop.Bitrix24.RU", "shop.bitrix24.ru"),
        ("shop.bitrix24.ru.", "shop.bitrix24.ru"),
        ("crm.example.local:8443", "crm.example.local"),
        ("https://crm.example.local:8443/rest/1/abc/", "crm.example.local"),
        ("http://user@CRM.example.local.:80", "crm.example.local"),
        (" 10.0.0.7:8080 ", "10.0.0.7"),
        ("", ""),
        ("https://", ""),
        ("crm.example.local:port", "crm.example.local"),  # whatever the port says
    ],
)
def test_normal_domain(given: str, expected: str) -> None:
    assert normal_domain(given) == expected
