"""What order changes tell people: the customer hears of a status change
or a staff comment; an @mentioned colleague who may see the order hears
they were mentioned; the tenant admins hear of a new order nobody is on
the store's board to see. Called by orders/services.py inside the change's
transaction (the notifications commit with it and are pushed after).
What they say is in alerts/kinds.py: stored as kind and params, rendered
in each reader's language.
"""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model

from alerts.models import Notification
from alerts.services import notification_create, notifications_create_many

# Django's username characters, after an @ that does not follow a word
# character (so e-mail addresses are not mentions).
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


def order_url(order_id: int) -> str:
    # The order's page, for its customer and the staff of its store.
    return f"/orders/{order_id}/"


def notify_status_changed(*, order) -> None:
    """The order's customer hears that its status changed, and why it was
    cancelled when staff gave a reason."""
    if order.customer_id is None:
        return
    params = {"ref": order.external_id, "status": order.status}
    if order.cancel_reason:
        params["reason"] = order.cancel_reason
    notification_create(
        recipient=order.customer,
        kind=Notification.Kind.ORDER_STATUS,
        params=params,
        url=order_url(order.pk),
        order_id=order.pk,
    )


def notify_comment_added(*, comment, may_see) -> None:
    """The order's customer hears of a staff comment; each @mentioned user who
    may see the order (`may_see(user) -> bool`) hears they were mentioned.
    Nobody is told about their own comment, and nobody is told twice."""
    order = comment.order
    told = {comment.author_id}
    if order.customer_id and order.customer_id not in told:
        notification_create(
            recipient=order.customer,
            kind=Notification.Kind.ORDER_COMMENT,
            params={"ref": order.external_id},
            body=comment.body,
            url=order_url(order.pk),
            order_id=order.pk,
        )
        told.add(order.customer_id)
    usernames = set(MENTION.findall(comment.body))
    mentioned = [
        user
        for user in get_user_model().objects.filter(username__in=usernames, is_active=True).order_by("pk")
        if user.pk not in told and may_see(user)
    ]
    if mentioned:
        # No author: an integration's comment (alerts/kinds.py names it).
        author = comment.author.get_username() if comment.author_id else None
        # Everyone mentioned gets the same alert: one INSERT, one push batch.
        notifications_create_many(
            recipients=mentioned,
            kind=Notification.Kind.MENTION,
            params={"ref": order.external_id, "author": author},
            body=comment.body,
            url=order_url(order.pk),
            order_id=order.pk,
        )


# At most one "nobody on the board" notification per store and admin in
# this time: a rush with the board closed, or a faulty shop integration,
# must not send one per order (an outside test sent 100 in 1.4 s).
UNATTENDED_REPEAT = timedelta(minutes=5)


def unattended_store_url(store_id: int) -> str:
    # The admins' page of the store (its staff, who to call): tenant admins
    # are not on a store's board unless they are its staff (trust rules).
    return f"/manage/stores/{store_id}/"


def notify_board_unattended(*, store_id: int, store_name: str, waiting: int, oldest, now) -> int:
    """Every active tenant admin hears that `waiting` orders (`oldest` the
    first of them, still new) wait with nobody on the store's board;
    returns how many were told.

    One notification per admin for all of them, and none to an admin told
    about this store within UNATTENDED_REPEAT. The caller holds the store's
    check lock, so two runs of its check cannot both pass.
    """
    url = unattended_store_url(store_id)
    told = Notification.objects.filter(
        kind=Notification.Kind.BOARD_UNATTENDED, url=url, created_at__gt=now - UNATTENDED_REPEAT
    ).values("recipient_id")
    admins = list(
        get_user_model().objects.filter(is_tenant_admin=True, is_active=True).exclude(pk__in=told).order_by("pk")
    )
    notifications_create_many(
        recipients=admins,
        kind=Notification.Kind.BOARD_UNATTENDED,
        params={
            "store": store_name,
            "count": waiting,
            "ref": oldest.external_id,
            "seconds": int((now - oldest.created_at).total_seconds()),
        },
        url=url,
    )
    return len(admins)
