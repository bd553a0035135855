import pytest

from kopilka.phones import InvalidPhone, is_mobile, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["8 (912) 345-67-89", "89123456789", "79123456789", "9123456789", "+7 912 345 67 89"],
)
def test_russian_forms_become_one_number(raw: str) -> None:
    assert normalize_phone(raw) == "+79123456789"


def test_fixed_line_and_kazakh_numbers() -> None:
    assert normalize_phone("8 (495) 123-45-67") == "+74951234567"
    assert normalize_phone("+7 (7172) 12-34-56") == "+77172123456"
    assert not is_mobile("+74951234567")
    assert is_mobile("+79123456789")


@pytest.mark.parametrize("raw", ["", "   ", "abc", "8 912 345 67", "+7 000 000 00 00"])
def test_bad_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)
