from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from alerts import selectors
from alerts.models import Announcement, Delivery
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
