"""A new order nobody is there to see: the store's tenant admins are told.

Each store has at most one pending check (a job of platform_core/jobs.py,
object_id = the store): a new order arms it for `created_at +
Store.unattended_alert_seconds` unless a check is already due later (0
turns it off). The check tells the tenant admins about every order of the
store that is due, still `new`, and not told yet, when nobody has the
store's board open then (a fresh presence row from any worker); then it
arms itself again for the next order that is not due yet.

Why per store and not per order: a job per order doubled the statements of
every webhook (issue 15 measured about two per new order in a batch) and
ran once per order later. Now a batch of new orders costs one statement per
store, and only when no check is armed.

The tenant's schema must be active (the job runner enters the job's tenant).
"""

from datetime import timedelta

from django.db import transaction
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


def unattended_watch(*, order: Order) -> None:
    """Arm the store's check for this order unless one is armed. Call inside
    the order's creating transaction (a rollback arms nothing)."""
    batch = current_batch()
    if batch is not None and not batch.once(("unattended", order.store_id)):
        return  # armed (or found armed) earlier in this batch
    armed = jobs.arm(
        kind=CHECK,
        object_id=order.store_id,
        start=order.created_at,
        delay_column=(Store._meta.db_table, "unattended_alert_seconds"),
    )
    if armed:
        transaction.on_commit(jobs.runner.wake)


@jobs.handler(CHECK)
def unattended_check(store_id: int) -> None:
    """Tell the tenant admins about the store's due orders (one notification
    for all of them), then arm the next check. Idempotent (a job may run
    twice): the store's row is locked for the check, and an admin told
    about the store recently is not told again (alerts.triggers)."""
    with transaction.atomic():
        store = Store.objects.select_for_update().filter(pk=store_id).first()
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
            jobs.schedule(kind=CHECK, object_id=store_id, due_at=next_created + delay)
