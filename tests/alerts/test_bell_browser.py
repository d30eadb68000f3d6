"""The bell in a real browser: toast and badge live, and every tab agrees."""

import pytest
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD, create_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_status_change_by_staff_toasts_the_customer_and_mark_all_read_clears_every_tab(product_server, world):
    create_order(world.acme.tenant, external_id="WEB-2", customer=world.acme.customer)
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        customer = chromium.new_context()
        home = sign_in(customer, base, "customer", PASSWORD)
        inbox = customer.new_page()
        inbox.goto(f"{base}/notifications/")
        for tab in (home, inbox):
            expect(tab.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)
            expect(tab.locator("#bell-count")).to_be_hidden()

        staff = sign_in(chromium.new_context(), base, "staff1", PASSWORD)
        staff.goto(f"{base}/stores/1/")
        staff.locator('article[data-external-id="WEB-2"]').get_by_role("button", name="Accepted").click()

        # Both tabs: a toast and a badge of 1, without reload.
        for tab in (home, inbox):
            expect(tab.locator(".toast")).to_contain_text("Order WEB-2 is now Accepted", timeout=10_000)
            expect(tab.locator("#bell-count")).to_have_text("1")
        expect(inbox.locator("#inbox li.unread")).to_have_count(1)

        inbox.get_by_role("button", name="Mark all read").click()
        expect(home.locator("#bell-count")).to_be_hidden(timeout=10_000)
        expect(home.locator("#bell-count")).to_have_attribute("data-count", "0")
        expect(inbox.locator("#inbox li.read")).to_have_count(1)
