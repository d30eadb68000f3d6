"""A new order nobody is there to see: the store's tenant admins are told.

When an order is created, a job is scheduled (platform_core/jobs.py, in the
order's transaction: a rolled-back order schedules nothing) for
`Store.unattended_alert_seconds` later; 0 turns it off. When it is due, the
tenant admins get a personal notification if the order is still `new` and
nobody has the store's board open then (a fresh presence row from any
worker: stores/presence.py writes them in batches, every worker reads the
same rows). An order accepted, or a board opened and still open, by then:
no notification. The tenant's schema must be active (the job runner enters
the job's tenant).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from alerts.triggers import notify_board_unattended
from orders.models import Order
from platform_core import jobs
from stores.models import Store
from stores.selectors import board_watched

CHECK = "order.unattended"


def unattended_watch(*, order: Order) -> None:
    """Schedule the check of a new order. Call inside its creating transaction."""
    delay = Store.objects.filter(pk=order.store_id).values_list("unattended_alert_seconds", flat=True).first()
    if delay:
        jobs.schedule(kind=CHECK, object_id=order.pk, due_at=order.created_at + timedelta(seconds=delay))


@jobs.handler(CHECK)
def unattended_check(order_id: int) -> None:
    """Tell the tenant admins if the order still waits with nobody on the board.

    Idempotent (a job may run twice): the order's row is locked, as a status
    change locks it, so an Accept committing meanwhile is seen, and admins
    already told are not told again.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("store")
            .filter(pk=order_id, status=Order.Status.NEW)
            .first()
        )
        if order is None or not order.store.unattended_alert_seconds or board_watched(store_id=order.store_id):
            return
        waited = int((timezone.now() - order.created_at).total_seconds())
        notify_board_unattended(order=order, store_name=order.store.name, waited_seconds=waited)
