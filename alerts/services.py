"""Writes to the notification inbox: create, read state, preferences,
retention. What fills it lives beside it: alerts/triggers.py (orders) and
alerts/announcements.py (tenant admins).

The recipient's tenant schema must be active. Every notification is stored
first and pushed after commit, so a user who is offline, or whose push is
lost, finds it on the next connect.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from alerts import selectors
from alerts.models import Notification, NotificationPreference
from platform_core.errors import ApplicationError
from ws import events
from ws.layer import publish_to_user, publish_to_users

MAX_IDS = 1000


def notification_create(*, recipient, kind: str, title: str, body: str = "", url: str = "") -> Notification:
    """Persist a notification; push it unless the recipient muted its kind.
    (Atomic through `notifications_create_many`: one more `atomic` here
    would only add a savepoint.)"""
    return notifications_create_many(recipients=[recipient], kind=kind, title=title, body=body, url=url)[0]


@transaction.atomic
def notifications_create_many(
    *, recipients, kind: str, title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """One notification for each of `recipients` (users; each once, however
    often listed), in one multi-row INSERT; returned in recipient id order.

    Pushed after commit, all in one batch, to every recipient who did not
    mute `kind`, each with their badge. The badge comes from the unread
    counters (alerts.models.UnreadCounter), which the INSERT's trigger has
    already moved, in one query for all recipients: no count per
    notification. The counters of these recipients stay locked by this
    transaction until it commits, so each badge pushed is exact.
    """
    if kind not in Notification.Kind.values:
        raise ApplicationError(
            "invalid", "unknown kind", fields={"kind": f"one of: {', '.join(Notification.Kind.values)}"}
        )
    people = {recipient.pk: recipient for recipient in recipients}
    if not people:
        return []
    now = timezone.now()
    created = Notification.objects.bulk_create(
        Notification(recipient=people[user_id], kind=kind, title=title, body=body, url=url, created_at=now)
        for user_id in sorted(people)
    )
    badges = selectors.push_badges(user_ids=sorted(people), kind=kind)
    publish_to_users(
        [
            (
                notification.recipient_id,
                events.NotificationCreated(
                    notification=selectors.notification_data(notification),
                    unread_count=badges[notification.recipient_id],
                ),
                notification.pk,  # the socket's position: its heartbeat repairs from here
            )
            for notification in created
            if notification.recipient_id in badges
        ]
    )
    return created


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
    publish_to_user(user.pk, events.NotificationsRead(ids=ids, unread_count=unread_count, all=all_))


# --- preferences ----------------------------------------------------------------
@transaction.atomic
def preferences_update(*, user, muted_kinds) -> list[str]:
    if not isinstance(muted_kinds, list) or not all(isinstance(k, str) for k in muted_kinds):
        raise ApplicationError("invalid", "muted_kinds must be a list", fields={"muted_kinds": "a list of kinds"})
    unknown = sorted(set(muted_kinds) - set(Notification.Kind.values))
    if unknown:
        raise ApplicationError(
            "invalid",
            "unknown kinds",
            fields={
                "muted_kinds": f"unknown: {', '.join(unknown)[:200]}; known: {', '.join(Notification.Kind.values)}"
            },
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
                Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff).values_list("pk", flat=True)[
                    :batch
                ]
            )
            if not ids:
                return total
            total += Notification.objects.filter(pk__in=ids).delete()[0]
