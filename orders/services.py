"""Writes to orders. The tenant's schema must be active; authorization
(staff of the order's store) is the caller's job, through stores.selectors.

Each write runs in one transaction with the stream event that its
post_save produces, so the event exists exactly when the change does; the
personal notifications it triggers are stored in that same transaction and
pushed after it commits.
"""

import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models.signals import post_save
from django.utils.translation import gettext as _

from alerts.triggers import notify_comment_added, notify_status_changed
from orders.line_items import parse_line_items
from orders.models import Order, OrderComment
from orders.selectors import orders_visible_to
from orders.unattended import unattended_watch
from platform_core.errors import ApplicationError
from platform_core.parsing import unstorable

MAX_TEXT = 2000
MAX_CUSTOMER_NAME = 150
MAX_CANCEL_REASON = 500
AMOUNT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")


def check_status(status) -> str:
    if not isinstance(status, str) or status not in Order.Status.values:
        raise ApplicationError(
            "invalid",
            _("unknown status"),
            fields={"status": _("must be one of: %(statuses)s") % {"statuses": ", ".join(Order.Status.values)}},
        )
    return status


def check_cancel_reason(reason, *, status: str) -> str:
    """An optional reason, for a cancellation only (stripped; "" for none)."""
    if reason is None or reason == "":
        return ""
    if status != Order.Status.CANCELLED:
        raise ApplicationError(
            "invalid", _("only a cancellation has a reason"), fields={"reason": _("only with cancelled")}
        )
    if not isinstance(reason, str) or len(reason) > MAX_CANCEL_REASON or unstorable(reason):
        raise ApplicationError(
            "invalid",
            _("invalid reason"),
            fields={"reason": _("a string of at most %(count)s characters") % {"count": MAX_CANCEL_REASON}},
        )
    return reason.strip()


def check_customer_name(name) -> str:
    if not isinstance(name, str) or len(name) > MAX_CUSTOMER_NAME or unstorable(name):
        raise ApplicationError(
            "invalid",
            _("invalid customer name"),
            fields={"customer.name": _("a string of at most %(count)s characters") % {"count": MAX_CUSTOMER_NAME}},
        )
    return name.strip()


def check_comment_body(body) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ApplicationError("invalid", _("a comment needs a body"), fields={"body": _("must be a non-empty string")})
    if len(body) > MAX_TEXT:
        raise ApplicationError(
            "invalid", _("comment too long"), fields={"body": _("at most %(count)s characters") % {"count": MAX_TEXT}}
        )
    return body.strip()


def check_order_fields(*, external_id, total, currency, line_items, notes, customer_name="") -> dict:
    """The fields of an order as stored, or an ApplicationError naming each bad
    one. Line items follow orders.line_items (JSON primitives only)."""
    errors: dict[str, str] = {}
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 100:
        errors["external_id"] = "must be a non-empty string of at most 100 characters"
    # A string must be written with the ASCII digits: Decimal() alone reads
    # "١٢" as 12, and " 12" or "1_0" too.
    if isinstance(total, str) and not AMOUNT_TEXT.fullmatch(total):
        total = None
    try:
        total = Decimal(str(total)) if isinstance(total, (int, str, Decimal)) and not isinstance(total, bool) else None
    except InvalidOperation:
        total = None
    if total is None or not total.is_finite() or total < 0 or total.as_tuple().exponent < -2 or total >= 10**10:
        errors["total"] = "must be a non-negative amount with at most 2 decimals, as a string or integer"
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        errors["currency"] = "must be a 3-letter ISO 4217 code, e.g. EUR"
    try:
        line_items = [item.as_json() for item in parse_line_items(line_items)]
    except ApplicationError as error:
        errors.update(error.fields)
    if not isinstance(notes, str) or len(notes) > MAX_TEXT or unstorable(notes):
        errors["notes"] = f"must be a string of at most {MAX_TEXT} characters"
    try:
        customer_name = check_customer_name(customer_name)
    except ApplicationError as error:
        errors.update(error.fields)
    if errors:
        raise ApplicationError("invalid", _("invalid order"), fields=errors)
    return {
        "external_id": external_id.strip(),
        # As the column keeps it: the frame, built from the saved instance,
        # then says "5.10" for 5.1, as the API's lists and replays do.
        "total": total.quantize(Decimal("0.01")),
        "currency": currency,
        "line_items": line_items,
        "notes": notes,
        "customer_name": customer_name,
    }


def new_order(
    *,
    store_id: int,
    external_id: str,
    total,
    currency: str = "EUR",
    customer=None,
    customer_name: str = "",
    line_items=None,
    notes: str = "",
) -> Order:
    """The order as it will be stored, checked and not saved yet (see
    `order_create` and `orders_create_new`)."""
    fields = check_order_fields(
        external_id=external_id,
        total=total,
        currency=currency,
        line_items=line_items or [],
        notes=notes,
        customer_name=customer_name,
    )
    return Order(store_id=store_id, customer=customer, **fields)


@transaction.atomic(savepoint=False)  # nested, its caller's savepoint (if any) rolls back with it
def order_create(*, store_id: int, external_id: str, total, **fields) -> Order:
    """A new order; `fields` as `new_order` takes them."""
    order = new_order(store_id=store_id, external_id=external_id, total=total, **fields)
    if Order.objects.filter(store_id=store_id, external_id=order.external_id).exists():
        raise ApplicationError("conflict", _("order exists"), fields={"external_id": _("already used in this store")})
    order.save()
    unattended_watch(orders=[order])
    return order


@transaction.atomic(savepoint=False)
def orders_create_new(orders: list[Order]) -> list[Order]:
    """Insert `new_order`s that the caller knows do not exist (it has just
    looked, holding their stores' locks or relying on the unique (store,
    external_id) to fail the whole transaction), in one statement. Each
    then gets the post_save a save sends (orders/signals.py: its stream
    event), in order, and arms its store's check: what `order_create` does
    for one, in one INSERT for all instead of one each (the webhook
    batcher's fast path, issue 15).

    Inserted in (store, external_id) order: two transactions inserting
    some of the same orders wait on the unique index for each other in one
    order, never in a cycle. Their post_saves (their stream seqs) follow
    the order given."""
    Order.objects.bulk_create(sorted(orders, key=lambda order: (order.store_id, order.external_id)))
    for order in orders:
        post_save.send(sender=Order, instance=order, created=True, update_fields=None, raw=False, using=order._state.db)
    unattended_watch(orders=orders)
    return orders


@transaction.atomic
def order_change_status(*, order_id: int, status: str, reason: str = "") -> Order:
    """Move an order along the status machine; refuses what the machine forbids.
    `reason`: why it is cancelled (cancellation only; optional); stored, in
    the stream event, and in the customer's notification."""
    check_status(status)
    reason = check_cancel_reason(reason, status=status)
    # Locked so two staff clicking at once cannot both pass the check.
    order = Order.objects.select_for_update(of=("self",)).select_related("customer").get(pk=order_id)
    if not order.can_become(status):
        raise ApplicationError(
            "invalid_transition",
            _("an order that is %(status)s cannot become %(to)s")
            % {"status": Order.Status(order.status).label, "to": Order.Status(status).label},
            fields={
                "status": _("allowed from %(status)s: %(allowed)s")
                % {
                    "status": order.status,
                    "allowed": ", ".join(sorted(order.TRANSITIONS[order.status])) or _("none"),
                }
            },
        )
    order.status = status
    order.cancel_reason = reason
    order.save(update_fields=["status", "cancel_reason", "updated_at"])
    notify_status_changed(order=order)
    return order


@transaction.atomic
def order_comment_add(*, order_id: int, author, body: str) -> OrderComment:
    body = check_comment_body(body)
    order = Order.objects.select_related("customer").get(pk=order_id)
    comment = OrderComment.objects.create(order=order, author=author, body=body)
    notify_comment_added(
        comment=comment, may_see=lambda user: orders_visible_to(user=user).filter(pk=order.pk).exists()
    )
    return comment
