"""The announcements page in a real browser."""

import pytest
from playwright.sync_api import expect

from tests.browser import assert_accessible, browser, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_confirms_the_audience_size_then_the_customer_gets_it_and_the_counters_follow(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        customer = sign_in(chromium.new_context(), base, "customer", PASSWORD)
        expect(customer.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)

        admin = sign_in(chromium.new_context(), base, "admin", PASSWORD)
        admin.goto(f"{base}/manage/announcements/")
        expect(admin.locator("#no-history")).to_be_visible()
        assert_accessible(admin, label="announcements, none yet")
        admin.fill("#title", "Closing early today")
        admin.fill("#body", "We close at 18:00.")
        expect(admin.locator("#preview .toast")).to_contain_text("Closing early today")

        # A bad audience first: the page names the field, nothing is asked or sent.
        admin.check("input[name=audience][value=stores]")
        admin.get_by_role("button", name="Send").click()
        expect(admin.locator("#errors")).to_contain_text("audience")
        expect(admin.locator("dialog#confirm")).to_be_hidden()

        # Everyone: 5 people. Cancelled: nothing is sent.
        admin.check("input[name=audience][value=everyone]")
        admin.get_by_role("button", name="Send").click()
        dialog = admin.locator("dialog#confirm")
        expect(dialog).to_contain_text("Send “Closing early today” to 5 people?")
        assert_accessible(admin, label="send dialog open")
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()

        # Customers: 1 person, confirmed.
        admin.check("input[name=audience][value=customers]")
        admin.get_by_role("button", name="Send").click()
        expect(dialog).to_contain_text("to 1 person?")
        dialog.get_by_role("button", name="Send").click()
        expect(customer.locator(".toast")).to_contain_text("Closing early today", timeout=10_000)
        expect(customer.locator("#bell-count")).to_have_text("1")
        row = admin.locator("#history tr")
        expect(row).to_have_count(1)  # the cancelled one was never sent
        expect(row).to_contain_text("Closing early today")
        expect(row.locator("td.status")).to_have_text("delivered", timeout=10_000)
        expect(row.locator("td.delivered")).to_have_text("1")
        expect(row.locator("td.read")).to_have_text("0")
        admin.evaluate("window.__sameDocument = true")

        # The customer reads it: the admin's counter moves without reload.
        customer.evaluate(
            """async () => {
              const { api } = await import("/static/ws/pregon-api.js");
              await api("POST", "/api/notifications/read", { all: true });
            }"""
        )
        expect(row.locator("td.read")).to_have_text("1", timeout=10_000)
        assert admin.evaluate("window.__sameDocument") is True
        assert_accessible(admin, label="announcements with history")


def test_staff_cannot_open_the_page(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        staff = sign_in(chromium.new_context(), base, "staff1", PASSWORD)
        assert staff.goto(f"{base}/manage/announcements/").status == 403
