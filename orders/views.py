"""Pages: the list of a user's stores and a store's live dashboard."""

from dataclasses import asdict

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from orders import selectors
from orders.models import Order
from stores.models import Store
from stores.selectors import Access, store_access, stores_for_staff

BOARD_SIZE = 200


@login_required
def store_list(request):
    return render(request, "orders/store_list.html", {"stores": stores_for_staff(user=request.user)})


@login_required
def dashboard(request, store_id: int):
    access = store_access(user=request.user, store_id=store_id)
    if access is Access.NOT_FOUND:
        raise Http404
    if access is Access.FORBIDDEN:
        raise PermissionDenied
    latest = selectors.latest_seq(store_id=store_id)  # before the list: see orders.api.store_orders
    orders = [asdict(selectors.order_data(o)) for o in selectors.store_orders(store_id=store_id)[:BOARD_SIZE]]
    return render(
        request,
        "orders/dashboard.html",
        {
            "store": Store.objects.get(pk=store_id),
            "board": {
                "store_id": store_id,
                "latest_seq": latest,
                "orders": orders,
                "statuses": Order.Status.values,
                "labels": dict(Order.Status.choices),
                # Forward first, cancel last: in the order of the statuses.
                "transitions": {k: sorted(v, key=Order.Status.values.index) for k, v in Order.TRANSITIONS.items()},
            },
        },
    )
