from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from alerts.models import Announcement
from stores.models import Store


@login_required
def inbox(request):
    """The inbox page; its list, read state and preferences come from the API and the socket."""
    return render(request, "alerts/inbox.html")


@login_required
def announcements(request):
    """Compose (with preview) and the history of announcements: tenant admins only."""
    if not request.user.is_tenant_admin:
        raise PermissionDenied
    return render(
        request,
        "alerts/announcements.html",
        {"stores": Store.objects.order_by("id"), "severities": Announcement.Severity.choices},
    )
