"""The announcements page in a real browser."""

import pytest
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_composes_with_preview_and_a_connected_customer_gets_the_toast(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        customer = sign_in(chromium.new_context(), base, "customer", PASSWORD)
        expect(customer.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)

        admin = sign_in(chromium.new_context(), base, "admin", PASSWORD)
        admin.goto(f"{base}/announcements/")
        admin.fill("#title", "Closing early today")
        admin.fill("#body", "We close at 18:00.")
        expect(admin.locator("#preview .toast")).to_contain_text("Closing early today")

        # A bad audience first: the page names the field, nothing is sent.
        admin.check("input[name=audience][value=stores]")
        admin.get_by_role("button", name="Send").click()
        expect(admin.locator("#errors")).to_contain_text("audience")

        admin.check("input[name=audience][value=customers]")
        admin.get_by_role("button", name="Send").click()
        expect(customer.locator(".toast")).to_contain_text("Closing early today", timeout=10_000)
        expect(customer.locator("#bell-count")).to_have_text("1")
        admin.reload()
        row = admin.locator("#history tr").first
        expect(row).to_contain_text("Closing early today")
        expect(row).to_contain_text("delivered", timeout=10_000)


def test_staff_cannot_open_the_page(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        staff = sign_in(chromium.new_context(), base, "staff1", PASSWORD)
        assert staff.goto(f"{base}/announcements/").status == 403
