from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from alerts.models import Announcement
from platform_core.views import tenant_admin_required
from stores.models import Store

# How often the announcements page asks for its counters.
POLL_MS = 2000


@login_required
def inbox(request):
    """The inbox page; its list, read state and preferences come from the API and the socket."""
    return render(request, "alerts/inbox.html")


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
