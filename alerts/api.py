"""The inbox over HTTP (JSON): list, mark read, preferences."""

from dataclasses import asdict

from django.http import JsonResponse

from alerts import selectors, services
from alerts.models import Notification
from platform_core.api import api_view, paginate, read_json
from platform_core.errors import ApplicationError


@api_view("GET")
def notifications(request):
    flag = request.GET.get("unread", "false")
    if flag not in ("true", "false"):
        raise ApplicationError("bad_request", "invalid filter", fields={"unread": "true or false"})
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
        raise ApplicationError("invalid", "send either ids or all", fields={"ids": "either `ids`", "all": "or `all: true`"})
    if "all" in body:
        if body["all"] is not True:
            raise ApplicationError("invalid", "`all` must be true", fields={"all": "must be true"})
        result = services.notifications_mark_all_read(user=request.user)
    else:
        result = services.notifications_mark_read(user=request.user, ids=body["ids"])
    return JsonResponse({"ids": result.ids, "unknown_ids": result.unknown_ids, "unread_count": result.unread_count})


@api_view("GET", "PUT")
def preferences(request):
    if request.method == "PUT":
        muted = services.preferences_update(user=request.user, muted_kinds=read_json(request, required={"muted_kinds"})["muted_kinds"])
    else:
        muted = selectors.muted_kinds(user=request.user)
    return JsonResponse({"muted_kinds": muted, "kinds": dict(Notification.Kind.choices)})
