"""The site header's links, by role (templates/base.html, templates/home.html).

A context processor, so every page gets the same links without each view
asking: customers see none of the staff's or admins' places; store staff
see their stores; tenant admins see the places they manage. It lives in
config/ because it names places of several apps. Nothing is queried until
a template reads `nav_links` (a lazy list), and then once per request.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name

from stores.selectors import staff_store_ids

# The tenant admins' pages (issue 16). The link appears once the path is
# routed, so no build shows a link that leads nowhere.
MANAGE_PATH = "/manage/"


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
            _link(request, None, _("Manage"), "sliders", _("Stores, staff and settings."), path=MANAGE_PATH),
            _link(request, "announcements", _("Announcements"), "megaphone", _("Tell everyone, staff or customers.")),
            _link(request, "integrations", _("Integrations"), "plug", _("Shop systems that send orders by webhook.")),
        ]
    return [link for link in links if link is not None]


def _link(request, name, label, icon, description, *, path=None) -> Link | None:
    try:
        if path is None:
            path = reverse(name)
        else:
            resolve(path)
    except (NoReverseMatch, Resolver404):
        return None
    return Link(url=path, label=label, icon=icon, description=description, current=request.path.startswith(path))
