"""Off-site delivery: what is queued for push and e-mail when a
notification is made (docs/notifications.md).

Each notification gets one `Delivery` row per off-site channel, written
in one statement inside the transaction that makes it: queued, or skipped
at once (turned off for the kind, no push device, no e-mail address).
A queued push is a job (alerts/push.py), due at once if the user has no
socket open on any worker, else the tenant's `push_after_seconds` later; a
queued e-mail waits for the digest sweep (alerts/digest.py), which mails a
user's queued ones the tenant's `email_digest_minutes` after the first.
Either is skipped, when its time comes, if the notification was read (or,
for push, seen) meanwhile.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from alerts import kinds
from alerts.models import Delivery, NotificationKindPolicy, NotificationPreference, PushDevice
from platform_core import clock, jobs
from ws.layer import users_online

PUSH_JOB = "alerts.push"

_QUEUE = """
INSERT INTO {delivery} (notification_id, channel, status, reason, detail, created_at, updated_at)
SELECT n.id, ch.channel,
       CASE WHEN ch.reason = '' THEN 'queued' ELSE 'skipped' END, ch.reason, '', %(now)s, %(now)s
FROM unnest(%(ids)s::bigint[], %(users)s::bigint[]) AS n(id, user_id)
JOIN {user} u ON u.id = n.user_id
LEFT JOIN {preference} p ON p.user_id = n.user_id
CROSS JOIN LATERAL (
    SELECT c.channel,
           CASE WHEN NOT (
                    EXISTS (SELECT 1 FROM {policy} k WHERE k.kind = %(kind)s AND k.critical)
                    OR COALESCE((p.channels -> %(kind)s ->> c.channel)::boolean, c.by_default))
                THEN 'muted'
                WHEN c.channel = 'push' AND NOT EXISTS (SELECT 1 FROM {device} d WHERE d.user_id = n.user_id)
                THEN 'no_device'
                WHEN c.channel = 'email' AND u.email = ''
                THEN 'no_address'
                ELSE '' END AS reason
    FROM (VALUES ('push', %(push)s), ('email', %(email)s)) AS c(channel, by_default)
) ch
RETURNING id, notification_id, channel, status
"""


def queue(created: list[tuple[int, int]], *, kind: str) -> None:
    """Queue (or skip) the `created` notifications, (notification id, user
    id) pairs of one kind, on every off-site channel: one statement, plus one
    for the push jobs when someone has a device."""
    if not created:
        return
    defaults = kinds.default_channels(kind)
    sql = _QUEUE.format(
        delivery=Delivery._meta.db_table,
        user=get_user_model()._meta.db_table,
        preference=NotificationPreference._meta.db_table,
        policy=NotificationKindPolicy._meta.db_table,
        device=PushDevice._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "now": timezone.now(),
                "ids": [notification_id for notification_id, _ in created],
                "users": [user_id for _, user_id in created],
                "kind": kind,
                "push": defaults["push"],
                "email": defaults["email"],
            },
        )
        rows = cursor.fetchall()
    recipient = dict(created)
    pushes = [
        (delivery_id, recipient[notification_id])
        for delivery_id, notification_id, channel, status in rows
        if channel == "push" and status == "queued"
    ]
    if pushes:
        _schedule_pushes(pushes)


def _schedule_pushes(pushes: list[tuple[int, int]]) -> None:
    """A job per queued push: due now for a user with no socket open on any
    worker, else after the tenant's push_after_seconds."""
    online = users_online({user_id for _, user_id in pushes})
    now = clock.now()
    later = now + timedelta(seconds=jobs.active_tenant().push_after_seconds)
    jobs.schedule_many(
        kind=PUSH_JOB, due=[(delivery_id, later if user_id in online else now) for delivery_id, user_id in pushes]
    )


def settle(delivery: Delivery, status: str, *, reason: str = "", detail: str = "") -> None:
    """Record what became of a delivery."""
    settle_many([delivery.pk], status, reason=reason, detail=detail)


def settle_many(ids: list[int], status: str, *, reason: str = "", detail: str = "") -> None:
    """Record what became of these deliveries (no retry waiting any more)."""
    Delivery.objects.filter(pk__in=ids).update(
        status=status, reason=reason, detail=detail[:300], retry_at=None, updated_at=timezone.now()
    )
