"""Writes for stores: presence on a store's dashboard.

The tenant's schema must be active. Each change of who is present
publishes a `presence` frame to the store's group after commit.
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
def presence_enter(*, store_id: int, user, channel_name: str) -> None:
    PresenceSession.objects.update_or_create(
        channel_name=channel_name, defaults={"store_id": store_id, "user": user, "seen_at": timezone.now()}
    )
    _publish_presence(store_id)


@transaction.atomic
def presence_leave(*, store_id: int, channel_name: str) -> None:
    deleted, _ = PresenceSession.objects.filter(channel_name=channel_name).delete()
    if deleted:
        _publish_presence(store_id)


@transaction.atomic
def presence_refresh(*, store_id: int, user, channel_name: str) -> None:
    """Keep this socket's row fresh and drop rows nobody refreshes any more.

    Rows of a worker process that died stop being refreshed; the first
    live socket of the store to refresh after they expire removes them and
    tells everyone. A row of ours that someone else removed (we were
    stalled past the TTL) is recreated.
    """
    now = timezone.now()
    changed = False
    updated = PresenceSession.objects.filter(channel_name=channel_name).update(seen_at=now)
    if not updated:
        PresenceSession.objects.create(store_id=store_id, user=user, channel_name=channel_name, seen_at=now)
        changed = True
    stale = now - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)
    removed, _ = PresenceSession.objects.filter(store_id=store_id, seen_at__lt=stale).delete()
    if changed or removed:
        _publish_presence(store_id)


def _publish_presence(store_id: int) -> None:
    publish_on_commit(
        groups.store_orders(connection.tenant, store_id),
        events.Presence(store_id=store_id, users=present_users(store_id=store_id)),
    )
