"""Who may watch and act on which store. The tenant's schema must be active."""

import enum
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from stores.models import PresenceSession, StaffMembership, Store
from ws import events


class Access(enum.Enum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # the store exists; this user is not its staff
    NOT_FOUND = "not_found"


def store_access(*, user, store_id: int) -> Access:
    """May `user` watch store `store_id`'s dashboard and act on its orders?

    Only the store's staff (any role) may. Tenant admins manage stores but
    are not on a store's dashboard unless they are also its staff.
    """
    if not Store.objects.filter(pk=store_id).exists():
        return Access.NOT_FOUND
    if user.is_authenticated and StaffMembership.objects.filter(user=user, store_id=store_id).exists():
        return Access.ALLOWED
    return Access.FORBIDDEN


def store_access_and_seq(*, user, store_id: int) -> tuple[Access, int | None]:
    """`store_access`, and the store's latest stream seq (None if there is
    no such store), in one plain statement: a dashboard's connect and
    access checks. (The two ORM queries of `store_access` and the seq's
    cost 1 ms of CPU per connect; this, under 0.1 ms.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.last_seq, EXISTS (SELECT 1 FROM {StaffMembership._meta.db_table} m "
            "WHERE m.store_id = s.id AND m.user_id = %s) "
            f"FROM {Store._meta.db_table} s WHERE s.id = %s",
            [user.pk if user.is_authenticated else None, store_id],
        )
        row = cursor.fetchone()
    if row is None:
        return Access.NOT_FOUND, None
    return (Access.ALLOWED if row[1] else Access.FORBIDDEN), row[0]


def store_access_many(*, pairs) -> dict[tuple[int, int], Access]:
    """`store_access` for many (user id, store id) pairs of active users, in
    two queries (a worker's dashboards' heartbeat)."""
    store_ids = {store_id for _, store_id in pairs}
    user_ids = {user_id for user_id, _ in pairs}
    existing = set(Store.objects.filter(pk__in=store_ids).values_list("pk", flat=True))
    staff = set(
        StaffMembership.objects.filter(store_id__in=store_ids, user_id__in=user_ids).values_list("user_id", "store_id")
    )
    return {
        pair: Access.NOT_FOUND if pair[1] not in existing else Access.ALLOWED if pair in staff else Access.FORBIDDEN
        for pair in pairs
    }


def staff_store_ids(*, user) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(StaffMembership.objects.filter(user=user).values_list("store_id", flat=True))


def stores_for_staff(*, user):
    return (
        Store.objects.filter(memberships__user=user).order_by("id") if user.is_authenticated else Store.objects.none()
    )


def stores_overview() -> QuerySet[Store]:
    """Every store of the tenant, by id, with `staff_count` (tenant admins' list)."""
    return Store.objects.annotate(staff_count=Count("memberships")).order_by("id")


def store_staff(*, store_id: int) -> QuerySet[StaffMembership]:
    """A store's memberships with their people: managers first, then by username."""
    return (
        StaffMembership.objects.filter(store_id=store_id)
        .select_related("user")
        .order_by("role", "user__username", "pk")  # "manager" sorts before "staff"
    )


def board_watched(*, store_id: int, at=None) -> bool:
    """Has anyone the store's board open: a fresh presence row, from any worker?"""
    fresh = (at or timezone.now()) - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)
    return PresenceSession.objects.filter(store_id=store_id, seen_at__gte=fresh).exists()


def present_users(*, store_id: int, at=None) -> list[events.PresentUser]:
    """Users with a fresh presence row on the store, by username."""
    return present_users_by_store(store_ids=[store_id], at=at).get(store_id, [])


def present_users_by_store(*, store_ids, at=None) -> dict[int, list[events.PresentUser]]:
    """Users with a fresh presence row (on any worker), by username, for
    each of these stores that has any: one query for them all."""
    fresh = (at or timezone.now()) - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)
    rows = (
        PresenceSession.objects.filter(store_id__in=store_ids, seen_at__gte=fresh)
        .values_list("store_id", "user_id", "user__username")
        .distinct()
        .order_by("store_id", "user__username", "user_id")
    )
    lists: dict[int, list[events.PresentUser]] = {}
    for store_id, user_id, username in rows:
        lists.setdefault(store_id, []).append(events.PresentUser(id=user_id, username=username))
    return lists
