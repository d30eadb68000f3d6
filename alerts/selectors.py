"""Reads of the notification inbox. The user's tenant schema must be active."""

from alerts.models import Notification
from ws import events


def notification_data(notification: Notification) -> events.NotificationData:
    return events.NotificationData(
        id=notification.pk,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        url=notification.url,
        created_at=notification.created_at.isoformat(),
        read=notification.is_read,
    )


def unread_snapshot(*, user, limit: int) -> events.NotificationsUnread:
    """The true unread count and the newest `limit` unread notifications."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    count = unread.count()
    newest = [notification_data(n) for n in unread.order_by("-id")[:limit]]
    return events.NotificationsUnread(unread_count=count, notifications=newest, has_more=count > len(newest))
