"""Who may watch and act on which store. The tenant's schema must be active."""

import enum
from datetime import timedelta

from django.conf import settings
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


def staff_store_ids(*, user) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(StaffMembership.objects.filter(user=user).values_list("store_id", flat=True))


def stores_for_staff(*, user):
    return (
        Store.objects.filter(memberships__user=user).order_by("id") if user.is_authenticated else Store.objects.none()
    )


def present_users(*, store_id: int, at=None, include_stale: bool = False) -> list[events.PresentUser]:
    """Users with a fresh presence row on the store (or any row), by username."""
    rows = PresenceSession.objects.filter(store_id=store_id)
    if not include_stale:
        rows = rows.filter(seen_at__gte=(at or timezone.now()) - timedelta(seconds=settings.PRESENCE_TTL_SECONDS))
    rows = rows.values_list("user_id", "user__username").distinct().order_by("user__username")
    return [events.PresentUser(id=user_id, username=username) for user_id, username in rows]
