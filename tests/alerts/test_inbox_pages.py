"""The inbox, preferences and alert-kinds pages as Django serves them (their
lists come from the API and the socket, tested in the browser tests): who
may open them, and a hostile `?box=`."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

pytestmark = pytest.mark.django_db


def client_for(tenant, user=None, host="acme.localhost") -> Client:
    client = Client(HTTP_HOST=host)
    if user is not None:
        with tenant_context(tenant):
            client.force_login(user)
    return client


@pytest.mark.parametrize("box", ["unread", "archived"])
def test_the_inbox_opens_on_the_tab_it_is_asked_for(world, box):
    html = client_for(world.acme.tenant, world.acme.customer).get(f"/notifications/?box={box}").content.decode()
    assert f'data-box="{box}" aria-current="page"' in html
    assert f'<ul id="inbox" aria-label="Notifications" data-box="{box}">' in html


@pytest.mark.parametrize(
    "box", ["", "ALL", "archived ", "١٢", "-1", "99999999999999999999", "<script>", "all&box=archived", "x" * 5000]
)
def test_an_unknown_tab_is_the_all_tab(world, box):
    response = client_for(world.acme.tenant, world.acme.customer).get("/notifications/", {"box": box})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-box="all" aria-current="page"' in html
    assert box == "" or f'data-box="{box}"' not in html  # never echoed


def test_several_boxes_in_the_query_take_the_last(world):
    response = client_for(world.acme.tenant, world.acme.customer).get("/notifications/?box=unread&box=archived")
    assert 'data-box="archived" aria-current="page"' in response.content.decode()


@pytest.mark.parametrize("path", ["/notifications/", "/notifications/preferences/", "/manage/notifications/"])
def test_signed_out_visitors_are_sent_to_sign_in(world, path):
    response = client_for(world.acme.tenant).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["customer", "staff1"])
def test_the_alert_kinds_page_is_for_tenant_admins_only(world, who):
    assert client_for(world.acme.tenant, getattr(world.acme, who)).get("/manage/notifications/").status_code == 403


def test_an_admin_of_one_tenant_is_not_one_of_the_other(world):
    """Both casts share ids: acme's admin (101) is signed in on acme only;
    on globex's host that session is nobody's (globex's 101 is its own admin)."""
    assert client_for(world.acme.tenant, world.acme.admin).get("/manage/notifications/").status_code == 200
    globex = client_for(world.acme.tenant, world.acme.admin, host="globex.localhost")
    response = globex.get("/manage/notifications/")
    assert response.status_code == 302  # the acme session means nothing on globex
    assert (
        client_for(world.globex.tenant, world.globex.customer, host="globex.localhost")
        .get("/manage/notifications/")
        .status_code
        == 403
    )


def test_every_page_links_the_preferences_from_the_inbox(world):
    html = client_for(world.acme.tenant, world.acme.customer).get("/notifications/").content.decode()
    assert 'href="/notifications/preferences/"' in html
    prefs = client_for(world.acme.tenant, world.acme.customer).get("/notifications/preferences/").content.decode()
    assert 'href="/notifications/"' in prefs
