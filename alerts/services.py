"""Writes to the notification inbox: create, read state, preferences,
retention. What fills it lives beside it: alerts/triggers.py (orders) and
alerts/announcements.py (tenant admins).

The recipient's tenant schema must be active. Every notification is stored
first and pushed after commit, so a user who is offline, or whose push is
lost, finds it on the next connect.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts import kinds, offsite, push, selectors
from alerts.models import Notification, NotificationKindPolicy, NotificationPreference, PushDevice
from platform_core import jobs
from platform_core.errors import ApplicationError
from platform_core.i18n import language_of
from tenants.models import Tenant
from ws import events
from ws.layer import publish_to_user, publish_to_users

MAX_IDS = 1000


def notification_create(
    *,
    recipient,
    kind: str,
    params: dict | None = None,
    title: str = "",
    body: str = "",
    url: str = "",
    order_id: int | None = None,
) -> Notification:
    """Persist a notification; push it unless the recipient muted its kind.
    (Atomic through `notifications_create_many`: one more `atomic` here
    would only add a savepoint.)"""
    return notifications_create_many(
        recipients=[recipient], kind=kind, params=params, title=title, body=body, url=url, order_id=order_id
    )[0]


def render_extra(language: str, notifications: list[Notification]) -> dict | None:
    """What travels beside a frame rendered in `language` so that a socket
    reading another language renders it again (alerts/consumers.py): the
    params of each notification that has a template. None when none has."""
    params = {str(n.pk): n.params for n in notifications if n.params is not None and n.kind in kinds.TEXTS}
    return {"lang": language, "render": params} if params else None


@transaction.atomic
def notifications_create_many(
    *,
    recipients,
    kind: str,
    params: dict | None = None,
    title: str = "",
    body: str = "",
    url: str = "",
    order_id: int | None = None,
) -> list[Notification]:
    """One notification for each of `recipients` (users; each once, however
    often listed), in one multi-row INSERT; returned in recipient id order.

    Stored with `kind` and `params` (JSON primitives), from which
    alerts/kinds.py renders the text in each reader's language; `title`
    and `body` are the text of free-text kinds (and a kind's free-text
    body, a comment's words). The stored title and body are the text in
    the tenant's language.

    Pushed after commit, all in one batch, to every recipient who did not
    mute `kind`, each rendered once per language among them (in the
    recipient's own, `language_for`), with their counts. The counts come
    from the counters (alerts.models.UnreadCounter), which the INSERT's
    trigger has already moved, in one query for all recipients: no count
    per notification. The counters of these recipients stay locked by
    this transaction until it commits, so each count pushed is exact.
    """
    if kind not in Notification.Kind.values:
        raise ApplicationError(
            "invalid", _("unknown kind"), fields={"kind": f"one of: {', '.join(Notification.Kind.values)}"}
        )
    people = {recipient.pk: recipient for recipient in recipients}
    if not people:
        return []
    texts: dict[str, tuple[str, str]] = {}

    def text_in(language: str) -> tuple[str, str]:
        if language not in texts:
            with translation.override(language):
                texts[language] = kinds.render(kind, params, title, body)
        return texts[language]

    stored_title, stored_body = text_in(language_of(None))  # the tenant's default
    now = timezone.now()
    created = Notification.objects.bulk_create(
        Notification(
            recipient=people[user_id],
            kind=kind,
            params=params,
            title=stored_title[:200],
            body=stored_body,
            url=url,
            order_id=order_id,
            created_at=now,
        )
        for user_id in sorted(people)
    )
    badges = selectors.push_badges(user_ids=sorted(people), kind=kind)
    messages = []
    for notification in created:
        badge = badges.get(notification.recipient_id)
        if badge is None:
            continue  # muted in the app: stored, listed, not pushed
        language = language_of(people[notification.recipient_id])
        frame = events.NotificationCreated(
            notification=selectors.notification_data(notification, text=text_in(language)),
            unread_count=badge.unread,
            unseen_count=badge.unseen,
        )
        # seq: the socket's position (its heartbeat repairs from here)
        messages.append((notification.recipient_id, frame, notification.pk, render_extra(language, [notification])))
    publish_to_users(messages)
    offsite.queue([(n.pk, n.recipient_id) for n in created], kind=kind)
    return created


# --- seen, read, archived ---------------------------------------------------------
@dataclass(frozen=True)
class StateResult:
    ids: list[int]  # the user's notifications among those asked for (now in the new state)
    unknown_ids: list[int]  # not theirs, or not existing: nothing changed for them
    unread_count: int
    unseen_count: int


# Kept for callers of the read API (alerts/api.py, the socket).
ReadResult = StateResult


def check_ids(ids) -> list[int]:
    if not isinstance(ids, list) or not ids:
        raise ApplicationError(
            "invalid", _("`ids` must be a non-empty list"), fields={"ids": "a non-empty list of ids"}
        )
    if len(ids) > MAX_IDS:
        raise ApplicationError("invalid", _("too many ids"), fields={"ids": f"at most {MAX_IDS} per request"})
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise ApplicationError("invalid", _("ids must be positive integers"), fields={"ids": "positive integers only"})
    return sorted(set(ids))


def _mine(user, ids: list[int]) -> list[int]:
    return sorted(Notification.objects.filter(recipient=user, pk__in=ids).values_list("pk", flat=True))


def _result(user, ids: list[int], asked: list[int] | None = None) -> StateResult:
    badge = selectors.counts(user=user)
    unknown = sorted(set(asked) - set(ids)) if asked is not None else []
    return StateResult(ids=ids, unknown_ids=unknown, unread_count=badge.unread, unseen_count=badge.unseen)


def _seen(now):
    # Reading or archiving something is seeing it; an earlier seen_at stays.
    return Coalesce(F("seen_at"), Value(now))


@transaction.atomic
def notifications_mark_read(*, user, ids) -> StateResult:
    ids = check_ids(ids)
    mine = _mine(user, ids)
    now = timezone.now()
    changed = Notification.objects.filter(pk__in=mine, read_at__isnull=True).update(read_at=now, seen_at=_seen(now))
    result = _result(user, mine, ids)
    if changed:
        _publish_read(user, result, all_=False)
    return result


@transaction.atomic
def notifications_mark_all_read(*, user) -> StateResult:
    now = timezone.now()
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    ids = sorted(unread.values_list("pk", flat=True)[:MAX_IDS])
    changed = unread.update(read_at=now, seen_at=_seen(now))
    result = _result(user, ids)
    if changed:
        _publish_read(user, result, all_=True)
    return result


def _publish_read(user, result: StateResult, *, all_: bool) -> None:
    publish_to_user(
        user.pk,
        events.NotificationsRead(
            ids=result.ids, unread_count=result.unread_count, all=all_, unseen_count=result.unseen_count
        ),
    )


@transaction.atomic
def notifications_mark_seen(*, user, ids) -> StateResult:
    """The bell was opened on these: they leave the badge (they stay unread)."""
    ids = check_ids(ids)
    mine = _mine(user, ids)
    changed = Notification.objects.filter(pk__in=mine, seen_at__isnull=True).update(seen_at=timezone.now())
    result = _result(user, mine, ids)
    if changed:
        _publish_seen(user, result, all_=False)
    return result


@transaction.atomic
def notifications_mark_all_seen(*, user) -> StateResult:
    unseen = Notification.objects.filter(recipient=user, seen_at__isnull=True)
    ids = sorted(unseen.values_list("pk", flat=True)[:MAX_IDS])
    changed = unseen.update(seen_at=timezone.now())
    result = _result(user, ids)
    if changed:
        _publish_seen(user, result, all_=True)
    return result


def _publish_seen(user, result: StateResult, *, all_: bool) -> None:
    publish_to_user(user.pk, events.NotificationsSeen(ids=result.ids, unseen_count=result.unseen_count, all=all_))


@transaction.atomic
def notifications_archive(*, user, ids) -> StateResult:
    """Put these away: out of the inbox and its counts, into the archived
    box. Archiving reads (and sees) what was unread (docs/notifications.md)."""
    ids = check_ids(ids)
    mine = _mine(user, ids)
    now = timezone.now()
    changed = Notification.objects.filter(pk__in=mine, archived_at__isnull=True).update(
        archived_at=now, read_at=Coalesce(F("read_at"), Value(now)), seen_at=_seen(now)
    )
    result = _result(user, mine, ids)
    if changed:
        _publish_archived(user, result, all_=False)
    return result


@transaction.atomic
def notifications_archive_read(*, user) -> StateResult:
    """Archive every read notification still in the inbox."""
    read = Notification.objects.filter(recipient=user, archived_at__isnull=True, read_at__isnull=False)
    ids = sorted(read.values_list("pk", flat=True)[:MAX_IDS])
    changed = read.update(archived_at=timezone.now())
    result = _result(user, ids)
    if changed:
        _publish_archived(user, result, all_=True)
    return result


def _publish_archived(user, result: StateResult, *, all_: bool) -> None:
    publish_to_user(
        user.pk,
        events.NotificationsArchived(
            ids=result.ids, unread_count=result.unread_count, unseen_count=result.unseen_count, all=all_
        ),
    )


@transaction.atomic
def notifications_unarchive(*, user, ids) -> StateResult:
    """Back into the inbox, as they were when archived (read)."""
    ids = check_ids(ids)
    rows = list(Notification.objects.filter(recipient=user, pk__in=ids, archived_at__isnull=False).order_by("-id"))
    Notification.objects.filter(pk__in=[n.pk for n in rows]).update(archived_at=None)
    mine = _mine(user, ids)
    result = _result(user, mine, ids)
    if rows:
        language = language_of(user)
        with translation.override(language):
            for notification in rows:
                notification.archived_at = None
            shown = [selectors.notification_data(n) for n in rows]
        publish_to_user(
            user.pk,
            events.NotificationsUnarchived(
                ids=[n.pk for n in rows],
                unread_count=result.unread_count,
                unseen_count=result.unseen_count,
                notifications=shown,
            ),
            extra=render_extra(language, rows),
        )
    return result


# --- preferences ----------------------------------------------------------------
def _kinds_object(value, field: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise ApplicationError("invalid", f"`{field}` must be an object of kinds", fields={field: "an object of kinds"})
    unknown = sorted(set(value) - set(Notification.Kind.values))
    if unknown:
        raise ApplicationError(
            "invalid",
            _("unknown kinds"),
            fields={field: f"unknown: {', '.join(unknown)[:200]}; known: {', '.join(Notification.Kind.values)}"},
        )
    return value


@transaction.atomic
def preferences_update(*, user, kinds_channels=None, muted_kinds=None) -> dict:
    """Change some channels of some kinds (`kinds_channels`, partial:
    {"order_status": {"in_app": false}}), or, as before per-channel
    preferences, replace the kinds muted in the app (`muted_kinds`).
    Turning off a kind the tenant made critical is refused (`critical_kind`).
    Returns the preferences as `selectors.preferences` reads them."""
    preference, _created = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    chosen = {kind: dict(channels) for kind, channels in (preference.channels or {}).items()}
    if muted_kinds is not None:
        if not isinstance(muted_kinds, list) or not all(isinstance(k, str) for k in muted_kinds):
            raise ApplicationError(
                "invalid", _("muted_kinds must be a list"), fields={"muted_kinds": "a list of kinds"}
            )
        unknown = sorted(set(muted_kinds) - set(Notification.Kind.values))
        if unknown:
            known = ", ".join(Notification.Kind.values)
            raise ApplicationError(
                "invalid",
                _("unknown kinds"),
                fields={"muted_kinds": f"unknown: {', '.join(unknown)[:200]}; known: {known}"},
            )
        kinds_channels = {kind: {"in_app": kind not in muted_kinds} for kind in Notification.Kind.values}
        critical = selectors.critical_kinds() & set(muted_kinds)
    else:
        _kinds_object(kinds_channels, "kinds")
        errors = {}
        for kind, channels in kinds_channels.items():
            if not isinstance(channels, dict) or not channels:
                errors[kind] = f"an object of channels: {', '.join(kinds.CHANNELS)}"
            elif set(channels) - set(kinds.CHANNELS) or not all(isinstance(v, bool) for v in channels.values()):
                errors[kind] = f"channels {', '.join(kinds.CHANNELS)}, each true or false"
        if errors:
            raise ApplicationError(
                "invalid", _("invalid channels"), fields={f"kinds.{k}": v for k, v in errors.items()}
            )
        critical = {k for k, c in kinds_channels.items() if False in c.values()} & selectors.critical_kinds()
    if critical:
        raise ApplicationError(
            "critical_kind",
            _("the tenant made these kinds critical: they cannot be muted"),
            fields={f"kinds.{kind}": "critical: cannot be turned off" for kind in sorted(critical)},
        )
    for kind, channels in kinds_channels.items():
        merged = {**chosen.get(kind, {}), **channels}
        # Only choices that differ from the defaults are stored.
        chosen[kind] = {c: v for c, v in merged.items() if v != kinds.default_channels(kind)[c]}
    preference.channels = {kind: channels for kind, channels in sorted(chosen.items()) if channels}
    preference.save(update_fields=["channels"])
    _push_counts([user.pk])
    return selectors.preferences(user=user)


def email_unsubscribe(*, user, kinds: list[str]) -> tuple[list[str], list[str]]:
    """Turn off e-mail of `kinds` for `user` (an unsubscribe link of a
    digest: alerts/digest.py), but for the kinds the tenant made critical,
    which stay on. Returns (the kinds now off, the critical ones)."""
    for _attempt in range(2):
        critical = selectors.critical_kinds()
        off = [kind for kind in kinds if kind not in critical]
        try:
            if off:
                preferences_update(user=user, kinds_channels={kind: {"email": False} for kind in off})
        except ApplicationError as error:
            if error.code != "critical_kind":
                raise
            continue  # an admin made one of them critical meanwhile: read them again
        return off, [kind for kind in kinds if kind in critical]
    raise ApplicationError("conflict", _("the kinds changed meanwhile; try again"))


def _push_counts(user_ids: list[int]) -> None:
    """Every open tab of these users hears their counts, which a change of
    what is muted or critical moved with no notification changing (an
    outside test saw two tabs keep a stale badge)."""
    publish_to_users(
        [
            (user_id, events.NotificationsCounts(unread_count=badge.unread, unseen_count=badge.unseen), None)
            for user_id, badge in sorted(selectors.badges(user_ids=user_ids).items())
        ]
    )


@transaction.atomic
def kind_policies_update(*, actor, policies) -> dict:
    """A tenant admin marks kinds critical or not ({"order_status":
    {"critical": true}}, partial). Users' stored choices are kept: a kind
    that stops being critical is muted again for those who had muted it."""
    if not getattr(actor, "is_tenant_admin", False):
        raise ApplicationError("forbidden", _("only tenant admins may change notification kinds"))
    _kinds_object(policies, "kinds")
    errors = {
        f"kinds.{kind}": 'an object {"critical": true|false}'
        for kind, policy in policies.items()
        if not isinstance(policy, dict) or set(policy) != {"critical"} or not isinstance(policy["critical"], bool)
    }
    if errors:
        raise ApplicationError("invalid", _("invalid kinds"), fields=errors)
    before = selectors.critical_kinds()
    for kind, policy in sorted(policies.items()):
        NotificationKindPolicy.objects.update_or_create(kind=kind, defaults={"critical": policy["critical"]})
    changed = before ^ selectors.critical_kinds()
    if changed:
        # Only those who muted a changed kind in the app count differently now.
        muted = Q()
        for kind in sorted(changed):
            muted |= Q(**{f"channels__{kind}__in_app": False})
        _push_counts(list(NotificationPreference.objects.filter(muted).values_list("user_id", flat=True)))
    return selectors.kind_policies()


# --- off-site timing --------------------------------------------------------------
# Each setting's bounds: a push is never held longer than an hour, a digest
# never waits more than a day nor less than a minute (the sweep's grain).
DELIVERY_SETTINGS = {"push_after_seconds": (0, 3600), "email_digest_minutes": (1, 1440)}


def _delivery_setting_hint(name: str) -> str:
    low, high = DELIVERY_SETTINGS[name]
    if name == "push_after_seconds":
        return _("a whole number of seconds from %(low)s to %(high)s") % {"low": low, "high": high}
    return _("a whole number of minutes from %(low)s to %(high)s") % {"low": low, "high": high}


@transaction.atomic
def delivery_settings_update(*, actor, tenant: Tenant, changes: dict) -> dict:
    """A tenant admin changes some of the tenant's off-site timing
    (`{"push_after_seconds": 60}`, partial). Values are JSON integers
    only: no booleans, strings or floats (`1e3` is a float). Notifications
    made after the commit use them; pushes already queued keep their time.

    `tenant` is the active one (its row is in the public schema, which the
    tenant's search path reaches); it is changed in place too, so the rest
    of this request reads the new values."""
    if not getattr(actor, "is_tenant_admin", False):
        raise ApplicationError("forbidden", _("only tenant admins may change the delivery timing"))
    if not isinstance(changes, dict) or not changes:
        raise ApplicationError(
            "invalid",
            _("send push_after_seconds, email_digest_minutes or both"),
            fields=dict.fromkeys(DELIVERY_SETTINGS, _("one of these is required")),
        )
    errors = {}
    for name, value in changes.items():
        if name not in DELIVERY_SETTINGS:
            errors[name] = _("unexpected field")
            continue
        low, high = DELIVERY_SETTINGS[name]
        # type(), not isinstance(): True is an int to Python, not to a client.
        if type(value) is not int or not low <= value <= high:
            errors[name] = _delivery_setting_hint(name)
    if errors:
        raise ApplicationError("invalid", _("invalid delivery timing"), fields=errors)
    # The row lock orders two admins saving at once; each writes only what it sent.
    row = Tenant.objects.select_for_update().get(pk=tenant.pk)
    for name, value in changes.items():
        setattr(row, name, value)
        setattr(tenant, name, value)
    row.save(update_fields=sorted(changes))  # post_save: every socket's tenant cache forgets it
    return selectors.delivery_settings(tenant=row)


# --- Web Push devices (alerts/push.py) ------------------------------------------------
def push_device_register(
    *, user, subscription: dict, user_agent: str = "", session_key: str = "", token_id: int | None = None
) -> tuple[PushDevice, bool]:
    """Store a browser's push subscription (`PushSubscription.toJSON()`) as
    one of `user`'s devices; True if it is new to them. An endpoint is one
    browser profile: one already stored for another user of the tenant (who
    signed out, or shares the device) becomes this user's when it comes
    with the same keys (the same browser's subscription); other keys for
    it are a conflict. Past
    WEB_PUSH_DEVICES_PER_USER, the user's oldest devices are deleted.
    `session_key` or `token_id` is the sign-in registering it: the device
    is used only while that still holds (alerts/push.py)."""
    push.check_configured()
    checked = push.check_subscription(subscription)
    try:
        with transaction.atomic():
            return _push_device_store(user, checked, user_agent[:300], session_key, token_id)
    except IntegrityError:
        # Another request stored this endpoint between our read and our
        # insert: once more, and it is an update now.
        with transaction.atomic():
            return _push_device_store(user, checked, user_agent[:300], session_key, token_id)


def _push_device_store(user, checked, user_agent: str, session_key: str, token_id) -> tuple[PushDevice, bool]:
    device = PushDevice.objects.select_for_update().filter(endpoint=checked.endpoint).first()
    new = device is None or device.user_id != user.pk
    if device is not None and new and device.p256dh != checked.p256dh:
        # The same browser profile signing in as someone else posts the
        # same keys; someone who only learnt the endpoint cannot take it.
        raise ApplicationError(
            "conflict", _("this push subscription belongs to another account"), fields={"endpoint": "in use"}
        )
    if device is None:
        device = PushDevice(endpoint=checked.endpoint)
    if new:
        device.created_at = timezone.now()
    device.user = user
    device.p256dh, device.auth, device.user_agent = checked.p256dh, checked.auth, user_agent
    device.session_key, device.token_id = session_key or "", token_id
    device.save()
    keep = settings.WEB_PUSH_DEVICES_PER_USER
    PushDevice.objects.filter(user=user).exclude(pk__in=selectors.push_devices(user=user).values("pk")[:keep]).delete()
    return device, new


@transaction.atomic
def push_device_remove(*, user, endpoint) -> int:
    """Forget `user`'s device at `endpoint` (the browser turned push off);
    how many were deleted (0 or 1; another user's endpoint is not theirs)."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > push.MAX_ENDPOINT:
        raise ApplicationError(
            "invalid",
            _("not a push subscription"),
            fields={"endpoint": f"the subscription's endpoint, at most {push.MAX_ENDPOINT} characters"},
        )
    deleted, _by_model = PushDevice.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted


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
            _, deleted = Notification.objects.filter(pk__in=ids).delete()  # their deliveries with them
            total += deleted.get(Notification._meta.label, 0)


@jobs.periodic("alerts.retention", every=timedelta(hours=1))
def notifications_retention() -> None:
    """Every tenant's read notifications older than NOTIFICATION_RETENTION_DAYS."""
    days = settings.NOTIFICATION_RETENTION_DAYS
    jobs.for_each_tenant(lambda: notifications_prune(older_than=timedelta(days=days)))
