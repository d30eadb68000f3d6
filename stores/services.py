"""Writes for stores: presence on a store's dashboard.

The tenant's schema must be active. A `presence` frame is broadcast to the
store's group after commit only when the set of present *users* changes:
a user opening a second tab, or the thousandth socket of a busy store,
costs no broadcast (otherwise N sockets opening would cost N² frames).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stores.models import PresenceSession
from stores.selectors import present_users
from ws import events
from ws.layer import publish_to_store


def _present(store_id: int, user_id: int, *, at) -> bool:
    fresh = at - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)
    return PresenceSession.objects.filter(store_id=store_id, user_id=user_id, seen_at__gte=fresh).exists()


@transaction.atomic
def presence_enter(*, store_id: int, user, channel_name: str) -> bool:
    """Record this socket. Returns True when the user was not present yet and
    the new list was broadcast (the socket hears it too); False when nothing
    changed and the socket must get the list itself.

    Only an indexed per-user check runs per connect: a storm of 5,000
    reconnects must not scan the store's presence rows 5,000 times.
    """
    now = timezone.now()
    was_present = _present(store_id, user.pk, at=now)
    PresenceSession.objects.update_or_create(
        channel_name=channel_name, defaults={"store_id": store_id, "user": user, "seen_at": now}
    )
    if was_present:
        return False
    _publish(store_id)
    return True


def presence_list(*, store_id: int) -> events.Presence:
    return events.Presence(store_id=store_id, users=present_users(store_id=store_id))


@transaction.atomic
def presence_leave(*, store_id: int, channel_name: str) -> None:
    row = PresenceSession.objects.filter(channel_name=channel_name).first()
    if row is None:
        return
    row.delete()
    if not _present(store_id, row.user_id, at=timezone.now()):
        _publish(store_id)


@transaction.atomic
def presence_refresh(*, store_id: int, user, channel_name: str) -> None:
    """Keep this socket's row fresh and drop rows nobody refreshes any more.

    Rows of a worker process that died stop being refreshed; the first live
    socket of the store to refresh after they expire removes them, and if a
    user disappeared with them, everyone is told. A row of ours that someone
    else removed (we were stalled past the TTL) is recreated.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)
    if not PresenceSession.objects.filter(store_id=store_id, seen_at__lt=stale).exists() and (
        PresenceSession.objects.filter(channel_name=channel_name).update(seen_at=now)
    ):
        return  # the common case: nothing expired, our row exists
    before = present_users(store_id=store_id, at=now, include_stale=True)
    PresenceSession.objects.update_or_create(
        channel_name=channel_name, defaults={"store_id": store_id, "user": user, "seen_at": now}
    )
    PresenceSession.objects.filter(store_id=store_id, seen_at__lt=stale).delete()
    if present_users(store_id=store_id) != before:
        _publish(store_id)


def _publish(store_id: int) -> None:
    publish_to_store(store_id, presence_list(store_id=store_id))
