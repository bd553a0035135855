"""PHP-bracket decoding of query strings and bodies (§2.2)."""

from __future__ import annotations

from urllib.parse import urlencode

from b24emu.params import decode_request, flatten_form, get_ci, parse_query


def test_brackets_build_nested_objects_and_lists() -> None:
    query = urlencode(
        [
            ("fields[TITLE]", "Order"),
            ("fields[PHONE][0][VALUE]", "+7916"),
            ("fields[PHONE][0][VALUE_TYPE]", "WORK"),
            ("select[]", "ID"),
            ("select[]", "TITLE"),
            ("filter[>ID]", "100"),
            ("filter[@ID][]", "1"),
            ("filter[@ID][]", "2"),
            ("fields[UF_CRM_X]", "7"),
        ]
    )
    params = parse_query(query)
    assert params["fields"]["TITLE"] == "Order"
    assert params["fields"]["PHONE"] == [{"VALUE": "+7916", "VALUE_TYPE": "WORK"}]
    assert params["fields"]["UF_CRM_X"] == "7"
    assert params["select"] == ["ID", "TITLE"]
    assert params["filter"] == {">ID": "100", "@ID": ["1", "2"]}


def test_explicit_indexes_out_of_order_stay_an_object() -> None:
    assert parse_query("a[1]=x&a[0]=y") == {"a": {"1": "x", "0": "y"}}
    assert parse_query("a[0]=y&a[1]=x") == {"a": ["y", "x"]}


def test_post_overrides_get_and_bad_json_is_ignored() -> None:
    params = decode_request("id=1&x=2", b"id=5", "application/x-www-form-urlencoded")
    assert params == {"id": "5", "x": "2"}
    assert decode_request("id=1", b"{not json", "application/json") == {"id": "1"}
    assert decode_request("", b'{"id": 3}', "application/json; charset=utf-8") == {"id": 3}


def test_multipart_fields() -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="fields[NAME]"\r\n\r\n'
        b"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0\r\n--XX--\r\n"
    )
    assert decode_request("", body, "multipart/form-data; boundary=XX") == {
        "fields": {"NAME": "Анна"}
    }


def test_case_insensitive_legacy_names_and_flattening() -> None:
    assert get_ci({"FIELDS": {"a": 1}}, "fields") == {"a": 1}
    assert get_ci({"arFields": 1}, "fields", "arFields") == 1
    pairs = flatten_form({"data": {"FIELDS": {"ID": 5}}, "ok": True, "n": None})
    assert pairs == [("data[FIELDS][ID]", "5"), ("ok", "1"), ("n", "")]
