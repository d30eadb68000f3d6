"""Orders over HTTP (JSON): list, detail, change status, comment.

Staff act on the orders of their stores; customers read their own. An
order a user may not see answers 404 (its existence is not revealed); an
order a customer may see but not act on answers 403.
"""

from dataclasses import asdict

from django.http import JsonResponse
from django.utils.translation import gettext as _

from orders import selectors, services
from orders.models import Order
from platform_core.api import api_view, paginate, read_json
from platform_core.errors import ApplicationError
from stores.selectors import Access, store_access


def _order_json(order: Order) -> dict:
    return asdict(selectors.order_data(order))


def _filtered(request, orders):
    status = request.GET.get("status")
    if status is not None:
        services.check_status(status)
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "-id")


@api_view("GET")
def store_orders(request, store_id: int):
    access = store_access(user=request.user, store_id=store_id)
    if access is Access.NOT_FOUND:
        raise ApplicationError("not_found", _("no such store"))
    if access is Access.FORBIDDEN:
        raise ApplicationError("forbidden", _("only this store's staff may list its orders"))
    # Read the position first: an order committed in between is both in the
    # list and replayed after it (a duplicate the client merges by id), never
    # in neither.
    latest = selectors.latest_seq(store_id=store_id)
    page = paginate(request, _filtered(request, selectors.store_orders(store_id=store_id)), _order_json)
    # What a board shows on each card, so a reload keeps the conversation.
    comments = selectors.recent_comments(order_ids=[o["id"] for o in page["results"]], limit=selectors.BOARD_COMMENTS)
    for order in page["results"]:
        order["comments"] = [asdict(c) for c in comments.get(order["id"], [])]
    return JsonResponse({**page, "latest_seq": latest})


@api_view("GET")
def my_orders(request):
    orders = _filtered(request, selectors.orders_visible_to(user=request.user))
    return JsonResponse(paginate(request, orders, _order_json))


def _visible_order(request, order_id: int) -> Order:
    order = selectors.orders_visible_to(user=request.user).filter(pk=order_id).first()
    if order is None:
        raise ApplicationError("not_found", _("no such order"))
    return order


def _order_for_staff(request, order_id: int) -> Order:
    order = _visible_order(request, order_id)
    if store_access(user=request.user, store_id=order.store_id) is not Access.ALLOWED:
        raise ApplicationError("forbidden", _("only the store's staff may change this order"))
    return order


@api_view("GET")
def order_detail(request, order_id: int):
    return JsonResponse(selectors.order_detail_json(_visible_order(request, order_id)))


@api_view("POST")
def order_status(request, order_id: int):
    order = _order_for_staff(request, order_id)
    body = read_json(request, required={"status"}, optional={"reason"})
    order = services.order_change_status(order_id=order.pk, status=body["status"], reason=body.get("reason", ""))
    return JsonResponse(_order_json(order))


@api_view("POST")
def order_comments(request, order_id: int):
    order = _order_for_staff(request, order_id)
    body = read_json(request, required={"body"})
    comment = services.order_comment_add(order_id=order.pk, author=request.user, body=body["body"])
    return JsonResponse(asdict(selectors.comment_data(comment)), status=201)
