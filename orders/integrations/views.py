"""The integrations page of tenant admins (/manage/integrations/); what it
shows and does comes from the JSON API (orders/integrations/api.py)."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from orders.integrations.webhooks import EVENT_TYPES
from platform_core.views import tenant_admin_required
from stores.models import Store

# How often the page asks for new deliveries.
POLL_MS = 2000


@tenant_admin_required
def integrations(request):
    """Create, rotate and revoke integrations, send test events, and watch
    deliveries come in."""
    stores = list(Store.objects.order_by("id").values("id", "name"))
    return render(request, "orders/integrations.html", {"stores": stores, "page": _page(stores)})


def _page(stores: list[dict]) -> dict:
    """What the page's script needs: the stores, the event types, and every
    text it shows (translated here; nothing to translate in the .js)."""
    return {
        "poll_ms": POLL_MS,
        "stores": stores,
        "event_types": list(EVENT_TYPES),
        "text": {
            "secret_once": _("Secret for “%(name)s”, shown once. Copy it now:"),
            "copy": _("Copy"),
            "copied": _("Copied"),
            "post_to": _("Webhook address"),
            "all_stores": _("May write to every store"),
            "some_stores": _("May write to: %(stores)s"),
            "secrets": _("Secrets"),
            "created": _("created %(when)s"),
            "revoked": _("revoked"),
            "revoke": _("Revoke"),
            "revoke_confirm": _("Revoke the secret %(prefix)s? Requests signed with it are refused from now on."),
            "rotate": _("Add a secret (rotate)"),
            "test_title": _("Send a test event"),
            "test_help": _(
                "Signs an order.created with this integration's newest secret and sends it through the webhook's "
                "own checks: a test order appears on the store's board, and in the log below."
            ),
            "test_store": _("Store"),
            "test_send": _("Send a test event"),
            "test_sending": _("Sending…"),
            "test_ok": _("Delivered: order %(external_id)s is on the board of %(store)s."),
            "test_refused": _("The webhook answered %(status)s: %(message)s"),
            "deliveries": _("Deliveries"),
            "live": _("Updates live"),
            "outcome": _("Outcome"),
            "any": _("Any"),
            "accepted": _("Accepted"),
            "refused": _("Refused"),
            "event_type": _("Event type"),
            "since": _("Received"),
            "since_options": [
                ["", _("Any time")],
                ["3600", _("Last hour")],
                ["86400", _("Last 24 hours")],
                ["604800", _("Last 7 days")],
            ],
            "columns": [_("Received"), _("Event"), _("Status"), _("webhook-id"), _("Error")],
            "no_deliveries": _("No deliveries match."),
            "error": _("Something went wrong: %(message)s"),
        },
    }
