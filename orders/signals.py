"""post_save on orders and comments → the store stream, the order's status
history, and the customer's order page.

Receivers only turn the saved row into records and frames and hand them
on: the stream event (`stream_append`), the status history row (written
in the same transaction, beside its event) and `order.changed` for the
order's customer (`publish_to_user`, after commit). Rules about what may
change live in services and the model. Nothing here reads the database:
the frames are built from the rows in hand, so the webhook batcher's fast
path pays no extra statement (and a new order, no history row).
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from orders.models import Order, OrderComment, OrderStatusChange
from orders.selectors import comment_data, order_data, status_entry
from orders.stream import stream_append
from ws import events
from ws.layer import publish_to_user


@receiver(post_save, sender=Order, dispatch_uid="orders.order_saved")
def order_saved(sender, instance: Order, created: bool, raw: bool = False, **kwargs):
    if raw:  # loaddata
        return
    change = None
    if created:
        frame_type, previous = events.OrderCreated, None
    elif instance.status != instance.saved_status:
        frame_type, previous = events.OrderStatusChanged, instance.saved_status
        history = OrderStatusChange.objects.create(
            order=instance,
            status=instance.status,
            previous_status=previous or "",
            reason=instance.cancel_reason if instance.status == Order.Status.CANCELLED else "",
            changed_at=instance.updated_at,
        )
        change = events.OrderChange(kind="status", entry=status_entry(history))
    else:
        frame_type, previous = events.OrderUpdated, None
        change = events.OrderChange(kind="updated")
    order = order_data(instance)
    stream_append(
        store_id=instance.store_id,
        frame_type=frame_type,
        data=events.OrderEventData(order=order, previous_status=previous),
    )
    instance.saved_status = instance.status
    if change is not None and instance.customer_id is not None:
        publish_to_user(instance.customer_id, events.OrderChanged(order=order, change=change))


@receiver(post_save, sender=OrderComment, dispatch_uid="orders.comment_saved")
def comment_saved(sender, instance: OrderComment, created: bool, raw: bool = False, **kwargs):
    if raw or not created:
        return
    order, comment = order_data(instance.order), comment_data(instance)
    stream_append(
        store_id=instance.order.store_id,
        frame_type=events.OrderCommentAdded,
        data=events.OrderEventData(order=order, comment=comment),
    )
    if instance.order.customer_id is not None:
        publish_to_user(
            instance.order.customer_id,
            events.OrderChanged(order=order, change=events.OrderChange(kind="comment", comment=comment)),
        )
