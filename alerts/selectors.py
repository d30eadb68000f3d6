"""Reads of the notification inbox. The user's tenant schema must be active."""

from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.utils.translation import gettext as _

from alerts import kinds
from alerts.models import (
    Announcement,
    Delivery,
    Notification,
    NotificationKindPolicy,
    NotificationPreference,
    PushDevice,
    UnreadCounter,
)
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_client_int
from ws import events

BOXES = ("all", "unread", "archived")


class Badge(NamedTuple):
    """A user's counts, over the kinds they did not mute in the app."""

    unread: int  # not read, not archived
    unseen: int  # not seen, not archived: the bell's badge


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def notification_data(notification: Notification, *, text: tuple[str, str] | None = None) -> events.NotificationData:
    """The notification as clients see it, its text in the active language
    (or `text`, a (title, body) the caller rendered already)."""
    title, body = text if text is not None else notification.rendered()
    return events.NotificationData(
        id=notification.pk,
        kind=notification.kind,
        title=title,
        body=body,
        url=notification.url,
        created_at=notification.created_at.isoformat(),
        read=notification.is_read,
        seen_at=_iso(notification.seen_at),
        read_at=_iso(notification.read_at),
        archived_at=_iso(notification.archived_at),
        order_id=notification.order_id,
    )


def _muted_sql(kind: str) -> str:
    """SQL: kind `kind` (an SQL expression) is muted in the app by the
    preference row `p` (null when the user has none), and the tenant has
    not made it critical."""
    policy = NotificationKindPolicy._meta.db_table
    return (
        f"(COALESCE((p.channels -> {kind} ->> 'in_app')::boolean, true) = false"
        f" AND NOT EXISTS (SELECT 1 FROM {policy} k WHERE k.kind = {kind} AND k.critical))"
    )


def muted_kinds(*, user) -> list[str]:
    """The kinds `user` muted in the app (critical ones never are); one query."""
    preference = NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT kind FROM {preference} p, jsonb_object_keys(p.channels) AS kind
                WHERE p.user_id = %s AND jsonb_typeof(p.channels) = 'object' AND {_muted_sql("kind")}
                ORDER BY kind""",
            [user.pk],
        )
        return [kind for (kind,) in cursor.fetchall()]


def critical_kinds() -> set[str]:
    return set(NotificationKindPolicy.objects.filter(critical=True).values_list("kind", flat=True))


def _chosen(user) -> dict:
    """The user's stored choices ({kind: {channel: bool}}), {} if none."""
    return NotificationPreference.objects.filter(user=user).values_list("channels", flat=True).first() or {}


def _channels(kind: str, chosen: dict, critical: bool) -> dict[str, bool]:
    """The channels a user gets `kind` on: every one for a critical kind,
    else their choices over the defaults."""
    if critical:
        return dict.fromkeys(kinds.CHANNELS, True)
    choice = chosen.get(kind)
    return {**kinds.default_channels(kind), **(choice if isinstance(choice, dict) else {})}


def preferences(*, user) -> dict:
    """Every kind with its label, whether the tenant made it critical, and
    the channels the user gets it on (a critical kind: all of them)."""
    chosen = _chosen(user)
    critical = critical_kinds()
    return {
        kind: {"label": str(label), "critical": kind in critical, "channels": _channels(kind, chosen, kind in critical)}
        for kind, label in Notification.Kind.choices
    }


def channel_on(*, user, kind: str, channel: str) -> bool:
    """Whether `user` gets `kind` on `channel` now (as `preferences` reads
    it, for one kind)."""
    critical = NotificationKindPolicy.objects.filter(kind=kind, critical=True).exists()
    return _channels(kind, _chosen(user), critical)[channel] is True


def push_devices(*, user) -> QuerySet[PushDevice]:
    """The user's Web Push devices, newest first."""
    return PushDevice.objects.filter(user=user).order_by("-created_at", "-id")


def kind_policies() -> dict:
    """Every kind with its label and whether the tenant made it critical."""
    critical = critical_kinds()
    return {kind: {"label": str(label), "critical": kind in critical} for kind, label in Notification.Kind.choices}


def inbox(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """The inbox (not archived), muted kinds included, newest first."""
    notifications = Notification.objects.filter(recipient=user, archived_at__isnull=True)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-id")


def box(*, user, name: str) -> QuerySet[Notification]:
    """`all` and `unread` leave archived notifications out; `archived` is only them."""
    if name == "archived":
        return Notification.objects.filter(recipient=user, archived_at__isnull=False).order_by("-id")
    return inbox(user=user, unread_only=name == "unread")


PAGE, MAX_PAGE = 20, 100


def check_page(*, box, before, limit) -> tuple[str, int | None, int]:
    """A page of a box asked for (HTTP query values, or a socket frame's
    fields), checked: `box` all|unread|archived (default all), `before` an
    id or absent, `limit` 1..MAX_PAGE (default PAGE)."""
    errors = {}
    box = "all" if box is None else box
    if box not in BOXES:
        errors["box"] = f"one of: {', '.join(BOXES)}"
    if before is not None:
        try:
            before = parse_client_int(before, "before", minimum=1)
        except ApplicationError as error:
            errors.update(error.fields)
    if limit is None:
        limit = PAGE
    else:
        try:
            limit = parse_client_int(limit, "limit", minimum=1, maximum=MAX_PAGE)
        except ApplicationError as error:
            errors.update(error.fields)
    if errors:
        raise ApplicationError(
            "bad_request", _("invalid page: ") + "; ".join(f"{k}: {v}" for k, v in errors.items()), fields=errors
        )
    return box, before, limit


def inbox_page(*, user, name: str, before: int | None, limit: int) -> tuple[list[Notification], int | None]:
    """Up to `limit` notifications of box `name` with an id below `before`
    (None: from the newest), newest first, and the `before` of the next
    page (None at the end). New notifications have higher ids, so pages
    asked for while they arrive neither repeat nor skip one."""
    rows = box(user=user, name=name)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more else None)


def _badge(*, user, muted: list[str]) -> QuerySet[Notification]:
    """Unread, not archived and not muted: what the connect frame lists."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True, archived_at__isnull=True).exclude(
        kind__in=muted
    )


def counts(*, user) -> Badge:
    """The user's counts, from their counters (one row per kind, kept by
    the database) in one query."""
    return badges(user_ids=[user.pk])[user.pk]


def unread_count(*, user, muted: list[str] | None = None) -> int:
    return counts(user=user).unread


def unread_snapshot(*, user, limit: int) -> events.NotificationsUnread:
    """The true counts and the newest `limit` unread notifications."""
    muted = muted_kinds(user=user)
    badge = counts(user=user)
    newest = [notification_data(n) for n in _badge(user=user, muted=muted).order_by("-id")[:limit]]
    return events.NotificationsUnread(
        unread_count=badge.unread,
        notifications=newest,
        has_more=badge.unread > len(newest),
        unseen_count=badge.unseen,
    )


def missed_since(*, user, after: int, limit: int, badge: Badge | None = None) -> events.NotificationsMissed:
    """Notifications created after id `after` (read or not, muted or not),
    oldest first, with the counts (`badge`, or read now)."""
    rows = list(Notification.objects.filter(recipient=user, pk__gt=after).order_by("id")[: limit + 1])
    if badge is None:
        badge = counts(user=user)
    return events.NotificationsMissed(
        after=after,
        notifications=[notification_data(n) for n in rows[:limit]],
        has_more=len(rows) > limit,
        unread_count=badge.unread,
        unseen_count=badge.unseen,
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
        missed = missed_since(
            user=user,
            after=after,
            limit=missed_limit,
            badge=Badge(snapshot.unread_count, snapshot.unseen_count),
        )
    latest = Notification.objects.filter(recipient=user).order_by("-id").values_list("id", flat=True).first() or 0
    tenant_newest = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return snapshot, missed, latest, tenant_newest


def badges(*, user_ids: list[int]) -> dict[int, Badge]:
    """The counts of many users in one query (fan-out of announcements):
    the counters of the kinds each did not mute. In SQL because what is
    muted differs per user (jsonb) and per tenant (critical kinds)."""
    if not user_ids:
        return {}
    counter, preference = UnreadCounter._meta.db_table, NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.user_id, sum(c.unread), sum(c.unseen) FROM {counter} c
                LEFT JOIN {preference} p ON p.user_id = c.user_id
                WHERE c.user_id = ANY(%s) AND NOT {_muted_sql("c.kind")}
                GROUP BY c.user_id""",
            [list(user_ids)],
        )
        found = {user_id: Badge(int(unread), int(unseen)) for user_id, unread, unseen in cursor.fetchall()}
    return {user_id: found.get(user_id, Badge(0, 0)) for user_id in user_ids}


def unread_counts(*, user_ids: list[int]) -> dict[int, int]:
    """`unread_count` of many users in one query."""
    return {user_id: badge.unread for user_id, badge in badges(user_ids=user_ids).items()}


def push_badges(*, user_ids: list[int], kind: str) -> dict[int, Badge]:
    """Of `user_ids`, those who did not mute `kind` in the app (who hear it
    live), each with their counts; one query, whatever the number of users."""
    if not user_ids:
        return {}
    counter, preference = UnreadCounter._meta.db_table, NotificationPreference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT u.id,
                       COALESCE(sum(c.unread) FILTER (WHERE NOT {_muted_sql("c.kind")}), 0),
                       COALESCE(sum(c.unseen) FILTER (WHERE NOT {_muted_sql("c.kind")}), 0)
                FROM unnest(%s::bigint[]) AS u(id)
                LEFT JOIN {preference} p ON p.user_id = u.id
                LEFT JOIN {counter} c ON c.user_id = u.id
                WHERE NOT {_muted_sql("%s::text")}
                GROUP BY u.id""",
            [list(user_ids), kind, kind],
        )
        return {user_id: Badge(int(unread), int(unseen)) for user_id, unread, unseen in cursor.fetchall()}


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


# --- the delivery log (docs/notifications.md#delivery-log) -------------------------
def delivery_data(delivery: Delivery) -> dict:
    """A delivery as its user reads it: the notification's title in the
    active language. `delivery.notification` must be loaded with it."""
    notification = delivery.notification
    return {
        "id": delivery.pk,
        "notification": {"id": notification.pk, "title": notification.rendered()[0], "url": notification.url},
        "channel": delivery.channel,
        "status": delivery.status,
        "reason": delivery.reason,
        "detail": delivery.detail,
        "created_at": delivery.created_at.isoformat(),
        "updated_at": delivery.updated_at.isoformat(),
    }


def deliveries_page(*, user, before: int | None, limit: int) -> tuple[list[Delivery], int | None]:
    """Up to `limit` of the user's deliveries (every channel, every
    outcome) after delivery `before` (None: from the newest), and the
    `before` of the next page (None at the end).

    Newest notification first, and its channels newest first: the order of
    the user's inbox index, so a page reads about `limit` rows whoever the
    user is. (Ordered by the delivery's own id, PostgreSQL walks the
    tenant's deliveries backwards until it finds enough of the user's: a
    second for a customer last notified months ago in a busy tenant.) A
    notification's deliveries are made with it, so new ones come before
    every page already read: pages asked for while they arrive neither
    repeat nor skip one.

    `before` must be one of the user's deliveries (a page's `next`); one
    that is not, or no longer (retention deleted its notification), is
    refused: the client starts again from the newest."""
    mine = Delivery.objects.filter(notification__recipient=user)
    rows = mine.select_related("notification").order_by("-notification_id", "-id")
    if before is not None:
        after = mine.filter(pk=before).values_list("notification_id", flat=True).first()
        if after is None:
            raise ApplicationError(
                "bad_request",
                _("`before` is not one of your deliveries (any more): start again from the newest"),
                fields={"before": "the `next` of a page of yours"},
            )
        rows = rows.filter(Q(notification_id__lt=after) | Q(notification_id=after, pk__lt=before)).filter(
            notification_id__lte=after  # the bound the index scan starts from
        )
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more else None)


SUMMARY_DAYS, MAX_SUMMARY_DAYS = 7, 90


def check_summary_days(days) -> int:
    """`?days=` of the tenant's totals: 1..MAX_SUMMARY_DAYS, default SUMMARY_DAYS."""
    if days is None:
        return SUMMARY_DAYS
    try:
        return parse_client_int(days, "days", minimum=1, maximum=MAX_SUMMARY_DAYS)
    except ApplicationError as error:
        raise ApplicationError(
            "bad_request",
            _("`days` must be a whole number from 1 to %(max)s") % {"max": MAX_SUMMARY_DAYS},
            fields=error.fields,
        ) from None


def delivery_summary(*, since) -> list[dict]:
    """How many deliveries made since `since` ended how: one row per
    channel, status and reason that occurs, in one GROUP BY (the created_at
    index bounds it to the period). The tenant's schema is the tenant."""
    rows = (
        Delivery.objects.filter(created_at__gte=since)
        .values("channel", "status", "reason")
        .annotate(count=Count("id"))
        .order_by("channel", "status", "reason")
    )
    return [
        {"channel": row["channel"], "status": row["status"], "reason": row["reason"], "count": row["count"]}
        for row in rows
    ]


def delivery_settings(*, tenant) -> dict:
    """The tenant's off-site timing (tenant admins change it with
    `services.delivery_settings_update`)."""
    return {"push_after_seconds": tenant.push_after_seconds, "email_digest_minutes": tenant.email_digest_minutes}
