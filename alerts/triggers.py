"""What order changes tell people: the customer hears of a status change
or a staff comment; an @mentioned colleague who may see the order hears
they were mentioned; the tenant admins hear of a new order nobody is on
the store's board to see. Called by orders/services.py inside the change's
transaction (the notifications commit with it and are pushed after).
"""

import re

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from alerts.models import Notification
from alerts.services import notification_create, notifications_create_many

# Django's username characters, after an @ that does not follow a word
# character (so e-mail addresses are not mentions).
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


def notify_status_changed(*, order) -> None:
    """The order's customer hears that its status changed, and why it was
    cancelled when staff gave a reason."""
    if order.customer_id is None:
        return
    notification_create(
        recipient=order.customer,
        kind=Notification.Kind.ORDER_STATUS,
        title=_("Order %(ref)s is now %(status)s") % {"ref": order.external_id, "status": order.get_status_display()},
        body=_("Reason: %(reason)s") % {"reason": order.cancel_reason} if order.cancel_reason else "",
        url=f"/notifications/#order-{order.pk}",
    )


def notify_comment_added(*, comment, may_see) -> None:
    """The order's customer hears of a staff comment; each @mentioned user who
    may see the order (`may_see(user) -> bool`) hears they were mentioned.
    Nobody is told about their own comment, and nobody is told twice."""
    order = comment.order
    told = {comment.author_id}
    title = _("New comment on order %(ref)s") % {"ref": order.external_id}
    if order.customer_id and order.customer_id not in told:
        notification_create(
            recipient=order.customer,
            kind=Notification.Kind.ORDER_COMMENT,
            title=title,
            body=comment.body,
            url=f"/notifications/#order-{order.pk}",
        )
        told.add(order.customer_id)
    usernames = set(MENTION.findall(comment.body))
    mentioned = [
        user
        for user in get_user_model().objects.filter(username__in=usernames, is_active=True).order_by("pk")
        if user.pk not in told and may_see(user)
    ]
    if mentioned:
        author = comment.author.get_username() if comment.author_id else _("An integration")
        # Everyone mentioned gets the same alert: one INSERT, one push batch.
        notifications_create_many(
            recipients=mentioned,
            kind=Notification.Kind.MENTION,
            title=_("%(author)s mentioned you on order %(ref)s") % {"author": author, "ref": order.external_id},
            body=comment.body,
            url=f"/stores/{order.store_id}/",
        )


def unattended_order_url(order) -> str:
    return f"/stores/{order.store_id}/#order-{order.pk}"


def notify_board_unattended(*, order, store_name: str, waited_seconds: int) -> int:
    """Every active tenant admin hears that `order` is still new and nobody
    is on its store's board; returns how many were told.

    Once per order and admin: a retried job tells only those not told yet.
    The caller holds the order's row lock, so two runs cannot both pass.
    """
    url = unattended_order_url(order)
    told = Notification.objects.filter(kind=Notification.Kind.BOARD_UNATTENDED, url=url).values("recipient_id")
    admins = list(
        get_user_model().objects.filter(is_tenant_admin=True, is_active=True).exclude(pk__in=told).order_by("pk")
    )
    notifications_create_many(
        recipients=admins,
        kind=Notification.Kind.BOARD_UNATTENDED,
        title=_("Nobody is on the board of %(store)s") % {"store": store_name},
        body=_("Order %(ref)s came in %(seconds)s seconds ago and is still waiting: no staff has the board open.")
        % {"ref": order.external_id, "seconds": waited_seconds},
        url=url,
    )
    return len(admins)
