"""An order's line items: the typed schema of what shop systems send.

Each item is read into a `LineItem` and stored (Order.line_items), answered
(the API) and streamed (OrderData.line_items) as `LineItem.as_json()`:
JSON primitives only, because the frame is serialized with the standard
encoder and channels-redis carries msgpack, and neither takes a Decimal.

- `quantity` and `unit_price` are exact: JSON numbers (the webhook body is
  parsed with parse_float=Decimal, never through float), integers, or
  decimal strings of ASCII digits; they are kept as decimal strings.
- `options` (any JSON) and the extras (every other key, kept under `extra`)
  are free-form. Their numbers that a JSON reader might not read exactly
  become strings holding the same number: every number written with a
  fraction or an exponent (str(Decimal): "0.50" stays "0.50", 1e-7 becomes
  "1E-7"; never format "f", which would write 1e999999999 out in full), and
  integers beyond ±(2**53 - 1), where JavaScript loses digits. Everything
  else is kept as sent. Both are bounded in size and depth.

docs/integrations.md describes it for integrators.
"""

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

from platform_core.errors import ApplicationError
from platform_core.parsing import unstorable

MAX_ITEMS = 500
MAX_NAME = 200
MAX_SKU = 100
# Each of `options` and the extras together, as compact UTF-8 JSON. A whole
# order stays under the webhook body limit (1 MiB) anyway; this keeps one
# item from dwarfing the frame every dashboard receives.
MAX_FREE_FORM_BYTES = 4096
# Deeper than any real option tree, and far from where PostgreSQL's jsonb
# parser or Python's recursion would give up.
MAX_DEPTH = 16
SAFE_INTEGER = 2**53 - 1  # JavaScript reads integers up to this exactly
FIELDS = ("name", "sku", "quantity", "unit_price", "options")

# ASCII digits only: Decimal() alone accepts " 1", "1_000", "1e3" and "٣".
_DECIMAL_TEXT = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")

Json = None | bool | int | str | list["Json"] | dict[str, "Json"]


@dataclass(frozen=True, slots=True)
class Amount:
    """A non-negative exact decimal with at most `decimals` places, below `below`."""

    decimals: int
    below: int

    def read(self, value) -> Decimal | None:
        """The exact value, or None if `value` is not such an amount."""
        # Not a float (already inexact), nor a bool (an int to Python).
        exact = isinstance(value, int | Decimal) and not isinstance(value, bool)
        if not (exact or (isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value))):
            return None
        number = Decimal(value)
        if not number.is_finite() or number < 0 or number >= self.below or number.as_tuple().exponent < -self.decimals:
            return None
        return abs(number)  # -0 and -0.0 (JSON allows them) are 0

    def describe(self) -> str:
        largest = self.below - Decimal(1).scaleb(-self.decimals)
        return f"a number or a decimal string from 0 to {largest}, with at most {self.decimals} decimals"


QUANTITY = Amount(decimals=3, below=10**6)
UNIT_PRICE = Amount(decimals=4, below=10**10)


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str  # a name or a sku (or both) identifies the item
    sku: str
    quantity: Decimal
    unit_price: Decimal | None  # None: not sent
    options: Json
    extra: dict[str, Json] = field(default_factory=dict)

    def as_json(self) -> dict[str, Json]:
        """What is stored, answered and streamed. format(…, "f") writes an
        exponent out ("1E+2" → "100") and keeps the scale sent ("9.90")."""
        return {
            "name": self.name,
            "sku": self.sku,
            "quantity": format(self.quantity, "f"),
            "unit_price": None if self.unit_price is None else format(self.unit_price, "f"),
            "options": self.options,
            "extra": self.extra,
        }


class _Refused(ValueError):
    pass


def _free_form(value, depth: int = 0) -> Json:
    """`value` as JSON primitives (see the module docstring), or _Refused."""
    if depth > MAX_DEPTH:
        raise _Refused(f"nested at most {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -SAFE_INTEGER <= value <= SAFE_INTEGER else str(value)
    if isinstance(value, Decimal):  # a JSON number written with a fraction or an exponent
        if not value.is_finite():
            raise _Refused("numbers must be finite")
        return str(value)
    if isinstance(value, float):  # from code, not from JSON: written as JSON would write it
        if not math.isfinite(value):
            raise _Refused("numbers must be finite")
        return str(Decimal(repr(value)))
    if isinstance(value, str):
        if reason := unstorable(value):
            raise _Refused(reason)
        return value
    if isinstance(value, list):
        return [_free_form(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) and not unstorable(key) for key in value):
            raise _Refused("object keys must be text")
        return {key: _free_form(item, depth + 1) for key, item in value.items()}
    raise _Refused("JSON values only")


def _bounded(value: Json, what: str) -> Json:
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_FREE_FORM_BYTES:
        raise _Refused(f"{what}: at most {MAX_FREE_FORM_BYTES} bytes of JSON (got {size})")
    return value


def _text(raw: dict, key: str, limit: int, errors: dict[str, str], where: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or unstorable(value):
        errors[f"{where}.{key}"] = f"a string of at most {limit} characters"
        return ""
    return value.strip()


def _line_item(raw, where: str, errors: dict[str, str]) -> LineItem | None:
    if not isinstance(raw, dict):
        errors[where] = "an object"
        return None
    found: dict[str, str] = {}
    name = _text(raw, "name", MAX_NAME, found, where)
    sku = _text(raw, "sku", MAX_SKU, found, where)
    if not (name or sku or found):
        found[f"{where}.name"] = "a name or a sku is required"
    quantity = QUANTITY.read(raw.get("quantity", 1))
    if quantity is None:
        found[f"{where}.quantity"] = QUANTITY.describe()
    unit_price = None
    if raw.get("unit_price") is not None:
        unit_price = UNIT_PRICE.read(raw["unit_price"])
        if unit_price is None:
            found[f"{where}.unit_price"] = UNIT_PRICE.describe()
    options = None
    try:
        options = _bounded(_free_form(raw.get("options")), "options")
    except _Refused as refused:
        found[f"{where}.options"] = str(refused)
    extra = {}
    for key, value in raw.items():
        if key in FIELDS:
            continue
        if not isinstance(key, str) or unstorable(key):  # only from code: JSON keys are checked text
            found[where] = "object keys must be text"
            continue
        try:
            extra[key] = _free_form(value)
        except _Refused as refused:
            found[f"{where}.{key}"] = str(refused)
    try:
        _bounded(extra, "extra fields together")
    except _Refused as refused:
        found.setdefault(where, str(refused))
    errors.update(found)
    if found:
        return None
    return LineItem(name=name, sku=sku, quantity=quantity, unit_price=unit_price, options=options, extra=extra)


def parse_line_items(value) -> list[LineItem]:
    """`value` (a list of objects, as sent) as line items. An ApplicationError
    names every bad field: `line_items[3].quantity`."""
    if not isinstance(value, list):
        raise ApplicationError("invalid", "invalid line items", fields={"line_items": "a list of objects"})
    if len(value) > MAX_ITEMS:
        raise ApplicationError("invalid", "too many line items", fields={"line_items": f"at most {MAX_ITEMS} items"})
    errors: dict[str, str] = {}
    items = [_line_item(raw, f"line_items[{index}]", errors) for index, raw in enumerate(value)]
    if errors:
        raise ApplicationError("invalid", "invalid line items", fields=errors)
    return items
