"""A Spanish-speaking customer's inbox, in a real browser, shows a status
change made by an English-speaking staff member in Spanish, and in
English once the customer switches language."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import translation
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from alerts import kinds
from tests.browser import browser, sign_in
from tests.factories import PASSWORD, create_order

pytestmark = pytest.mark.django_db(transaction=True)


def set_language(cast, who, language):
    with tenant_context(cast.tenant):
        get_user_model().objects.filter(pk=getattr(cast, who).pk).update(language=language)


def switch_to_english(cast):
    set_language(cast, "customer", "en")
    connections.close_all()


def rendered(language, params):
    with translation.override(language):
        return kinds.render("order_status", params, "", "")[0]


def test_the_customers_inbox_reads_an_english_staff_members_change_in_spanish(product_server, world):
    cast = world.acme
    set_language(cast, "customer", "es")
    set_language(cast, "staff1", "en")
    create_order(cast.tenant, external_id="ES-1", customer=cast.customer)
    params = {"ref": "ES-1", "status": "accepted"}
    spanish, english = rendered("es", params), rendered("en", params)
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        # The customer's browser asks for English: their own choice wins.
        customer = chromium.new_context(locale="en-US")
        inbox = sign_in(customer, base, "customer", PASSWORD)
        inbox.goto(f"{base}/notifications/")
        expect(inbox.locator("html")).to_have_attribute("lang", "es")
        expect(inbox.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)

        staff = sign_in(chromium.new_context(locale="en-US"), base, "staff1", PASSWORD)
        staff.goto(f"{base}/stores/1/")
        staff.locator('article[data-external-id="ES-1"]').get_by_role("button", name="Accept", exact=True).click()

        # Live, over the customer's socket (rendered in Spanish), then over HTTP.
        expect(inbox.locator(".toast")).to_contain_text(spanish, timeout=10_000)
        inbox.reload()
        expect(inbox.locator("#inbox li").first).to_contain_text(spanish, timeout=10_000)

        # Playwright's loop runs in this thread: the ORM call goes to another.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(switch_to_english, cast).result()
        inbox.reload()
        expect(inbox.locator("html")).to_have_attribute("lang", "en")
        expect(inbox.locator("#inbox li").first).to_contain_text(english, timeout=10_000)

    with translation.override("es"):
        if translation.gettext("Order %(ref)s is now %(status)s") == "Order %(ref)s is now %(status)s":
            pytest.xfail("the Spanish catalog has no translation of this msgid yet (the i18n pass fills it)")
    assert spanish != english
