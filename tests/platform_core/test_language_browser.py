"""The same pages (home and a store's board) in Spanish and in English, by
each of the three sources: the user's own choice beats the tenant's default,
which beats the browser's Accept-Language. In a real browser: the words,
`<html lang>`, and a date, a time and money formatted by Intl in the
reader's language and the tenant's time zone (Madrid here)."""

import contextlib
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from orders.models import Order
from tenants.models import Tenant
from tests.browser import browser, sign_in
from tests.factories import PASSWORD, create_order
from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

CAME_IN = datetime(2026, 3, 5, 17, 4, tzinfo=UTC)  # 18:04 in Madrid (CET), 12:04 in New York

SPANISH = {
    "home": "Tus notificaciones: pedidos, comentarios y avisos.",
    "column": "Nuevo",
    "live": "En directo",
    "came_in": "5/3/26, 18:04",
    "total": "23,40 €",
}
ENGLISH = {
    "home": "Your alerts: orders, comments and announcements.",
    "column": "New",
    "live": "Live",
    "came_in": "3/5/26, 6:04 PM",
    "total": "€23.40",
}

# (user's choice, tenant's default, the browser's Accept-Language) → what is shown
CASES = {
    "the user's Spanish beats an English tenant and browser": ("es", "en", "en-US,en;q=0.9", "es"),
    "the user's English beats a Spanish tenant and browser": ("en", "es", "es-ES,es;q=0.9", "en"),
    "the tenant's Spanish beats an English browser": ("", "es", "en-US,en;q=0.9", "es"),
    "the tenant's English beats a Spanish browser": ("", "en", "es-ES,es;q=0.9", "en"),
    "a Spanish browser, nothing else chosen": ("", "", "es-AR,es;q=0.9,en;q=0.5", "es"),
    "an English browser, nothing else chosen": ("", "", "en-GB,en;q=0.9", "en"),
}


@pytest.fixture(scope="module")
def server(django_db_setup):
    # Tenants are made again by every test: the server caches none.
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(uvicorn_server(extra_env={"TENANT_CACHE_SECONDS": "0"}))


def plain(text: str) -> str:
    """Intl puts no-break spaces (U+00A0, U+202F) where a reader sees a space."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("user_language, tenant_language, accept_language, shown", CASES.values(), ids=CASES)
def test_home_and_board_in_the_language_of_the_strongest_source(
    world, server, user_language, tenant_language, accept_language, shown
):
    acme = world.acme
    Tenant.objects.filter(pk=acme.tenant.pk).update(language=tenant_language, time_zone="Europe/Madrid")
    with tenant_context(acme.tenant):
        get_user_model().objects.filter(pk=acme.staff1.pk).update(language=user_language)
    order = create_order(acme.tenant, external_id="WEB-1", total="23.40", currency="EUR")
    with tenant_context(acme.tenant):
        Order.objects.filter(pk=order.pk).update(created_at=CAME_IN)
    # The other tenant's user 1 chose nothing: what acme's did is theirs alone.
    with tenant_context(world.globex.tenant):
        assert get_user_model().objects.get(pk=acme.staff1.pk).language == ""
    connections.close_all()  # the server must see it all, committed

    words = SPANISH if shown == "es" else ENGLISH
    with browser() as chromium:
        base = f"http://acme.localhost:{server.port}"
        context = chromium.new_context(
            viewport={"width": 1366, "height": 900}, extra_http_headers={"Accept-Language": accept_language}
        )
        page = sign_in(context, base, "staff1", PASSWORD)
        expect(page.locator("html")).to_have_attribute("lang", shown)
        expect(page.locator("html")).to_have_attribute("data-time-zone", "Europe/Madrid")
        expect(page.locator("main")).to_contain_text(words["home"])

        page.goto(f"{base}/stores/1/")
        expect(page.locator("html")).to_have_attribute("lang", shown)
        expect(page.locator("#connection")).to_have_text(words["live"], timeout=10_000)
        expect(page.locator("#column-new")).to_contain_text(words["column"])
        card = page.locator("#board article[data-external-id='WEB-1']")
        expect(card).to_be_visible()
        assert plain(card.locator(".total").inner_text()) == words["total"]
        assert plain(card.locator("time.age").get_attribute("title")) == words["came_in"]
    connections.close_all()
