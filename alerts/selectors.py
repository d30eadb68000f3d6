"""Reads of the notification inbox. The user's tenant schema must be active."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet

from alerts.models import Announcement, Notification, NotificationPreference
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


def unread_count(*, user, muted: list[str] | None = None) -> int:
    """The badge. Pass `muted` when the caller has already read it."""
    return _badge(user=user, muted=muted_kinds(user=user) if muted is None else muted).count()


def unread_snapshot(*, user, limit: int) -> events.NotificationsUnread:
    """The true unread count and the newest `limit` unread notifications."""
    badge = _badge(user=user, muted=muted_kinds(user=user))
    count = badge.count()
    newest = [notification_data(n) for n in badge.order_by("-id")[:limit]]
    return events.NotificationsUnread(unread_count=count, notifications=newest, has_more=count > len(newest))


def missed_since(*, user, after: int, limit: int, unread: int | None = None) -> events.NotificationsMissed:
    """Notifications created after id `after` (read or not, muted or not),
    oldest first, with the badge (`unread`, or counted now)."""
    rows = list(Notification.objects.filter(recipient=user, pk__gt=after).order_by("id")[: limit + 1])
    if unread is None:
        unread = unread_count(user=user, muted=muted_kinds(user=user))
    return events.NotificationsMissed(
        after=after,
        notifications=[notification_data(n) for n in rows[:limit]],
        has_more=len(rows) > limit,
        unread_count=unread,
    )


def newest_ids_since(*, after_id: int, before) -> dict[int, int]:
    """The newest notification id of each recipient, among the notifications
    with an id above `after_id` created before `before`. Reads only those
    rows (a range of the primary key), however large the inbox table."""
    rows = (
        Notification.objects.filter(id__gt=after_id, created_at__lt=before)
        .values("recipient_id")
        .annotate(newest=Max("id"))
        .values_list("recipient_id", "newest")
    )
    return dict(rows)


def connect_state(*, user, after: int | None, limit: int, missed_limit: int):
    """What a socket reads on connect, in one trip to the database thread:
    the unread snapshot, what was missed since `after` (if given), the
    newest notification id of the user (the socket's position), and the
    newest of the whole tenant (where the bells' repair must look from)."""
    snapshot = unread_snapshot(user=user, limit=limit)
    missed = None
    if after is not None:
        missed = missed_since(user=user, after=after, limit=missed_limit, unread=snapshot.unread_count)
    latest = Notification.objects.filter(recipient=user).order_by("-id").values_list("id", flat=True).first() or 0
    tenant_newest = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return snapshot, missed, latest, tenant_newest


def unread_counts(*, user_ids: list[int]) -> dict[int, int]:
    """`unread_count` for many users in one query (fan-out of announcements).

    The same rule as `_badge`: unread, and not of a kind the user muted.
    Written in SQL because the muted kinds differ per user (jsonb `?`).
    """
    if not user_ids:
        return {}
    notification, preference = Notification._meta.db_table, NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT n.recipient_id, count(*) FROM {notification} n
                LEFT JOIN {preference} p ON p.user_id = n.recipient_id
                WHERE n.recipient_id = ANY(%s) AND n.read_at IS NULL
                  AND NOT COALESCE(p.muted_kinds ? n.kind, false)
                GROUP BY n.recipient_id""",
            [list(user_ids)],
        )
        counts = dict(cursor.fetchall())
    return {user_id: counts.get(user_id, 0) for user_id in user_ids}


def muting(*, kind: str, user_ids: list[int]) -> set[int]:
    """Which of `user_ids` muted `kind`."""
    return set(
        NotificationPreference.objects.filter(user_id__in=user_ids, muted_kinds__contains=[kind]).values_list(
            "user_id", flat=True
        )
    )


def audience_users(audience) -> QuerySet:
    """Active users an (already validated) audience reaches.

    everyone: every active user. staff: users with a staff membership.
    customers: users with no membership who are not tenant admins.
    {"stores": [...]}: staff (any role) of those stores.
    """
    users = get_user_model().objects.filter(is_active=True)
    if audience == "everyone":
        return users
    if audience == "staff":
        return users.filter(memberships__isnull=False).distinct()
    if audience == "customers":
        return users.filter(memberships__isnull=True, is_tenant_admin=False)
    return users.filter(memberships__store_id__in=audience["stores"]).distinct()


def announcement_history() -> QuerySet[Announcement]:
    """Announcements, newest first, with how many recipients read them."""
    return Announcement.objects.select_related("author").annotate(
        read_count=Count("notifications", filter=Q(notifications__read_at__isnull=False))
    )
