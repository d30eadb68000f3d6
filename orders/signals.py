"""post_save on orders and comments → the store stream.

Receivers only turn the saved row into an event and hand it to
`stream_append`; rules about what may change live in services and the
model.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from orders.models import Order, OrderComment
from orders.selectors import comment_data, order_data
from orders.stream import stream_append
from ws import events


@receiver(post_save, sender=Order, dispatch_uid="orders.order_saved")
def order_saved(sender, instance: Order, created: bool, raw: bool = False, **kwargs):
    if raw:  # loaddata
        return
    if created:
        frame_type, previous = events.OrderCreated, None
    elif instance.status != instance.saved_status:
        frame_type, previous = events.OrderStatusChanged, instance.saved_status
    else:
        frame_type, previous = events.OrderUpdated, None
    stream_append(
        store_id=instance.store_id,
        frame_type=frame_type,
        data=events.OrderEventData(order=order_data(instance), previous_status=previous),
    )
    instance.saved_status = instance.status


@receiver(post_save, sender=OrderComment, dispatch_uid="orders.comment_saved")
def comment_saved(sender, instance: OrderComment, created: bool, raw: bool = False, **kwargs):
    if raw or not created:
        return
    stream_append(
        store_id=instance.order.store_id,
        frame_type=events.OrderCommentAdded,
        data=events.OrderEventData(order=order_data(instance.order), comment=comment_data(instance)),
    )
