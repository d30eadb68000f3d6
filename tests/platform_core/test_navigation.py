"""The header's links by role (config/navigation.py, templates/base.html),
and the error pages' ways back (templates/403.html, templates/404.html)."""

import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from stores.models import StaffMembership
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def client_for(tenant, user=None, host="acme.localhost") -> Client:
    client = Client(HTTP_HOST=host)
    if user is not None:
        with tenant_context(tenant):
            client.force_login(user)
    return client


def nav_paths(html: str) -> list[str]:
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


def test_a_customer_sees_no_store_or_admin_links(world):
    html = client_for(world.acme.tenant, world.acme.customer).get("/").content.decode()
    assert nav_paths(html) == []
    assert "/stores/" not in html and "Your stores" not in html
    assert 'id="bell"' in html


def test_staff_see_their_stores_and_nothing_of_admins(world):
    html = client_for(world.acme.tenant, world.acme.staff1).get("/").content.decode()
    assert nav_paths(html) == ["/stores/"]


def test_the_current_place_is_marked(world):
    html = client_for(world.acme.tenant, world.acme.staff1).get("/stores/1/").content.decode()
    assert '<a href="/stores/" aria-current="page">' in html


def test_tenant_admins_see_their_places(world):
    admin = client_for(world.acme.tenant, world.acme.admin)
    assert nav_paths(admin.get("/").content.decode()) == [
        "/manage/",
        "/manage/announcements/",
        "/manage/integrations/",
        "/manage/notifications/",
    ]


def test_an_admin_who_is_also_staff_sees_both(world):
    acme = world.acme
    with tenant_context(acme.tenant):
        StaffMembership.objects.create(user=acme.admin, store=acme.store2)
    html = client_for(acme.tenant, acme.admin).get("/").content.decode()
    assert nav_paths(html) == [
        "/stores/",
        "/manage/",
        "/manage/announcements/",
        "/manage/integrations/",
        "/manage/notifications/",
    ]


def test_membership_is_read_in_the_hosts_tenant(world):
    """A globex user with the id of acme's customer is staff of globex's
    store 1: on acme's host, the customer still sees no store link."""
    globex_twin = make_user(world.globex.tenant, "twin", id=world.acme.customer.pk)
    with tenant_context(world.globex.tenant):
        StaffMembership.objects.create(user=globex_twin, store=world.globex.store1)
    html = client_for(world.acme.tenant, world.acme.customer).get("/").content.decode()
    assert nav_paths(html) == []


def test_the_403_page_offers_the_way_home_and_signing_in_as_someone_else(world):
    response = client_for(world.acme.tenant, world.acme.customer).get("/manage/integrations/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You do not have access to this page" in html
    assert 'href="/"' in html
    assert 'action="/accounts/logout/"' in html
    assert 'name="next" value="/accounts/login/?next=/manage/integrations/"' in html


def test_signing_out_from_the_403_page_leads_to_sign_in_and_back(world):
    client = client_for(world.acme.tenant, world.acme.customer)
    client.get("/manage/integrations/")
    response = client.post("/accounts/logout/", {"next": "/accounts/login/?next=/manage/integrations/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/manage/integrations/"
    assert client.get("/manage/integrations/").status_code == 302  # signed out now
    signed_in = client.post(
        "/accounts/login/?next=/manage/integrations/",
        {"username": "admin", "password": PASSWORD, "next": "/manage/integrations/"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/manage/integrations/"
    assert client.get("/manage/integrations/").status_code == 200


def test_the_404_page_is_the_products_with_a_way_home(world, settings):
    settings.DEBUG = False
    response = client_for(world.acme.tenant, world.acme.customer).get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'href="/"' in html
