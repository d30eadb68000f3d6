"""The inbox over HTTP (JSON): list, mark read, preferences."""

from dataclasses import asdict

from django.http import JsonResponse
from django.utils.translation import gettext as _

from alerts import selectors, services
from alerts.announcements import announcement_create, audience_size
from alerts.models import Notification
from platform_core.api import api_view, paginate, read_json
from platform_core.errors import ApplicationError


@api_view("GET")
def notifications(request):
    flag = request.GET.get("unread", "false")
    if flag not in ("true", "false"):
        raise ApplicationError("bad_request", _("invalid filter"), fields={"unread": "true or false"})
    page = paginate(
        request,
        selectors.inbox(user=request.user, unread_only=flag == "true"),
        lambda n: asdict(selectors.notification_data(n)),
    )
    return JsonResponse({**page, "unread_count": selectors.unread_count(user=request.user)})


@api_view("POST")
def mark_read(request):
    body = read_json(request, optional={"ids", "all"})
    if ("ids" in body) == ("all" in body):
        raise ApplicationError(
            "invalid", "send either ids or all", fields={"ids": "either `ids`", "all": "or `all: true`"}
        )
    if "all" in body:
        if body["all"] is not True:
            raise ApplicationError("invalid", _("`all` must be true"), fields={"all": "must be true"})
        result = services.notifications_mark_all_read(user=request.user)
    else:
        result = services.notifications_mark_read(user=request.user, ids=body["ids"])
    return JsonResponse({"ids": result.ids, "unknown_ids": result.unknown_ids, "unread_count": result.unread_count})


@api_view("GET", "PUT")
def preferences(request):
    if request.method == "PUT":
        muted = services.preferences_update(
            user=request.user, muted_kinds=read_json(request, required={"muted_kinds"})["muted_kinds"]
        )
    else:
        muted = selectors.muted_kinds(user=request.user)
    return JsonResponse({"muted_kinds": muted, "kinds": dict(Notification.Kind.choices)})


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
