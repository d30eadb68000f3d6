"""Reads of the notification inbox. The user's tenant schema must be active."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum

from alerts.models import Announcement, Notification, NotificationPreference, UnreadCounter
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
    """Unread and not muted: what the connect frame lists."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).exclude(kind__in=muted)


def unread_count(*, user, muted: list[str] | None = None) -> int:
    """The badge: unread notifications of kinds the user did not mute, from
    their counters (one row per kind, kept by the database). Pass `muted`
    when the caller has already read it."""
    muted = muted_kinds(user=user) if muted is None else muted
    counters = UnreadCounter.objects.filter(user=user).exclude(kind__in=muted)
    return counters.aggregate(unread=Sum("unread"))["unread"] or 0


def unread_snapshot(*, user, limit: int) -> events.NotificationsUnread:
    """The true unread count and the newest `limit` unread notifications."""
    muted = muted_kinds(user=user)
    badge = _badge(user=user, muted=muted)
    count = unread_count(user=user, muted=muted)
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

    The same rule: the counters of the kinds each user did not mute.
    Written in SQL because the muted kinds differ per user (jsonb `?`).
    """
    if not user_ids:
        return {}
    counter, preference = UnreadCounter._meta.db_table, NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.user_id, sum(c.unread) FROM {counter} c
                LEFT JOIN {preference} p ON p.user_id = c.user_id
                WHERE c.user_id = ANY(%s) AND NOT COALESCE(p.muted_kinds ? c.kind, false)
                GROUP BY c.user_id""",
            [list(user_ids)],
        )
        counts = dict(cursor.fetchall())
    return {user_id: int(counts.get(user_id, 0)) for user_id in user_ids}


def push_badges(*, user_ids: list[int], kind: str) -> dict[int, int]:
    """Of `user_ids`, those who did not mute `kind` (who hear it live), each
    with their badge; one query, whatever the number of users."""
    if not user_ids:
        return {}
    counter, preference = UnreadCounter._meta.db_table, NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT u.id, COALESCE(sum(c.unread) FILTER (WHERE NOT COALESCE(p.muted_kinds ? c.kind, false)), 0)
                FROM unnest(%s::bigint[]) AS u(id)
                LEFT JOIN {preference} p ON p.user_id = u.id
                LEFT JOIN {counter} c ON c.user_id = u.id
                WHERE NOT COALESCE(p.muted_kinds ? %s, false)
                GROUP BY u.id""",
            [list(user_ids), kind],
        )
        return {user_id: int(unread) for user_id, unread in cursor.fetchall()}


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
