"""Reads of orders and of store streams. The tenant's schema must be active."""

import functools
from dataclasses import asdict

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from orders.models import Order, OrderComment, OrderStatusChange, StoreEvent
from platform_core.access import user_columns
from platform_core.models import User
from platform_core.plain_sql import Each, Reads, table
from stores.models import StaffMembership, Store
from stores.selectors import Access, staff_store_ids
from ws import events

BOARD_COMMENTS = 20  # per order, the latest: what a board's card shows


def order_data(order: Order) -> events.OrderData:
    return events.OrderData(
        id=order.pk,
        external_id=order.external_id,
        store_id=order.store_id,
        status=order.status,
        total=str(order.total),
        currency=order.currency,
        customer=order.customer.get_username() if order.customer_id else None,
        customer_name=order.customer_name or (order.customer.get_full_name() if order.customer_id else ""),
        line_items=order.line_items,
        notes=order.notes,
        cancel_reason=order.cancel_reason,
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


def created_entry(order: Order) -> events.TimelineEntry:
    """The first step of every order's timeline (not a row: see OrderStatusChange)."""
    return events.TimelineEntry(
        status=Order.Status.NEW, previous_status=None, at=order.created_at.isoformat(), reason=""
    )


def status_entry(change: OrderStatusChange) -> events.TimelineEntry:
    return events.TimelineEntry(
        status=change.status,
        previous_status=change.previous_status,
        at=change.changed_at.isoformat(),
        reason=change.reason,
    )


def order_timeline(order: Order) -> list[events.TimelineEntry]:
    """The order's status changes, oldest first, starting with its creation."""
    return [created_entry(order), *(status_entry(c) for c in order.status_changes.order_by("id"))]


def order_comments(order: Order) -> list[events.CommentData]:
    """Every comment of the order, oldest first."""
    return [comment_data(c) for c in order.comments.select_related("author").order_by("id")]


def order_detail_json(order: Order) -> dict:
    """The order with every comment and its status timeline, oldest first:
    GET /api/orders/<id>, and what the order's page opens with."""
    return {
        **asdict(order_data(order)),
        "comments": [asdict(c) for c in order_comments(order)],
        "timeline": [asdict(e) for e in order_timeline(order)],
    }


def recent_comments(*, order_ids, limit: int) -> dict[int, list[events.CommentData]]:
    """The latest `limit` comments of each of these orders, oldest first, in
    one query (what a board shows on each card)."""
    latest_first = Window(RowNumber(), partition_by=F("order_id"), order_by=F("id").desc())
    rows = (
        OrderComment.objects.filter(order_id__in=list(order_ids))
        .select_related("author")
        .annotate(rank=latest_first)
        .filter(rank__lte=limit)
        .order_by("order_id", "id")
    )
    found: dict[int, list[events.CommentData]] = {}
    for comment in rows:
        found.setdefault(comment.order_id, []).append(comment_data(comment))
    return found


def orders_visible_to(*, user) -> QuerySet[Order]:
    """A customer's own orders and the orders of the stores a user is staff of."""
    if not user.is_authenticated:
        return Order.objects.none()
    return Order.objects.filter(Q(customer=user) | Q(store_id__in=staff_store_ids(user=user))).select_related(
        "customer"
    )


def store_orders(*, store_id: int) -> QuerySet[Order]:
    return Order.objects.filter(store_id=store_id).select_related("customer")


def board_orders(*, store_id: int, open_limit: int, finished_limit: int) -> list[Order]:
    """What a store's board opens with: its open orders (oldest first would
    be a kitchen's order, but the board sorts; newest first here) and the
    latest finished ones (completed or cancelled), which it shows as counts
    that can be recalled."""
    final = [Order.Status.COMPLETED, Order.Status.CANCELLED]
    orders = store_orders(store_id=store_id)
    return [*orders.exclude(status__in=final)[:open_limit], *orders.filter(status__in=final)[:finished_limit]]


def new_order_counts(*, store_ids) -> dict[int, int]:
    """How many orders wait to be accepted in each of these stores (absent: none)."""
    rows = Order.objects.filter(store_id__in=list(store_ids), status=Order.Status.NEW).values("store_id")
    return dict(rows.annotate(n=Count("id")).values_list("store_id", "n"))


def latest_seq(*, store_id: int) -> int:
    return Store.objects.filter(pk=store_id).values_list("last_seq", flat=True).get()


def latest_seqs(*, store_ids) -> dict[int, int]:
    """The latest seq of each of these stores (that exists), in one query."""
    return dict(Store.objects.filter(pk__in=store_ids).values_list("pk", "last_seq"))


def stream_after(
    *, store_id: int, after: int, upto: int | None = None, limit: int, max_bytes: int
) -> tuple[list[tuple[int, str]], bool]:
    """(seq, frame) of the store's events with after < seq ≤ upto, oldest
    first: a page of at most `limit` events and about `max_bytes` of text
    (`page_sql`), and whether more may follow it."""
    with connection.cursor() as cursor:
        cursor.execute(
            page_sql(table(StoreEvent)),
            {"store": store_id, "after": after, "upto": upto, "limit": limit, "max_bytes": max_bytes},
        )
        rows = cursor.fetchall()
    return page_of([(seq, frame) for seq, frame, _ in rows], rows[-1][2] if rows else 0, limit, max_bytes)


def page_sql(events_table: str, *, where: str = "true", given: str = "%({})s") -> str:
    """The page of `stream_after`: the first `limit` events after `after`
    (up to `upto`, if not null), of which those whose text before them
    adds up to less than `max_bytes`, and the first one whatever the bound
    (even one of 0). `store`, `after`, `upto`, `limit` and `max_bytes` are
    the statement's parameters (`%(store)s`…), or with `given='i."{}"'` the
    columns of a row `i` of the statement around it.
    Rows: (seq, frame, the page's bytes up to and including it). Only the
    events kept are read out of storage; the others' sizes are known
    without reading them."""
    names = ("store", "after", "upto", "limit", "max_bytes")
    store, after, upto, limit, max_bytes = (given.format(name) for name in names)
    return (
        "SELECT seq, frame, upto_here FROM ("
        "SELECT seq, frame, sum(octet_length(frame)) OVER (ORDER BY seq) AS upto_here, "
        "octet_length(frame) AS own FROM ("
        f"SELECT seq, frame FROM {events_table} WHERE {where} AND store_id = {store} AND seq > {after} "
        f"AND ({upto}::bigint IS NULL OR seq <= {upto}) ORDER BY seq LIMIT {limit}) candidates"
        f") page WHERE upto_here - own < greatest({max_bytes}, 1) ORDER BY seq"
    )


def page_of(events: list[tuple[int, str]], size: int, limit: int, max_bytes: int) -> tuple[list[tuple[int, str]], bool]:
    """A page of (seq, frame) pairs of `size` bytes, and whether more may
    follow it: it was cut by one of its bounds (or ended on one exactly)."""
    return events, bool(events) and (len(events) == limit or size >= max_bytes)


def dashboard_opening(
    *,
    user_id: int,
    store_id: int,
    after: int | None,
    limit: int,
    max_bytes: int,
    session_key: str | None = None,
    schema: str | None = None,
) -> Reads[tuple[str | None, tuple | None, Access, int | None, tuple[list[tuple[int, str]], bool]]]:
    """What a dashboard opens with, in one plain statement that serves
    every dashboard opening at the same time (platform_core/plain_sql.py,
    `Each`): (with `session_key`, the data of that unexpired session, else
    None; the user's row, `user_columns()`, or None if the user is gone or
    inactive; the user's access to the store; the store's latest seq; and
    only for its staff, with `after` given, the first page of events after
    it and whether more may follow, as `stream_after` reads them)."""
    rows = yield Each(
        _opening_sql(schema),
        {
            "key": session_key,
            "now": timezone.now().isoformat(),
            "user": user_id,
            "store": store_id,
            "after": after,
            "upto": None,
            "limit": limit,
            "max_bytes": max_bytes,
        },
    )
    session_data, *user, store, latest, staff, seqs, frames, page_bytes = rows[0]
    access = Access.NOT_FOUND if store is None else Access.ALLOWED if staff else Access.FORBIDDEN
    page = page_of(list(zip(seqs or (), frames or (), strict=True)), page_bytes or 0, limit, max_bytes)
    return session_data, (tuple(user) if user[0] is not None else None), access, latest, page


@functools.lru_cache(maxsize=1024)
def _opening_sql(schema: str | None) -> str:
    """`dashboard_opening`'s statement for a tenant's schema, written once:
    one row per opening `i`, tagged with its place `n`."""
    from django.contrib.sessions.models import Session

    page = page_sql(table(StoreEvent, schema), where='a.staff AND i."after" IS NOT NULL', given='i."{}"')
    return (
        f"SELECT i.n, (SELECT session_data FROM {table(Session, schema)} "
        "WHERE session_key = i.key AND expire_date > i.now), "
        f"{user_columns('u')}, s.id, s.last_seq, a.staff, e.seqs, e.frames, e.page_bytes "
        "FROM json_to_recordset(%s::json) AS i(n int, key text, now timestamptz, "
        '"user" bigint, store bigint, after bigint, upto bigint, "limit" bigint, max_bytes bigint) '
        f'LEFT JOIN {table(User, schema)} u ON u.id = i."user" AND u.is_active '
        f"LEFT JOIN {table(Store, schema)} s ON s.id = i.store "
        "LEFT JOIN LATERAL (SELECT EXISTS ("
        f"SELECT 1 FROM {table(StaffMembership, schema)} m WHERE m.store_id = s.id AND m.user_id = u.id"
        ") AS staff) a ON true "
        "LEFT JOIN LATERAL (SELECT array_agg(seq ORDER BY seq) AS seqs, array_agg(frame ORDER BY seq) AS frames, "
        f"max(upto_here) AS page_bytes FROM ({page}) page) e ON true"
    )


def stores_existing(store_ids) -> set[int]:
    """Which of `store_ids` are stores of the active tenant."""
    return set(Store.objects.filter(pk__in=store_ids).values_list("pk", flat=True))
