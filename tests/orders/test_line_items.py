"""The line item schema (orders.line_items), table by table: what shop systems
send, what is stored (JSON primitives only), and every refusal named by its
field."""

import json
from decimal import Decimal

import pytest

from orders.line_items import MAX_FREE_FORM_BYTES, MAX_ITEMS, parse_line_items
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_json


def stored(items) -> list[dict]:
    return [item.as_json() for item in parse_line_items(items)]


def from_json(text: str):
    """As the webhook reads its body: JSON numbers exactly, as Decimal."""
    return parse_json(text, parse_float=Decimal)


# --- what is kept, and how ---------------------------------------------------------------
KEPT = [
    (
        "JSON numbers are read exactly and kept as decimal strings",
        '[{"name": "Pizza", "quantity": 1.5, "unit_price": 18.5}]',
        [{"name": "Pizza", "sku": "", "quantity": "1.5", "unit_price": "18.5", "options": None, "extra": {}}],
    ),
    (
        "decimal strings and integers, with their scale",
        '[{"sku": "A", "quantity": "2", "unit_price": "9.90"}, {"sku": "B", "quantity": 3, "unit_price": 0}]',
        [
            {"name": "", "sku": "A", "quantity": "2", "unit_price": "9.90", "options": None, "extra": {}},
            {"name": "", "sku": "B", "quantity": "3", "unit_price": "0", "options": None, "extra": {}},
        ],
    ),
    (
        "an exponent is written out",
        '[{"sku": "A", "quantity": 1e2, "unit_price": 2.5E1}]',
        [{"name": "", "sku": "A", "quantity": "100", "unit_price": "25", "options": None, "extra": {}}],
    ),
    (
        "no quantity is one; null is absent; names are trimmed",
        '[{"name": " Café ", "sku": null, "unit_price": null, "options": null}]',
        [{"name": "Café", "sku": "", "quantity": "1", "unit_price": None, "options": None, "extra": {}}],
    ),
    (
        "options keep their shape; their non-integer numbers become strings as sent",
        '[{"sku": "A", "options": [{"name": "size", "value": "L"}, {"name": "extra cheese", "value": 0.50}]}]',
        [
            {
                "name": "",
                "sku": "A",
                "quantity": "1",
                "unit_price": None,
                "options": [{"name": "size", "value": "L"}, {"name": "extra cheese", "value": "0.50"}],
                "extra": {},
            }
        ],
    ),
    (
        "unknown keys are extras; integers a JavaScript reader would round become strings",
        '[{"sku": "A", "tax_rate": 0.21, "gift": true, "ids": [7, 9007199254740991, 9007199254740992, -1e400],'
        ' "meta": {"": {"ñ": null}}, "extra": "x"}]',
        [
            {
                "name": "",
                "sku": "A",
                "quantity": "1",
                "unit_price": None,
                "options": None,
                "extra": {
                    "tax_rate": "0.21",
                    "gift": True,
                    "ids": [7, 9007199254740991, "9007199254740992", "-1E+400"],
                    "meta": {"": {"ñ": None}},
                    "extra": "x",
                },
            }
        ],
    ),
    (
        "a number with an exponent stays short (never written out in full)",
        '[{"sku": "A", "options": [1e999999999, 1e-7, 2.50]}]',
        [
            {
                "name": "",
                "sku": "A",
                "quantity": "1",
                "unit_price": None,
                "options": ["1E+999999999", "1E-7", "2.50"],
                "extra": {},
            }
        ],
    ),
    ("an empty list", "[]", []),
]


@pytest.mark.parametrize("name,text,expected", KEPT, ids=[case[0] for case in KEPT])
def test_line_items_are_kept_as_json_primitives(name, text, expected):
    result = stored(from_json(text))
    assert result == expected
    assert json.loads(json.dumps(result)) == result  # nothing a JSON encoder (or msgpack) would refuse


def test_python_callers_get_the_same_schema():
    # Services are also called from code (the demo seed, the shell): no float ever.
    assert stored([{"name": "Menú", "quantity": Decimal("2"), "unit_price": Decimal("3.50"), "n": 0.25}]) == [
        {"name": "Menú", "sku": "", "quantity": "2", "unit_price": "3.50", "options": None, "extra": {"n": "0.25"}}
    ]


# --- refusals, each named ----------------------------------------------------------------------
DEEP = "[" * 20 + "]" * 20
REFUSED = [
    ("not a list", '"two"', {"line_items"}),
    ("an item that is not an object", '[{"sku": "A"}, "B"]', {"line_items[1]"}),
    ("neither name nor sku", '[{"quantity": 1}]', {"line_items[0].name"}),
    ("a negative quantity", '[{"sku": "A"}, {"sku": "B", "quantity": -1}]', {"line_items[1].quantity"}),
    ("a quantity as a word", '[{"sku": "A", "quantity": "two"}]', {"line_items[0].quantity"}),
    ("a quantity with a sign", '[{"sku": "A", "quantity": "+1"}]', {"line_items[0].quantity"}),
    ("a quantity in another script's digits", '[{"sku": "A", "quantity": "\\u0663"}]', {"line_items[0].quantity"}),
    ("a quantity with an underscore", '[{"sku": "A", "quantity": "1_000"}]', {"line_items[0].quantity"}),
    ("a quantity with an exponent in a string", '[{"sku": "A", "quantity": "1e3"}]', {"line_items[0].quantity"}),
    ("a quantity with four decimals", '[{"sku": "A", "quantity": 0.0001}]', {"line_items[0].quantity"}),
    ("a quantity too large", '[{"sku": "A", "quantity": 1e400}]', {"line_items[0].quantity"}),
    ("a quantity too small to be one", '[{"sku": "A", "quantity": 1e-400}]', {"line_items[0].quantity"}),
    ("a boolean quantity", '[{"sku": "A", "quantity": true}]', {"line_items[0].quantity"}),
    ("a null quantity", '[{"sku": "A", "quantity": null}]', {"line_items[0].quantity"}),
    ("a negative price", '[{"sku": "A", "unit_price": "-1"}]', {"line_items[0].unit_price"}),
    ("a price with five decimals", '[{"sku": "A", "unit_price": 0.00001}]', {"line_items[0].unit_price"}),
    ("a price as a list", '[{"sku": "A", "unit_price": [1]}]', {"line_items[0].unit_price"}),
    ("a long name", json.dumps([{"name": "x" * 201}]), {"line_items[0].name"}),
    ("a long sku", json.dumps([{"sku": "x" * 101}]), {"line_items[0].sku"}),
    ("a name that is a number", '[{"name": 7}]', {"line_items[0].name"}),
    ("options nested too deep", '[{"sku": "A", "options": ' + DEEP + "}]", {"line_items[0].options"}),
    (
        "options too large",
        json.dumps([{"sku": "A", "options": ["x" * MAX_FREE_FORM_BYTES]}]),
        {"line_items[0].options"},
    ),
    ("an extra nested too deep", '[{"sku": "A", "deep": ' + DEEP + "}]", {"line_items[0].deep"}),
    ("extras too large", json.dumps([{"sku": "A", "a": "x" * MAX_FREE_FORM_BYTES}]), {"line_items[0]"}),
    ("too many items", json.dumps([{"sku": "A"}] * (MAX_ITEMS + 1)), {"line_items"}),
    (
        "every bad field at once",
        '[{"sku": "A"}, {"quantity": "x", "unit_price": -1}]',
        {"line_items[1].name", "line_items[1].quantity", "line_items[1].unit_price"},
    ),
]


@pytest.mark.parametrize("name,text,fields", REFUSED, ids=[case[0] for case in REFUSED])
def test_bad_line_items_are_refused_naming_each_field(name, text, fields):
    with pytest.raises(ApplicationError) as refused:
        parse_line_items(from_json(text))
    assert refused.value.code == "invalid"
    assert set(refused.value.fields) == fields


@pytest.mark.parametrize(
    "value",
    [
        [{"sku": "A", "options": float("nan")}],
        [{"sku": "A", "options": {"k": Decimal("Infinity")}}],
        [{"sku": "A", "options": "\x00"}],
        [{"sku": "A", "options": "\ud800"}],  # a lone surrogate: no UTF-8 for it, PostgreSQL refuses it
        [{"sku": "A", "options": {1: "a"}}],  # JSON keys are strings
        [{"sku": "A", "options": object()}],
        [{"sku": "A", "quantity": 1.5}],  # a float from code: never read through float
    ],
)
def test_values_json_cannot_carry_are_refused_from_code_too(value):
    with pytest.raises(ApplicationError):
        parse_line_items(value)
