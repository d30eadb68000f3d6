"""Writes for stores: presence on a store's dashboard.

The tenant's schema must be active. Presence is kept per worker process in
memory (stores/presence.py); these functions apply one worker's changes to
the rows every worker shares, one statement per kind of change for a whole
batch, and broadcast a `presence` frame after commit only for a store whose
list of users changed from the one the worker last saw: a user opening a
second tab, or the thousandth socket of a busy store, costs no broadcast
(otherwise N sockets opening would cost N² frames).
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from stores.models import PresenceSession, Store
from stores.selectors import present_users_by_store
from ws import events
from ws.events import to_json
from ws.layer import publish_to_store

Pair = tuple[int, int]  # (store id, user id)


@transaction.atomic
def presence_write(
    *, worker: str, entered: list[Pair], left: list[Pair], stores: Iterable[int], known: dict[int, str | None]
) -> dict[int, str]:
    """Apply one batch of a worker's changes: users that appeared on a store
    through this worker (`entered`) and users whose last socket on it here
    closed (`left`). Returns the presence frame (text) of each of `stores`;
    those that differ from `known` (what the worker last saw) are broadcast
    after commit.
    """
    now = timezone.now()
    if entered:
        _upsert(worker, entered, at=now)
    if left:
        match = Q()
        for store_id, user_id in left:
            match |= Q(store_id=store_id, user_id=user_id)
        PresenceSession.objects.filter(match, worker=worker).delete()
    return _broadcast_changes(stores, known, at=now)


@transaction.atomic
def presence_refresh(*, worker: str, present: list[Pair], known: dict[int, str | None]) -> dict[int, str]:
    """A worker's heartbeat: every row of its present users is made fresh in
    one statement (and made again if someone removed it while the worker was
    stalled past the TTL); rows nobody refreshes any more — a dead worker's —
    are removed, and the lists of the worker's stores that changed are
    broadcast. Returns the frame (text) of each store of `present`.
    """
    now = timezone.now()
    if present:
        _upsert(worker, present, at=now)
    PresenceSession.objects.filter(seen_at__lt=now - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)).delete()
    return _broadcast_changes({store_id for store_id, _ in present}, known, at=now)


def _upsert(worker: str, pairs: list[Pair], *, at) -> None:
    """One INSERT … ON CONFLICT DO UPDATE for all pairs."""

    def rows(pairs):
        return [PresenceSession(worker=worker, store_id=s, user_id=u, seen_at=at) for s, u in pairs]

    options = {"update_conflicts": True, "unique_fields": ["worker", "store", "user"], "update_fields": ["seen_at"]}
    with connection.cursor() as cursor:
        # Django's foreign keys are checked at commit; check them here, where
        # a failure can still be handled.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    try:
        with transaction.atomic():  # a savepoint: a failed statement must not poison the batch
            PresenceSession.objects.bulk_create(rows(pairs), **options)
    except IntegrityError:
        # A store or user deleted since its socket opened (its socket is being
        # closed): keep the others.
        stores = set(Store.objects.filter(pk__in={s for s, _ in pairs}).values_list("pk", flat=True))
        users = set(get_user_model().objects.filter(pk__in={u for _, u in pairs}).values_list("pk", flat=True))
        alive = [(s, u) for s, u in pairs if s in stores and u in users]
        if alive:
            PresenceSession.objects.bulk_create(rows(alive), **options)


def _broadcast_changes(stores: Iterable[int], known: dict[int, str | None], *, at) -> dict[int, str]:
    stores = set(stores)
    if not stores:
        return {}
    lists = present_users_by_store(store_ids=stores, at=at)
    texts = {}
    for store_id in sorted(stores):
        frame = events.Presence(store_id=store_id, users=lists.get(store_id, []))
        text = to_json(frame)
        if text != known.get(store_id):
            publish_to_store(store_id, frame)
        texts[store_id] = text
    return texts
