"""Reads of the notification inbox. The user's tenant schema must be active."""

from django.db.models import QuerySet

from alerts.models import Notification, NotificationPreference
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


def muted_kinds(*, user) -> list[str]:
    return list(NotificationPreference.objects.filter(user=user).values_list("muted_kinds", flat=True).first() or [])


def inbox(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """Everything the user received, muted kinds included, newest first."""
    notifications = Notification.objects.filter(recipient=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-id")


def _badge(*, user, muted: list[str]) -> QuerySet[Notification]:
    """Unread and not muted: what the badge counts and the connect frame lists."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).exclude(kind__in=muted)


def unread_count(*, user) -> int:
    return _badge(user=user, muted=muted_kinds(user=user)).count()


def unread_snapshot(*, user, limit: int) -> events.NotificationsUnread:
    """The true unread count and the newest `limit` unread notifications."""
    badge = _badge(user=user, muted=muted_kinds(user=user))
    count = badge.count()
    newest = [notification_data(n) for n in badge.order_by("-id")[:limit]]
    return events.NotificationsUnread(unread_count=count, notifications=newest, has_more=count > len(newest))


def missed_since(*, user, after: int, limit: int) -> events.NotificationsMissed:
    """Notifications created after id `after` (read or not, muted or not), oldest first."""
    rows = list(Notification.objects.filter(recipient=user, pk__gt=after).order_by("id")[: limit + 1])
    return events.NotificationsMissed(
        after=after, notifications=[notification_data(n) for n in rows[:limit]], has_more=len(rows) > limit
    )
