"""Writes to the notification inbox, and the triggers that fill it.

The recipient's tenant schema must be active. Every notification is stored
first and pushed after commit, so a user who is offline, or whose push is
lost, finds it on the next connect.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts import selectors
from alerts.models import Announcement, Notification, NotificationPreference
from platform_core import jobs
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_moment
from ws import events, groups
from ws.layer import groups_with_members, publish_many_now, publish_on_commit

MAX_IDS = 1000
# Django's username characters, after an @ that does not follow a word
# character (so e-mail addresses are not mentions).
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


@transaction.atomic
def notification_create(*, recipient, kind: str, title: str, body: str = "", url: str = "") -> Notification:
    """Persist a notification; push it unless the recipient muted its kind."""
    notification = Notification.objects.create(recipient=recipient, kind=kind, title=title, body=body, url=url)
    muted = selectors.muted_kinds(user=recipient)
    if kind not in muted:
        publish_on_commit(
            groups.user_notifications(connection.tenant, recipient.pk),
            events.NotificationCreated(
                notification=selectors.notification_data(notification),
                unread_count=selectors.unread_count(user=recipient, muted=muted),
            ),
            seq=notification.pk,  # the socket's position: its heartbeat repairs from here
        )
    return notification


# --- read state --------------------------------------------------------------
@dataclass(frozen=True)
class ReadResult:
    ids: list[int]  # the user's notifications among those asked for (now read)
    unknown_ids: list[int]  # not theirs, or not existing: nothing changed for them
    unread_count: int


def check_ids(ids) -> list[int]:
    if not isinstance(ids, list) or not ids:
        raise ApplicationError("invalid", "`ids` must be a non-empty list", fields={"ids": "a non-empty list of ids"})
    if len(ids) > MAX_IDS:
        raise ApplicationError("invalid", "too many ids", fields={"ids": f"at most {MAX_IDS} per request"})
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise ApplicationError("invalid", "ids must be positive integers", fields={"ids": "positive integers only"})
    return sorted(set(ids))


@transaction.atomic
def notifications_mark_read(*, user, ids) -> ReadResult:
    ids = check_ids(ids)
    mine = list(Notification.objects.filter(recipient=user, pk__in=ids).values_list("pk", flat=True))
    changed = Notification.objects.filter(pk__in=mine, read_at__isnull=True).update(read_at=timezone.now())
    result = ReadResult(
        ids=sorted(mine), unknown_ids=sorted(set(ids) - set(mine)), unread_count=selectors.unread_count(user=user)
    )
    if changed:
        _publish_read(user, result.ids, result.unread_count, all_=False)
    return result


@transaction.atomic
def notifications_mark_all_read(*, user) -> ReadResult:
    now = timezone.now()
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    ids = sorted(unread.values_list("pk", flat=True)[:MAX_IDS])
    changed = unread.update(read_at=now)
    result = ReadResult(ids=ids, unknown_ids=[], unread_count=selectors.unread_count(user=user))
    if changed:
        _publish_read(user, ids, result.unread_count, all_=True)
    return result


def _publish_read(user, ids: list[int], unread_count: int, *, all_: bool) -> None:
    publish_on_commit(
        groups.user_notifications(connection.tenant, user.pk),
        events.NotificationsRead(ids=ids, unread_count=unread_count, all=all_),
    )


# --- preferences ----------------------------------------------------------------
@transaction.atomic
def preferences_update(*, user, muted_kinds) -> list[str]:
    if not isinstance(muted_kinds, list) or not all(isinstance(k, str) for k in muted_kinds):
        raise ApplicationError("invalid", "muted_kinds must be a list", fields={"muted_kinds": "a list of kinds"})
    unknown = sorted(set(muted_kinds) - set(Notification.Kind.values))
    if unknown:
        raise ApplicationError(
            "invalid", "unknown kinds", fields={"muted_kinds": f"unknown: {', '.join(unknown)[:200]}; known: {', '.join(Notification.Kind.values)}"}
        )
    muted = sorted(set(muted_kinds))
    NotificationPreference.objects.update_or_create(user=user, defaults={"muted_kinds": muted})
    return muted


# --- retention ---------------------------------------------------------------------
def notifications_prune(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete read notifications older than `older_than`; return how many.

    Unread ones are kept whatever their age: they are what a user has not
    seen yet. Batches keep each transaction (and its locks) short.
    """
    cutoff = timezone.now() - older_than
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff).values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return total
            total += Notification.objects.filter(pk__in=ids).delete()[0]


# --- triggers --------------------------------------------------------------------------
def notify_status_changed(*, order) -> None:
    """The order's customer hears that its status changed."""
    if order.customer_id is None:
        return
    notification_create(
        recipient=order.customer,
        kind=Notification.Kind.ORDER_STATUS,
        title=_("Order %(ref)s is now %(status)s") % {"ref": order.external_id, "status": order.get_status_display()},
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
            recipient=order.customer, kind=Notification.Kind.ORDER_COMMENT, title=title, body=comment.body,
            url=f"/notifications/#order-{order.pk}",
        )
        told.add(order.customer_id)
    usernames = set(MENTION.findall(comment.body))
    for user in get_user_model().objects.filter(username__in=usernames, is_active=True).order_by("pk"):
        if user.pk in told or not may_see(user):
            continue
        author = comment.author.get_username() if comment.author_id else _("An integration")
        notification_create(
            recipient=user,
            kind=Notification.Kind.MENTION,
            title=_("%(author)s mentioned you on order %(ref)s") % {"author": author, "ref": order.external_id},
            body=comment.body,
            url=f"/stores/{order.store_id}/",
        )
        told.add(user.pk)


# --- announcements ------------------------------------------------------------------
AUDIENCES = ("everyone", "staff", "customers")
MAX_BODY = 5000


def check_announcement(*, author, title, body, severity, audience, publish_at, expires_at) -> dict:
    """Validate a tenant admin's announcement; every bad field is named."""
    from stores.models import Store

    if not getattr(author, "is_tenant_admin", False):
        raise ApplicationError("forbidden", "only tenant admins may announce")
    errors: dict[str, str] = {}
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        errors["title"] = "a non-empty string of at most 200 characters"
    if not isinstance(body, str) or len(body) > MAX_BODY:
        errors["body"] = f"a string of at most {MAX_BODY} characters"
    if severity not in Announcement.Severity.values:
        errors["severity"] = f"one of: {', '.join(Announcement.Severity.values)}"
    if isinstance(audience, dict):
        stores = audience.get("stores")
        if set(audience) != {"stores"} or not isinstance(stores, list) or not stores or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2**63 for s in stores
        ):
            errors["audience"] = '{"stores": [store ids]} with a non-empty list of ids'
        else:
            unknown = sorted(set(stores) - set(Store.objects.filter(pk__in=stores).values_list("pk", flat=True)))
            if unknown:
                errors["audience"] = f"unknown stores: {', '.join(map(str, unknown[:20]))}"
            audience = {"stores": sorted(set(stores))}
    elif audience not in AUDIENCES:
        errors["audience"] = 'one of "everyone", "staff", "customers", or {"stores": [ids]}'
    now = timezone.now()
    publish_at = _moment(publish_at, "publish_at", errors) or now
    expires_at = _moment(expires_at, "expires_at", errors)
    if expires_at and expires_at <= max(publish_at, now):
        errors["expires_at"] = "must be later than now and than publish_at"
    if errors:
        raise ApplicationError("invalid", "invalid announcement", fields=errors)
    return {"title": title.strip(), "body": body, "severity": severity, "audience": audience,
            "publish_at": max(publish_at, now), "expires_at": expires_at}


def _moment(value, name: str, errors: dict):
    if value is None:
        return None
    moment = parse_moment(value)
    if moment is None or moment.tzinfo is None:
        errors[name] = "an ISO-8601 date-time with a UTC offset, e.g. 2026-12-24T18:00:00+01:00"
        return None
    return moment


@transaction.atomic
def announcement_create(
    *, author, title, body="", severity="info", audience, publish_at=None, expires_at=None
) -> Announcement:
    """Store the announcement and schedule its delivery; no per-user work here.

    Delivery (one inbox copy per recipient, then a push to those online)
    runs as a job, at `publish_at`, so the request answers at once whatever
    the audience's size.
    """
    fields = check_announcement(
        author=author, title=title, body=body, severity=severity, audience=audience,
        publish_at=publish_at, expires_at=expires_at,
    )
    announcement = Announcement.objects.create(author=author, **fields)
    jobs.schedule(kind=DELIVER, object_id=announcement.pk, due_at=announcement.publish_at)
    if announcement.expires_at:
        jobs.schedule(kind=EXPIRE, object_id=announcement.pk, due_at=announcement.expires_at)
    return announcement


DELIVER, EXPIRE = "announcement.deliver", "announcement.expire"


@jobs.handler(DELIVER)
def announcement_deliver(announcement_id: int) -> None:
    """Give every recipient an unread inbox copy, then push it to those online.

    Idempotent (a retried job inserts only missing copies, pushes only new
    ones). One INSERT … SELECT writes all copies: 20,000 recipients are one
    statement, not 20,000 round trips.
    """
    announcement = Announcement.objects.filter(pk=announcement_id, expired_at__isnull=True).first()
    if announcement is None or (announcement.expires_at and announcement.expires_at <= timezone.now()):
        return
    with transaction.atomic():
        created = _insert_copies(announcement)
        Announcement.objects.filter(pk=announcement.pk).update(
            delivered_at=timezone.now(), recipients_count=announcement.notifications.count()
        )
    online = _online(created)
    quiet = selectors.muting(kind=Notification.Kind.ANNOUNCEMENT, user_ids=[uid for _, uid in online])
    loud = [(nid, uid) for nid, uid in online if uid not in quiet]
    counts = selectors.unread_counts(user_ids=[uid for _, uid in loud])
    created_at = announcement.publish_at.isoformat()
    publish_many_now([
        (
            groups.user_notifications(connection.tenant, uid),
            events.to_json(events.NotificationCreated(
                notification=events.NotificationData(
                    id=nid, kind=Notification.Kind.ANNOUNCEMENT, title=announcement.title,
                    body=announcement.body, url=ANNOUNCEMENT_URL, created_at=created_at, read=False,
                ),
                unread_count=counts[uid],
            )),
            nid,
        )
        for nid, uid in loud
    ])


ANNOUNCEMENT_URL = "/notifications/"


def _online(copies: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (notification id, user id) pairs whose user has a socket open now."""
    tenant = connection.tenant
    occupied = groups_with_members([groups.user_notifications(tenant, uid) for _, uid in copies])
    return [(nid, uid) for nid, uid in copies if groups.user_notifications(tenant, uid) in occupied]


def _insert_copies(announcement: Announcement) -> list[tuple[int, int]]:
    audience_sql, audience_params = selectors.audience_users(announcement.audience).values("id").query.sql_with_params()
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (recipient_id, kind, title, body, url, created_at, read_at, announcement_id)
                SELECT audience.id, %s, %s, %s, %s, %s, NULL, %s FROM ({audience_sql}) AS audience
                ON CONFLICT (announcement_id, recipient_id) WHERE announcement_id IS NOT NULL DO NOTHING
                RETURNING id, recipient_id""",
            [Notification.Kind.ANNOUNCEMENT, announcement.title, announcement.body, ANNOUNCEMENT_URL,
             announcement.publish_at, announcement.pk, *audience_params],
        )
        return sorted(cursor.fetchall())


@jobs.handler(EXPIRE)
def announcement_expire(announcement_id: int) -> None:
    """Take an expired announcement out of every inbox, and tell those online."""
    with transaction.atomic():
        announcement = Announcement.objects.select_for_update().filter(pk=announcement_id, expired_at__isnull=True).first()
        if announcement is None:
            return
        copies = announcement.notifications.all()
        removed = list(copies.values_list("pk", "recipient_id"))
        announcement.read_count_at_expiry = copies.filter(read_at__isnull=False).count()
        announcement.expired_at = timezone.now()
        announcement.save(update_fields=["read_count_at_expiry", "expired_at"])
        copies.delete()
    removed = _online(removed)
    counts = selectors.unread_counts(user_ids=[uid for _, uid in removed])
    publish_many_now([
        (
            groups.user_notifications(connection.tenant, uid),
            events.to_json(events.NotificationsRemoved(ids=[nid], unread_count=counts[uid])),
        )
        for nid, uid in removed
    ])
