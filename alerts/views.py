import functools
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from alerts.models import Announcement
from platform_core.views import tenant_admin_required
from stores.models import Store

# How often the announcements page asks for its counters.
POLL_MS = 2000


# The inbox's tabs (`?box=`), as GET /api/notifications names them.
BOXES = ("all", "unread", "archived")


@login_required
def inbox(request):
    """The inbox page; its lists and their state come from the API and the socket."""
    box = request.GET.get("box", "all")
    return render(request, "alerts/inbox.html", {"box": box if box in BOXES else "all"})


@login_required
def preferences(request):
    """Which kinds reach the user, on which channel: the switches come from the API."""
    return render(request, "alerts/preferences.html")


@tenant_admin_required
def notification_kinds(request):
    """Tenant admins mark kinds critical (nobody can mute them): the list comes from the API."""
    return render(request, "alerts/notification_kinds.html")


@tenant_admin_required
def announcements(request):
    """Compose (with preview and a "send to N people?" check) and the history
    of announcements with their live counters: tenant admins only."""
    stores = list(Store.objects.order_by("id"))
    return render(
        request,
        "alerts/announcements.html",
        {"stores": stores, "severities": Announcement.Severity.choices, "page": _page(stores)},
    )


def _page(stores) -> dict:
    """What the page's script needs, its texts translated here."""
    return {
        "poll_ms": POLL_MS,
        "stores": {store.id: store.name for store in stores},
        "text": {
            "confirm_one": _("Send “%(title)s” to 1 person?"),
            "confirm_many": _("Send “%(title)s” to %(count)s people?"),
            "confirm_scheduled": _("(Counted now; the audience is read again when it is published.)"),
            "confirm_none": _("Nobody is in this audience now. Send “%(title)s” anyway?"),
            "send": _("Send"),
            "audiences": {
                "everyone": _("Everyone"),
                "staff": _("All staff"),
                "customers": _("Customers"),
                "stores": _("Staff of: %(stores)s"),
            },
            "statuses": {
                "scheduled": _("scheduled"),
                "sending": _("sending"),
                "delivered": _("delivered"),
                "expired": _("expired"),
            },
            "untitled": _("…"),
        },
    }


@require_GET
def service_worker(request):
    """The Web Push service worker (alerts/static/alerts/sw.js), at the
    site's root so its scope is every page of the tenant's host."""
    source = _read_service_worker() if settings.DEBUG else _service_worker_source()
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    # Browsers look for a new version on every navigation past a day; a
    # fresh deploy should reach them sooner.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


def _read_service_worker() -> bytes:
    return Path(finders.find("alerts/sw.js")).read_bytes()


_service_worker_source = functools.cache(_read_service_worker)  # read once when deployed
