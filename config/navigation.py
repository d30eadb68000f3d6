"""The site header's links, by role (templates/base.html, templates/home.html).

A context processor, so every page gets the same links without each view
asking: customers see none of the staff's or admins' places; store staff
see their stores; tenant admins see the places they manage. It lives in
config/ because it names places of several apps. Nothing is queried until
a template reads `nav_links` (a lazy list), and then once per request.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name

from stores.selectors import staff_store_ids


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    icon: str  # a file in templates/icons/, without ".svg"
    description: str = ""
    current: bool = False


def navigation(request) -> dict:
    return {"nav_links": SimpleLazyObject(lambda: links_for(request))}


def links_for(request) -> list[Link]:
    user = getattr(request, "user", None)
    tenant = getattr(request, "tenant", None)
    if user is None or not user.is_authenticated or tenant is None or tenant.schema_name == get_public_schema_name():
        return []
    links = []
    if staff_store_ids(user=user):
        links.append(
            _link(request, "store-list", _("Stores"), "store", _("The live order boards of the stores you work in."))
        )
    if user.is_tenant_admin:
        links += [
            _link(request, "manage", _("Manage"), "sliders", _("Stores, staff and settings.")),
            _link(request, "announcements", _("Announcements"), "megaphone", _("Tell everyone, staff or customers.")),
            _link(request, "integrations", _("Integrations"), "plug", _("Shop systems that send orders by webhook.")),
            _link(
                request,
                "manage-notification-kinds",
                _("Alert kinds"),
                "bell",
                _("Which alerts are critical: nobody can turn them off."),
            ),
        ]
    return [link for link in links if link is not None]


def _link(request, name, label, icon, description) -> Link | None:
    try:
        path = reverse(name)
    except NoReverseMatch:  # a urlconf without the page (the operators' host)
        return None
    # "Manage" holds the other admin places: it is current on its own pages only.
    current = request.path == path if name == "manage" else request.path.startswith(path)
    return Link(url=path, label=label, icon=icon, description=description, current=current)
