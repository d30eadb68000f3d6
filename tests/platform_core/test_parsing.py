"""Reading what clients send (platform_core.parsing): integers (parse_client_int) and JSON (parse_json)."""

import pytest

from platform_core.errors import ApplicationError
from platform_core.parsing import BIGINT_MAX, parse_client_int, parse_json

ACCEPTED = [
    ("0", 0),
    ("7", 7),
    ("007", 7),
    (str(BIGINT_MAX), BIGINT_MAX),
    (0, 0),
    (42, 42),
    (BIGINT_MAX, BIGINT_MAX),
]
REFUSED = [
    "",
    " 7",
    "7 ",
    "+7",
    "-7",
    "7.0",
    "1e3",
    "0x10",
    "٣",
    "３",
    "²",
    "¹²",
    "7\x00",
    "9" * 20,
    str(BIGINT_MAX + 1),
    -1,
    BIGINT_MAX + 1,
    True,
    False,
    7.0,
    None,
    [7],
    {"n": 7},
]


@pytest.mark.parametrize("value, expected", ACCEPTED)
def test_ascii_digits_and_json_integers_are_read(value, expected):
    assert parse_client_int(value, "n") == expected


@pytest.mark.parametrize("value", REFUSED)
def test_anything_else_is_a_clear_error_naming_the_field(value):
    with pytest.raises(ApplicationError) as refused:
        parse_client_int(value, "after")
    assert refused.value.code == "invalid" and list(refused.value.fields) == ["after"]


@pytest.mark.parametrize(
    "value, minimum, maximum, ok",
    [
        ("1", 1, 100, True),
        ("0", 1, 100, False),
        ("100", 1, 100, True),
        ("101", 1, 100, False),
        ("1000", 1, 100, False),
    ],
)
def test_bounds_are_inclusive(value, minimum, maximum, ok):
    if ok:
        assert parse_client_int(value, "page", minimum=minimum, maximum=maximum) == int(value)
    else:
        with pytest.raises(ApplicationError):
            parse_client_int(value, "page", minimum=minimum, maximum=maximum)


# --- JSON text (parse_json): only what PostgreSQL can store ------------------------------
@pytest.mark.parametrize("text", ['"\\u0000"', '["\\ud800"]', '{"\\udfff": 1}', '{"a": "x\\ud83d"}'])
def test_json_holding_a_nul_or_a_lone_surrogate_is_refused(text):
    with pytest.raises(ValueError):
        parse_json(text)


def test_a_surrogate_pair_is_one_character_and_accepted():
    assert parse_json('"\\ud83d\\ude00 ñ"') == "😀 ñ"
