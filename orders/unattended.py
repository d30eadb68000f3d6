"""A new order nobody is there to see: the store's tenant admins are told.

Each store has at most one pending check (a job of platform_core/jobs.py,
object_id = the store): a new order arms it for `created_at +
Store.unattended_alert_seconds` unless a check is already due later (0
turns it off). The check tells the tenant admins about every order of the
store that is due, still `new`, and not told yet, when nobody has the
store's board open then (a fresh presence row from any worker); then it
arms itself again for the next order that is not due yet, but not sooner
than RECHECK_GAP (or half the delay) from then.

Why per store and not per order: a job per order doubled the statements of
every webhook (issue 15 measured about two per new order in a batch) and
ran once per order later. Now a batch of new orders costs one statement per
store, and only when no check is armed.

The tenant's schema must be active (the job runner enters the job's tenant).
"""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from alerts.triggers import notify_board_unattended
from orders.models import Order
from orders.stream import current_batch
from platform_core import jobs
from stores.models import Store
from stores.selectors import board_watched

CHECK = "store.unattended"
# Orders due longer ago than this are not looked at again by a later check
# (one that stayed `new` for hours has been told about, or nobody was there
# to check): each check reads a bounded list.
LOOK_BACK = timedelta(hours=1)
# The shortest wait between two checks of a store (half the delay, if that
# is shorter): see unattended_check.
RECHECK_GAP = timedelta(seconds=5)


def unattended_watch(*, orders: list[Order]) -> None:
    """Arm the checks of the stores of these new orders, unless armed. Call
    inside the orders' creating transaction (a rollback arms nothing)."""
    batch = current_batch()
    starts: dict[int, object] = {}
    for order in orders:
        if batch is not None and not batch.once(("unattended", order.store_id)):
            continue  # armed (or found armed) earlier in this batch
        starts[order.store_id] = min(order.created_at, starts.get(order.store_id, order.created_at))
    armed = jobs.arm(kind=CHECK, starts=starts, delay_column=(Store._meta.db_table, "unattended_alert_seconds"))
    if armed:
        transaction.on_commit(jobs.runner.wake)


@jobs.handler(CHECK)
def unattended_check(store_id: int) -> None:
    """Tell the tenant admins about the store's due orders (one notification
    for all of them), then arm the next check. Idempotent (a job may run
    twice): the store's check is locked for it, and an admin told
    about the store recently is not told again (alerts.triggers)."""
    with transaction.atomic():
        _lock_check(store_id)
        store = Store.objects.filter(pk=store_id).first()
        if store is None or not store.unattended_alert_seconds:
            return
        delay = timedelta(seconds=store.unattended_alert_seconds)
        now = timezone.now()
        waiting = Order.objects.filter(store_id=store_id, status=Order.Status.NEW)
        # A count and the oldest, not the rows: a rush can leave thousands.
        due = waiting.filter(created_at__lte=now - delay, created_at__gt=now - delay - LOOK_BACK)
        oldest = due.order_by("created_at").only("external_id", "created_at").first()
        if oldest is not None and not board_watched(store_id=store_id):
            notify_board_unattended(
                store_id=store_id, store_name=store.name, waiting=due.count(), oldest=oldest, now=now
            )
        upcoming = (
            waiting.filter(created_at__gt=now - delay).order_by("created_at").values_list("created_at", flat=True)
        )
        if (next_created := upcoming.first()) is not None:
            # Not sooner than RECHECK_GAP (or half the delay) from now: in a
            # rush the next order is due a few milliseconds later, and a
            # check per order ran back to back, taking the CPU the orders
            # need (issue 15). An order is told at most that much late.
            gap = min(RECHECK_GAP, delay / 2)
            jobs.schedule(kind=CHECK, object_id=store_id, due_at=max(next_created + delay, now + gap))


def _lock_check(store_id: int) -> None:
    """One check of a store at a time, until the transaction ends. Not the
    store's row: order writes lock it to take their stream seqs, and a
    check (a few scans of the store's new orders) held up every webhook
    batch of the store meanwhile (issue 15). Store ids repeat across
    tenants: the key carries the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{CHECK}:{connection.schema_name}:{store_id}"]
        )
