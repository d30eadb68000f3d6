"""Pages: the list of a user's stores, a store's live dashboard, and an order's page."""

from dataclasses import asdict

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import selectors
from orders.models import Order
from stores.models import Store
from stores.selectors import Access, store_access, stores_for_staff

BOARD_OPEN_ORDERS = 500
BOARD_FINISHED_ORDERS = 50
FINAL = (Order.Status.COMPLETED, Order.Status.CANCELLED)


@login_required
def store_list(request):
    stores = list(stores_for_staff(user=request.user))
    waiting = selectors.new_order_counts(store_ids=[store.pk for store in stores])
    return render(
        request,
        "orders/store_list.html",
        {"stores": [(store, waiting.get(store.pk, 0)) for store in stores]},
    )


def board_text() -> dict:
    """Every string the board's script shows, translated here (the script
    holds no English). `{name}` marks what the script fills in."""
    return {
        "actions": {
            Order.Status.ACCEPTED: _("Accept"),
            Order.Status.PREPARING: _("Start"),
            Order.Status.READY: _("Ready"),
            Order.Status.COMPLETED: _("Complete"),
            Order.Status.CANCELLED: _("Cancel"),
        },
        "state": {
            "connecting": _("Connecting…"),
            "live": _("Live"),
            "offline": _("Offline"),
            "refused": _("Not allowed"),
            "closed": _("Closed"),
        },
        "retry_in": _("Reconnecting in {seconds} s"),
        "retrying": _("Reconnecting…"),
        "last_event": _("Last event {time}"),
        "no_event": _("No event yet"),
        "comment": _("Comment"),
        "comment_placeholder": _("Comment…"),
        "send": _("Send"),
        "no_orders": _("No orders"),
        "recall": _("Recall"),
        "hide": _("Hide"),
        "recalled": _("Recalled"),
        "age": _("Waiting for {age}"),
        "announce_new": _("New order {ref}"),
        "announce_new_for": _("New order {ref} for {customer}"),
        "notification_title": _("New order {ref}"),
        "title_count": "({count}) {title}",
        "reason": _("Reason: {reason}"),
        "nobody": _("Nobody else"),
        "desktop_on": _("Desktop alerts on"),
        "desktop_blocked": _("Desktop alerts blocked in the browser"),
        "error": _("Could not save: {detail}"),
    }


@login_required
def dashboard(request, store_id: int):
    access = store_access(user=request.user, store_id=store_id)
    if access is Access.NOT_FOUND:
        raise Http404
    if access is Access.FORBIDDEN:
        raise PermissionDenied
    store = Store.objects.get(pk=store_id)
    latest = selectors.latest_seq(store_id=store_id)  # before the list: see orders.api.store_orders
    orders = selectors.board_orders(
        store_id=store_id, open_limit=BOARD_OPEN_ORDERS, finished_limit=BOARD_FINISHED_ORDERS
    )
    comments = selectors.recent_comments(order_ids=[o.pk for o in orders], limit=selectors.BOARD_COMMENTS)
    return render(
        request,
        "orders/dashboard.html",
        {
            "store": store,
            "columns": [(status, label) for status, label in Order.Status.choices if status not in FINAL],
            "board": {
                "store_id": store_id,
                "store_name": store.name,
                "latest_seq": latest,
                # The client's clock may be off: ages are counted from the server's.
                "server_now": timezone.now().isoformat(),
                "orders": [
                    {**asdict(selectors.order_data(o)), "comments": [asdict(c) for c in comments.get(o.pk, [])]}
                    for o in orders
                ],
                "statuses": Order.Status.values,
                "labels": dict(Order.Status.choices),
                # Forward first, cancel last: in the order of the statuses.
                "transitions": {k: sorted(v, key=Order.Status.values.index) for k, v in Order.TRANSITIONS.items()},
                "settings": {
                    "sound_enabled": store.sound_enabled,
                    "sound_repeat_seconds": store.sound_repeat_seconds,
                    "sla_warn_minutes": store.sla_warn_minutes,
                    "sla_late_minutes": store.sla_late_minutes,
                },
                "user": request.user.get_username(),
                "text": board_text(),
            },
        },
    )


@login_required
def order_page(request, order_id: int):
    """`/orders/<id>/`: the order's customer and the staff of its store (tenant
    admins too, when they are its staff, as on the board); anyone else gets
    the 404 page, as if there were no such order.

    Staff follow the store's stream (filtered to this order) from the
    position read here, before the order itself: a change committed in
    between is both shown and replayed (applied once: the page merges by
    comment id and by status). The customer's page follows `order.changed`
    on their notifications socket and reloads the order at every connect.
    """
    found = selectors.orders_visible_to(user=request.user).filter(pk=order_id).values_list("store_id", flat=True)
    store_id = found.first()
    if store_id is None:
        raise Http404
    staff = store_access(user=request.user, store_id=store_id) is Access.ALLOWED
    latest = selectors.latest_seq(store_id=store_id) if staff else None
    order = selectors.orders_visible_to(user=request.user).select_related("store").get(pk=order_id)
    return render(
        request,
        "orders/order.html",
        {
            "order": order,
            "page": {
                "order": selectors.order_detail_json(order),
                "store_name": order.store.name,
                "viewer": "staff" if staff else "customer",
                "latest_seq": latest,
                "labels": dict(Order.Status.choices),
            },
        },
    )
