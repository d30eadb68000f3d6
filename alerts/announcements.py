"""Announcements: a tenant admin tells everyone, the staff, the customers or
chosen stores' staff. Stored at once; delivered by a job at `publish_at`
(one inbox copy per recipient in one statement, then a push to those
online); taken out of every inbox at `expires_at`. The tenant's schema
must be active (the job runner enters it).
"""

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts import offsite, selectors
from alerts.models import Announcement, Notification
from platform_core import jobs
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_moment
from stores.models import Store
from ws import events
from ws.layer import publish_to_users_now, users_online

AUDIENCES = ("everyone", "staff", "customers")
MAX_BODY = 5000


def check_announcement(*, author, title, body, severity, audience, publish_at, expires_at) -> dict:
    """Validate a tenant admin's announcement; every bad field is named."""
    if not getattr(author, "is_tenant_admin", False):
        raise ApplicationError("forbidden", _("only tenant admins may announce"))
    errors: dict[str, str] = {}
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        errors["title"] = _("a non-empty string of at most %(count)s characters") % {"count": 200}
    if not isinstance(body, str) or len(body) > MAX_BODY:
        errors["body"] = _("a string of at most %(count)s characters") % {"count": MAX_BODY}
    if severity not in Announcement.Severity.values:
        errors["severity"] = _("one of: %(values)s") % {"values": ", ".join(Announcement.Severity.values)}
    try:
        audience = check_audience(audience)
    except ApplicationError as error:
        errors.update(error.fields)
    now = timezone.now()
    publish_at = _moment(publish_at, "publish_at", errors) or now
    expires_at = _moment(expires_at, "expires_at", errors)
    if expires_at and expires_at <= max(publish_at, now):
        errors["expires_at"] = _("must be later than now and than publish_at")
    if errors:
        raise ApplicationError("invalid", _("invalid announcement"), fields=errors)
    return {
        "title": title.strip(),
        "body": body,
        "severity": severity,
        "audience": audience,
        "publish_at": max(publish_at, now),
        "expires_at": expires_at,
    }


def check_audience(audience):
    """The audience, normalized (store ids sorted, once each), or an
    ApplicationError naming `audience`."""
    if isinstance(audience, dict):
        stores = audience.get("stores")
        if (
            set(audience) != {"stores"}
            or not isinstance(stores, list)
            or not stores
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2**63 for s in stores)
        ):
            why = _('{"stores": [store ids]} with a non-empty list of ids')
        else:
            unknown = sorted(set(stores) - set(Store.objects.filter(pk__in=stores).values_list("pk", flat=True)))
            if not unknown:
                return {"stores": sorted(set(stores))}
            why = _("unknown stores: %(ids)s") % {"ids": ", ".join(map(str, unknown[:20]))}
    elif isinstance(audience, str) and audience in AUDIENCES:
        return audience
    else:
        why = _('one of "everyone", "staff", "customers", or {"stores": [ids]}')
    raise ApplicationError("invalid", _("invalid audience"), fields={"audience": why})


def audience_size(audience) -> int:
    """How many people an audience reaches now (the "send to N people?"
    question). Delivery reads the audience again at publish_at."""
    return selectors.audience_users(check_audience(audience)).count()


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
        author=author,
        title=title,
        body=body,
        severity=severity,
        audience=audience,
        publish_at=publish_at,
        expires_at=expires_at,
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
        created = copies_insert(announcement)
        offsite.queue(created, kind=Notification.Kind.ANNOUNCEMENT)
        Announcement.objects.filter(pk=announcement.pk).update(
            delivered_at=timezone.now(), recipients_count=announcement.notifications.count()
        )
    copies_push(announcement, copies_online(created))


def copies_push(announcement: Announcement, copies: list[tuple[int, int]]) -> int:
    """Push (notification id, user id) copies, committed, to their users'
    sockets, skipping users who muted announcements; returns failed sends."""
    badges = selectors.push_badges(user_ids=[uid for _, uid in copies], kind=Notification.Kind.ANNOUNCEMENT)
    return publish_to_users_now(
        [
            (uid, events.to_json(created_frame(announcement, nid, badges[uid])), nid)
            for nid, uid in copies
            if uid in badges
        ]
    )


def created_frame(
    announcement: Announcement, notification_id: int, badge: selectors.Badge
) -> events.NotificationCreated:
    """The live frame of one recipient's copy (built without reading the row;
    an announcement's text is its author's, in no one language)."""
    return events.NotificationCreated(
        notification=events.NotificationData(
            id=notification_id,
            kind=Notification.Kind.ANNOUNCEMENT,
            title=announcement.title,
            body=announcement.body,
            url=ANNOUNCEMENT_URL,
            created_at=announcement.publish_at.isoformat(),
            read=False,
        ),
        unread_count=badge.unread,
        unseen_count=badge.unseen,
    )


ANNOUNCEMENT_URL = "/notifications/"


def copies_online(copies: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (notification id, user id) pairs whose user has a socket open now."""
    online = users_online({uid for _, uid in copies})
    return [(nid, uid) for nid, uid in copies if uid in online]


def copies_insert(announcement: Announcement) -> list[tuple[int, int]]:
    """One unread inbox copy per recipient not holding one yet, in one
    statement; returns the new (notification id, user id) pairs."""
    audience_sql, audience_params = selectors.audience_users(announcement.audience).values("id").query.sql_with_params()
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (recipient_id, kind, title, body, url, created_at, read_at, announcement_id)
                SELECT audience.id, %s, %s, %s, %s, %s, NULL, %s FROM ({audience_sql}) AS audience
                ON CONFLICT (announcement_id, recipient_id) WHERE announcement_id IS NOT NULL DO NOTHING
                RETURNING id, recipient_id""",
            [
                Notification.Kind.ANNOUNCEMENT,
                announcement.title,
                announcement.body,
                ANNOUNCEMENT_URL,
                announcement.publish_at,
                announcement.pk,
                *audience_params,
            ],
        )
        return sorted(cursor.fetchall())


@jobs.handler(EXPIRE)
def announcement_expire(announcement_id: int) -> None:
    """Take an expired announcement out of every inbox, and tell those online."""
    with transaction.atomic():
        announcement = (
            Announcement.objects.select_for_update().filter(pk=announcement_id, expired_at__isnull=True).first()
        )
        if announcement is None:
            return
        copies = announcement.notifications.all()
        removed = list(copies.values_list("pk", "recipient_id"))
        announcement.read_count_at_expiry = copies.filter(read_at__isnull=False).count()
        announcement.expired_at = timezone.now()
        announcement.save(update_fields=["read_count_at_expiry", "expired_at"])
        copies.delete()
    removed = copies_online(removed)
    counts = selectors.badges(user_ids=[uid for _, uid in removed])
    publish_to_users_now(
        [
            (
                uid,
                events.to_json(
                    events.NotificationsRemoved(
                        ids=[nid], unread_count=counts[uid].unread, unseen_count=counts[uid].unseen
                    )
                ),
                None,
            )
            for nid, uid in removed
        ]
    )
