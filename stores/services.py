"""Writes for stores: the stores and their staff, as tenant admins manage
them (/manage/), and presence on a store's dashboard.

The tenant's schema must be active. Presence is kept per worker process in
memory (stores/presence.py); these functions apply one worker's changes to
the rows every worker shares, one statement per kind of change for a whole
batch, and broadcast a `presence` frame after commit only for a store whose
list of users changed: a user opening a second tab, or on a second worker,
or the thousandth socket of a busy store, costs no broadcast (otherwise N
sockets opening would cost N² frames).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from platform_core.errors import ApplicationError
from platform_core.i18n import language_of
from platform_core.invitations import Invitee, invitation_send_on_commit, person_for_email
from stores.models import PresenceSession, StaffMembership, Store
from stores.selectors import present_users_by_store
from ws import events
from ws.events import to_json
from ws.layer import publish_to_store

Pair = tuple[int, int]  # (store id, user id)

# What a tenant admin sets on a store. Never `last_seq`: the stream's
# writers move it (UPDATE … RETURNING), and saving a whole row read a
# moment ago would put an old value back.
SETTINGS_FIELDS = (
    "name",
    "sound_enabled",
    "sound_repeat_seconds",
    "sla_warn_minutes",
    "sla_late_minutes",
    "unattended_alert_seconds",
)
SLA_ORDER = "must be more than the amber minutes"


# --- stores and staff, managed by tenant admins -------------------------------------
def _checked(store: Store) -> None:
    """The model's own rules (lengths, ranges, red after amber), as an
    ApplicationError naming each field."""
    try:
        store.full_clean(exclude=["last_seq"])
    except ValidationError as error:
        fields = {name: " ".join(messages) for name, messages in error.message_dict.items()}
        if NON_FIELD_ERRORS in fields:  # the only table-wide rule: store_sla_late_after_warn
            fields.pop(NON_FIELD_ERRORS)
            fields.setdefault("sla_late_minutes", SLA_ORDER)
        raise ApplicationError("invalid", _("invalid store"), fields=fields) from None


@transaction.atomic
def store_create(*, name: str) -> Store:
    """A new store with the default board settings."""
    store = Store(name=name.strip() if isinstance(name, str) else name)
    _checked(store)
    store.save()
    return store


@transaction.atomic
def store_update(*, store_id: int, **changes) -> Store:
    """Rename a store or change its board settings (SETTINGS_FIELDS only).
    The boards read them when they load."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ApplicationError(
            "invalid", _("unknown settings"), fields={name: _("unknown setting") for name in unknown}
        )
    store = Store.objects.select_for_update().filter(pk=store_id).first()
    if store is None:
        raise ApplicationError("not_found", _("no such store"))
    for name, value in changes.items():
        setattr(store, name, value.strip() if name == "name" and isinstance(value, str) else value)
    _checked(store)
    store.save(update_fields=list(changes))
    return store


@dataclass(frozen=True)
class MembershipAdded:
    membership: StaffMembership
    invitee: Invitee
    emailed: bool  # the sign-in link went by mail (after commit)
    sign_in_link: str | None  # for the admin to pass on when no mail was sent


def _check_role(role) -> None:
    if role not in StaffMembership.Role.values:
        raise ApplicationError(
            "invalid",
            _("invalid role"),
            fields={"role": _("one of: %(roles)s") % {"roles": ", ".join(StaffMembership.Role.values)}},
        )


@transaction.atomic
def membership_add(*, store_id: int, email: str, role: str, site: str, tenant_name: str) -> MembershipAdded:
    """Make the person with this email staff of the store: their account
    of this tenant, or a new one (platform_core.invitations). Someone who
    has no password yet gets a one-time sign-in link; `site` is where the
    link points (scheme://host[:port] of the tenant)."""
    _check_role(role)
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise ApplicationError("not_found", _("no such store"))
    invitee = person_for_email(email=email)
    membership, created = StaffMembership.objects.get_or_create(user=invitee.user, store=store, defaults={"role": role})
    if not created:
        raise ApplicationError("conflict", _("already staff"), fields={"email": _("already staff of this store")})
    link = f"{site}{invitee.sign_in_path}" if invitee.sign_in_path else None
    emailed = bool(link) and invitation_send_on_commit(
        email=invitee.user.email,
        link=link,
        tenant_name=tenant_name,
        where=store.name,
        # The invitee's language (theirs if they have one, else the tenant's), not the admin's.
        language=language_of(invitee.user),
    )
    return MembershipAdded(
        membership=membership, invitee=invitee, emailed=emailed, sign_in_link=link if link and not emailed else None
    )


@transaction.atomic
def membership_change_role(*, store_id: int, membership_id: int, role: str) -> StaffMembership:
    _check_role(role)
    membership = StaffMembership.objects.select_for_update().filter(pk=membership_id, store_id=store_id).first()
    if membership is None:
        raise ApplicationError("not_found", _("no such staff member of this store"))
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, store_id: int, membership_id: int) -> StaffMembership:
    """Take someone off a store's staff. Their open boards of the store close
    (4403) on every worker once this commits (stores/signals.py)."""
    membership = StaffMembership.objects.select_related("user").filter(pk=membership_id, store_id=store_id).first()
    if membership is None:
        raise ApplicationError("not_found", _("no such staff member of this store"))
    membership.delete()
    return membership


Told = tuple[str, bool]  # (the store's presence frame, broadcast?)


@transaction.atomic
def presence_write(*, worker: str, entered: list[Pair], left: list[Pair], stores: Iterable[int]) -> dict[int, Told]:
    """Apply one batch of a worker's changes: users that appeared on a store
    through this worker (`entered`) and users whose last socket on it here
    closed (`left`). A store whose list of users this changed is broadcast
    after commit. Returns, for each of `stores`, its presence frame (text)
    and whether it was broadcast.
    """
    stores = sorted(set(stores))
    _lock(stores)
    now = timezone.now()
    before = present_users_by_store(store_ids=stores, at=now)
    if entered:
        _upsert(worker, entered, at=now)
    if left:
        match = Q()
        for store_id, user_id in left:
            match |= Q(store_id=store_id, user_id=user_id)
        PresenceSession.objects.filter(match, worker=worker).delete()
    after = present_users_by_store(store_ids=stores, at=now) if entered or left else before
    return {
        store_id: _tell(store_id, after, changed=after.get(store_id) != before.get(store_id)) for store_id in stores
    }


@transaction.atomic
def presence_refresh(*, worker: str, present: list[Pair], known: dict[int, str | None]) -> dict[int, Told]:
    """A worker's heartbeat: every row of its present users is made fresh in
    one statement (and made again if someone removed it while the worker was
    stalled past the TTL); rows nobody refreshes any more — a dead worker's —
    are removed. Nothing is written for that, time alone made them stale, so
    each of the worker's stores is compared with the list the worker last
    saw (`known`) and broadcast if it differs. Returns, for each store of
    `present`, its presence frame (text) and whether it was broadcast.
    """
    stores = sorted({store_id for store_id, _ in present})
    _lock(stores)
    now = timezone.now()
    if present:
        _upsert(worker, present, at=now)
    PresenceSession.objects.filter(seen_at__lt=now - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)).delete()
    lists = present_users_by_store(store_ids=stores, at=now)
    told = {}
    for store_id in stores:
        text = to_json(events.Presence(store_id=store_id, users=lists.get(store_id, [])))
        told[store_id] = _tell(store_id, lists, changed=text != known.get(store_id))
    return told


def _lock(stores: list[int]) -> None:
    """Writers of the same stores' presence take turns (until commit), so each
    reads the list as the one before it left it and the broadcasts follow
    the changes. Taken in store order: no deadlock between workers."""
    with connection.cursor() as cursor:
        for store_id in stores:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [f"presence.{connection.schema_name}", store_id]
            )


def _tell(store_id: int, lists: dict[int, list], *, changed: bool) -> Told:
    frame = events.Presence(store_id=store_id, users=lists.get(store_id, []))
    if changed:
        return publish_to_store(store_id, frame), True
    return to_json(frame), False


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
