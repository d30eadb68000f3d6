"""Reads of orders and of store streams. The tenant's schema must be active."""

from django.db.models import Q, QuerySet

from orders.models import Order, OrderComment, StoreEvent
from stores.models import Store
from stores.selectors import staff_store_ids
from ws import events


def order_data(order: Order) -> events.OrderData:
    return events.OrderData(
        id=order.pk,
        external_id=order.external_id,
        store_id=order.store_id,
        status=order.status,
        total=str(order.total),
        currency=order.currency,
        customer=order.customer.get_username() if order.customer_id else None,
        line_items=order.line_items,
        notes=order.notes,
        created_at=order.created_at.isoformat(),
        updated_at=order.updated_at.isoformat(),
    )


def comment_data(comment: OrderComment) -> events.CommentData:
    return events.CommentData(
        id=comment.pk,
        order_id=comment.order_id,
        author=comment.author.get_username() if comment.author_id else None,
        body=comment.body,
        created_at=comment.created_at.isoformat(),
    )


def orders_visible_to(*, user) -> QuerySet[Order]:
    """A customer's own orders and the orders of the stores a user is staff of."""
    if not user.is_authenticated:
        return Order.objects.none()
    return Order.objects.filter(Q(customer=user) | Q(store_id__in=staff_store_ids(user=user))).select_related(
        "customer"
    )


def store_orders(*, store_id: int) -> QuerySet[Order]:
    return Order.objects.filter(store_id=store_id).select_related("customer")


def latest_seq(*, store_id: int) -> int:
    return Store.objects.filter(pk=store_id).values_list("last_seq", flat=True).get()


def latest_seqs(*, store_ids) -> dict[int, int]:
    """The latest seq of each of these stores (that exists), in one query."""
    return dict(Store.objects.filter(pk__in=store_ids).values_list("pk", "last_seq"))


def stream_after(*, store_id: int, after: int, upto: int | None = None, limit: int) -> list[tuple[int, str]]:
    """(seq, frame) of the store's events with after < seq ≤ upto, oldest first."""
    events_ = StoreEvent.objects.filter(store_id=store_id, seq__gt=after)
    if upto is not None:
        events_ = events_.filter(seq__lte=upto)
    return list(events_.order_by("seq").values_list("seq", "frame")[:limit])


def stores_existing(store_ids) -> set[int]:
    """Which of `store_ids` are stores of the active tenant."""
    return set(Store.objects.filter(pk__in=store_ids).values_list("pk", flat=True))
