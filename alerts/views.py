import functools
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from alerts import digest, selectors, services
from alerts.models import Announcement, Delivery, Notification
from platform_core.i18n import language_for
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


# How many deliveries the preferences page lists before "Show older".
HISTORY_PAGE = 20


def delivery_words() -> dict:
    """The delivery log's words in the reader's language, for the pages'
    scripts: each channel, status and reason by its code."""
    return {
        "channels": {code: str(label) for code, label in Delivery.Channel.choices},
        "statuses": {code: str(label) for code, label in Delivery.Status.choices},
        "reasons": {code: str(label) for code, label in Delivery.Reason.choices if code},
        # "Skipped: Already read"
        "with_reason": _("%(status)s: %(reason)s"),
    }


@login_required
def preferences(request):
    """Which kinds reach the user, on which channel, and what became of the
    latest deliveries: the switches and the history come from the API."""
    return render(request, "alerts/preferences.html", {"history": {"limit": HISTORY_PAGE, **delivery_words()}})


# Mail clients post the one-click unsubscribe (RFC 8058) with no cookie and
# no CSRF token: the signed token in the address is the credential.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    """An e-mail digest's unsubscribe link: GET asks (mail scanners open
    links: nothing changes), POST turns e-mail off for the token's kinds,
    but for critical ones, which it explains. No sign-in: whoever has the
    mail may do it. A bad, tampered, expired or other tenant's token: 400,
    nothing changed."""
    try:
        found = digest.read_unsubscribe_token(token)
    except digest.BadToken as error:
        context = {"problem": "expired" if error.expired else "invalid", "days": settings.EMAIL_UNSUBSCRIBE_DAYS}
        return _no_store(render(request, "alerts/unsubscribe.html", context, status=400))
    # The page speaks the language of the person the mail was for.
    with translation.override(language_for(user=found.user, tenant=request.tenant)):
        if request.method == "POST":
            off, critical = services.email_unsubscribe(user=found.user, kinds=found.kinds)
        else:
            locked = selectors.critical_kinds()
            off = [kind for kind in found.kinds if kind not in locked]
            critical = [kind for kind in found.kinds if kind in locked]
        response = render(
            request,
            "alerts/unsubscribe.html",
            {
                "done": request.method == "POST",
                "off": [Notification.Kind(kind).label for kind in off],
                "critical": [Notification.Kind(kind).label for kind in critical],
                "tenant_name": request.tenant.name,
            },
        )
        response["Content-Language"] = translation.get_language()
    return _no_store(response)


def _no_store(response):
    # The address holds a credential: no cache should keep the page.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@tenant_admin_required
def notification_kinds(request):
    """Tenant admins: critical kinds (nobody can mute them), the off-site
    timing and the last days' delivery totals; lists and values come from the API."""
    return render(
        request,
        "alerts/notification_kinds.html",
        {"deliveries": {"days": selectors.SUMMARY_DAYS, **delivery_words()}},
    )


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
