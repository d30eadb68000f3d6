"""Writes to the notification inbox. The recipient's tenant schema must be active."""

from django.db import connection, transaction

from alerts.models import Notification
from alerts.selectors import notification_data
from ws import events, groups
from ws.layer import publish_on_commit


@transaction.atomic
def notification_create(*, recipient, kind: str, title: str, body: str = "", url: str = "") -> Notification:
    """Persist a notification, then push it to the recipient's open sockets.

    The row is written first: a user who is offline, or whose push is lost,
    finds it unread on the next connect.
    """
    notification = Notification.objects.create(recipient=recipient, kind=kind, title=title, body=body, url=url)
    publish_on_commit(
        groups.user_notifications(connection.tenant, recipient.pk),
        events.NotificationCreated(notification=notification_data(notification)),
    )
    return notification
