"""The inbox over HTTP (JSON): pages of its boxes, seen, read, archived,
preferences, the delivery log; the tenant admins' critical kinds, delivery
timing and totals; announcements."""

from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts import push, selectors, services
from alerts.announcements import announcement_create, audience_size
from platform_core.api import api_view, paginate, read_json
from platform_core.errors import ApplicationError

LEGACY_PARAMETERS = ("page", "page_size", "unread")


def _counts(user) -> dict:
    badge = selectors.counts(user=user)
    return {"unread_count": badge.unread, "unseen_count": badge.unseen}


@api_view("GET")
def notifications(request):
    """`?box=all|unread|archived&before=<id>&limit=<1..100>`: a page, newest
    first, with the cursor of the next one. The older `?page=`,
    `?page_size=` and `?unread=` (numbered pages of the inbox) still answer
    as they did, and cannot be mixed with the cursor."""
    legacy = [name for name in LEGACY_PARAMETERS if name in request.GET]
    if legacy:
        if any(name in request.GET for name in ("box", "before", "limit")):
            raise ApplicationError(
                "bad_request",
                _("use either the cursor (box, before, limit) or numbered pages (page, page_size, unread)"),
                fields=dict.fromkeys(legacy, "not with box, before or limit"),
            )
        return _numbered_page(request)
    box, before, limit = selectors.check_page(
        box=request.GET.get("box"), before=request.GET.get("before"), limit=request.GET.get("limit")
    )
    rows, next_before = selectors.inbox_page(user=request.user, name=box, before=before, limit=limit)
    return JsonResponse(
        {
            "box": box,
            "before": before,
            "results": [asdict(selectors.notification_data(n)) for n in rows],
            "next": next_before,
            **_counts(request.user),
        }
    )


def _numbered_page(request):
    flag = request.GET.get("unread", "false")
    if flag not in ("true", "false"):
        raise ApplicationError("bad_request", _("invalid filter"), fields={"unread": "true or false"})
    page = paginate(
        request,
        selectors.inbox(user=request.user, unread_only=flag == "true"),
        lambda n: asdict(selectors.notification_data(n)),
    )
    return JsonResponse({**page, **_counts(request.user)})


def ids_or_flag(body: dict, flag: str) -> bool:
    """True for `{flag: true}`, False for `{"ids": [...]}`; anything else refused."""
    if ("ids" in body) == (flag in body):
        raise ApplicationError(
            "invalid",
            _("send either ids or %(flag)s") % {"flag": flag},
            fields={"ids": _("either `ids`"), flag: _("or `true`")},
        )
    if flag in body and body[flag] is not True:
        raise ApplicationError(
            "invalid", _("`%(flag)s` must be true") % {"flag": flag}, fields={flag: _("must be true")}
        )
    return flag in body


def _state_json(result) -> JsonResponse:
    return JsonResponse(
        {
            "ids": result.ids,
            "unknown_ids": result.unknown_ids,
            "unread_count": result.unread_count,
            "unseen_count": result.unseen_count,
        }
    )


@api_view("POST")
def mark_read(request):
    body = read_json(request, optional={"ids", "all"})
    if ids_or_flag(body, "all"):
        return _state_json(services.notifications_mark_all_read(user=request.user))
    return _state_json(services.notifications_mark_read(user=request.user, ids=body["ids"]))


@api_view("POST")
def mark_seen(request):
    body = read_json(request, optional={"ids", "all"})
    if ids_or_flag(body, "all"):
        return _state_json(services.notifications_mark_all_seen(user=request.user))
    return _state_json(services.notifications_mark_seen(user=request.user, ids=body["ids"]))


@api_view("POST")
def archive(request):
    body = read_json(request, optional={"ids", "read"})
    if ids_or_flag(body, "read"):
        return _state_json(services.notifications_archive_read(user=request.user))
    return _state_json(services.notifications_archive(user=request.user, ids=body["ids"]))


@api_view("POST")
def unarchive(request):
    body = read_json(request, required={"ids"})
    return _state_json(services.notifications_unarchive(user=request.user, ids=body["ids"]))


@api_view("GET", "PUT")
def preferences(request):
    """`{"kinds": {kind: {label, critical, channels: {in_app, push, email}}}}`;
    PUT changes some channels of some kinds. `muted_kinds` (the kinds muted
    in the app) is still answered, and still accepted instead of `kinds`."""
    if request.method == "PUT":
        body = read_json(request, optional={"kinds", "muted_kinds"})
        if ("kinds" in body) == ("muted_kinds" in body):
            raise ApplicationError(
                "invalid", _("send kinds"), fields={"kinds": "required (or `muted_kinds`, the older form)"}
            )
        kinds = services.preferences_update(
            user=request.user, kinds_channels=body.get("kinds"), muted_kinds=body.get("muted_kinds")
        )
    else:
        kinds = selectors.preferences(user=request.user)
    muted = sorted(kind for kind, choice in kinds.items() if not choice["channels"]["in_app"])
    return JsonResponse({"kinds": kinds, "muted_kinds": muted})


@api_view("GET", "PUT")
def notification_kinds(request):
    """Tenant admins: which kinds are critical (nobody can mute them)."""
    if not request.user.is_tenant_admin:
        raise ApplicationError("forbidden", _("only tenant admins may manage notification kinds"))
    if request.method == "PUT":
        kinds = services.kind_policies_update(
            actor=request.user, policies=read_json(request, required={"kinds"})["kinds"]
        )
    else:
        kinds = selectors.kind_policies()
    return JsonResponse({"kinds": kinds})


@api_view("GET")
def deliveries(request):
    """`?before=<id>&limit=<1..100>`: the user's own deliveries (push,
    e-mail: queued, sent, skipped and why, failed), newest first, with the
    cursor of the next page."""
    _box, before, limit = selectors.check_page(
        box=None, before=request.GET.get("before"), limit=request.GET.get("limit")
    )
    rows, next_before = selectors.deliveries_page(user=request.user, before=before, limit=limit)
    return JsonResponse({"before": before, "results": [selectors.delivery_data(d) for d in rows], "next": next_before})


def _tenant_admin(request, refusal: str) -> None:
    if not request.user.is_tenant_admin:
        raise ApplicationError("forbidden", refusal)


@api_view("GET")
def delivery_summary(request):
    """Tenant admins: `?days=<1..90>` (default 7): how many deliveries made
    in that period are in each channel, status and reason."""
    _tenant_admin(request, _("only tenant admins may see the delivery totals"))
    days = selectors.check_summary_days(request.GET.get("days"))
    since = timezone.now() - timedelta(days=days)
    return JsonResponse({"days": days, "since": since.isoformat(), "counts": selectors.delivery_summary(since=since)})


@api_view("GET", "PUT")
def notification_settings(request):
    """Tenant admins: the tenant's off-site timing, `push_after_seconds`
    (0..3600) and `email_digest_minutes` (1..1440); PUT changes some."""
    _tenant_admin(request, _("only tenant admins may manage the delivery timing"))
    if request.method == "PUT":
        body = read_json(request, optional=set(services.DELIVERY_SETTINGS))
        timing = services.delivery_settings_update(actor=request.user, tenant=request.tenant, changes=body)
    else:
        timing = selectors.delivery_settings(tenant=request.tenant)
    return JsonResponse(timing)


def _announcement_json(announcement) -> dict:
    read = announcement.read_count_at_expiry if announcement.expired_at else getattr(announcement, "read_count", None)
    return {
        "id": announcement.pk,
        "title": announcement.title,
        "body": announcement.body,
        "severity": announcement.severity,
        "audience": announcement.audience,
        "author": announcement.author.get_username() if announcement.author_id else None,
        "status": announcement.status,
        "created_at": announcement.created_at.isoformat(),
        "publish_at": announcement.publish_at.isoformat(),
        "expires_at": announcement.expires_at.isoformat() if announcement.expires_at else None,
        "recipients_count": announcement.recipients_count,
        "read_count": read,
    }


@api_view("GET", "POST")
def announcements(request):
    if not request.user.is_tenant_admin:
        raise ApplicationError("forbidden", _("only tenant admins may announce"))
    if request.method == "GET":
        return JsonResponse(paginate(request, selectors.announcement_history(), _announcement_json))
    body = read_json(request, required={"title", "audience"}, optional={"body", "severity", "publish_at", "expires_at"})
    announcement = announcement_create(
        author=request.user,
        title=body["title"],
        body=body.get("body", ""),
        severity=body.get("severity", "info"),
        audience=body["audience"],
        publish_at=body.get("publish_at"),
        expires_at=body.get("expires_at"),
    )
    return JsonResponse(_announcement_json(announcement), status=201)


@api_view("POST")
def announcement_audience(request):
    """How many people an audience reaches now: the page asks before sending."""
    if not request.user.is_tenant_admin:
        raise ApplicationError("forbidden", _("only tenant admins may announce"))
    audience = read_json(request, required={"audience"})["audience"]
    return JsonResponse({"audience": audience, "recipients": audience_size(audience)})


# --- Web Push -------------------------------------------------------------------------
@api_view("GET")
def push_key(request):
    """The VAPID public key browsers subscribe with; 404 `push_unavailable`
    when push is not set up."""
    push.check_configured()
    return JsonResponse({"public_key": settings.VAPID_PUBLIC_KEY})


def _device_json(device) -> dict:
    return {
        "id": device.pk,
        "endpoint": device.endpoint,
        "user_agent": device.user_agent,
        "created_at": device.created_at.isoformat(),
        "last_sent_at": device.last_sent_at.isoformat() if device.last_sent_at else None,
    }


@api_view("GET", "POST", "DELETE")
def push_devices(request):
    """GET: my devices. POST: a browser's `PushSubscription.toJSON()`;
    201 when the device is new to me, 200 when it was mine already.
    DELETE `{"endpoint"}`: forget it (`deleted`: 0 if it was not mine)."""
    if request.method == "GET":
        return JsonResponse({"results": [_device_json(d) for d in selectors.push_devices(user=request.user)]})
    if request.method == "DELETE":
        endpoint = read_json(request, required={"endpoint"})["endpoint"]
        return JsonResponse({"deleted": services.push_device_remove(user=request.user, endpoint=endpoint)})
    body = read_json(request, required={"endpoint", "keys"}, optional={"expirationTime"})
    token = request.api_token
    device, new = services.push_device_register(
        user=request.user,
        subscription=body,
        user_agent=request.headers.get("User-Agent", ""),
        session_key="" if token is not None else request.session.session_key or "",
        token_id=token.pk if token is not None else None,
    )
    return JsonResponse(_device_json(device), status=201 if new else 200)
