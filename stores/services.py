"""Writes for stores: presence on a store's dashboard.

The tenant's schema must be active. A `presence` frame is broadcast to the
store's group after commit only when the set of present *users* changes:
a user opening a second tab, or the thousandth socket of a busy store,
costs no broadcast (otherwise N sockets opening would cost N² frames).
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from stores.models import PresenceSession
from stores.selectors import present_users
from ws import events, groups
from ws.layer import publish_on_commit


@transaction.atomic
def presence_enter(*, store_id: int, user, channel_name: str) -> events.Presence | None:
    """Record this socket. Returns the presence frame for the socket to send
    itself when nothing was broadcast (the user was already present);
    None when the broadcast, which the socket hears too, carries it."""
    before = present_users(store_id=store_id)
    PresenceSession.objects.update_or_create(
        channel_name=channel_name, defaults={"store_id": store_id, "user": user, "seen_at": timezone.now()}
    )
    frame, published = _publish_if_changed(store_id, before)
    return None if published else frame


@transaction.atomic
def presence_leave(*, store_id: int, channel_name: str) -> None:
    before = present_users(store_id=store_id)
    if PresenceSession.objects.filter(channel_name=channel_name).delete()[0]:
        _publish_if_changed(store_id, before)


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
    _publish_if_changed(store_id, before)


def _publish_if_changed(store_id: int, before: list[events.PresentUser]) -> tuple[events.Presence, bool]:
    frame = events.Presence(store_id=store_id, users=present_users(store_id=store_id))
    changed = frame.users != before
    if changed:
        publish_on_commit(groups.store_orders(connection.tenant, store_id), frame)
    return frame, changed
