"""Tenant admins' store pages in a real browser: the admin adds a new person
by email, who signs in from the mailed link and opens the board; the admin
removes them, and their open board closes."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import assert_accessible, browser, sign_in
from tests.factories import PASSWORD
from tests.servers import uvicorn_server
from tests.smtp import smtp_server

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_admin_adds_a_person_who_opens_the_board_then_removes_them_and_it_closes(world):
    with (
        smtp_server() as inbox,
        uvicorn_server(extra_env={"EMAIL_URL": inbox.email_url}) as server,
        browser() as chromium,
    ):
        base = f"http://acme.localhost:{server.port}"
        admin = sign_in(chromium.new_context(), base, "admin", PASSWORD)
        admin.goto(f"{base}/manage/")
        assert_accessible(admin, label="manage index")
        admin.get_by_role("link", name="Open stores").click()
        expect(admin.locator(".store-row")).to_have_count(2)
        assert_accessible(admin, label="stores list")
        admin.locator('.store-row[data-store-id="1"]').get_by_role("link", name="acme one", exact=True).click()
        expect(admin.get_by_role("heading", level=1)).to_have_text("acme one")
        assert_accessible(admin, label="store page")

        # Red must come after amber: said next to the field, nothing saved.
        admin.get_by_label("red after (minutes)").fill("4")
        admin.get_by_role("button", name="Save settings").click()
        expect(admin.locator("#id_sla_late_minutes_error")).to_contain_text("more than the amber")
        expect(admin.get_by_label("red after (minutes)")).to_have_attribute("aria-invalid", "true")
        assert_accessible(admin, label="store page with an error")
        admin.get_by_label("red after (minutes)").fill("15")
        admin.get_by_role("button", name="Save settings").click()
        expect(admin.locator(".message.success")).to_contain_text("Saved")

        # A new person, by email: an account, and a one-time link by mail.
        admin.get_by_label("Email").fill("cook@acme.example")
        admin.get_by_role("button", name="Add to this store").click()
        expect(admin.locator(".message.success")).to_contain_text("cook@acme.example was added and emailed")
        expect(admin.locator('.member[data-username="cook@acme.example"]')).to_be_visible()
        [mail] = inbox.received
        [link] = mail.links()
        assert link.startswith(base + "/accounts/reset/")

        cook = chromium.new_context().new_page()
        cook.goto(link)
        cook.fill("#id_new_password1", "kitchen-pass-42")
        cook.fill("#id_new_password2", "kitchen-pass-42")
        cook.click("button[type=submit]")
        cook.wait_for_url(f"{base}/accounts/reset/done/")
        cook = sign_in(cook.context, base, "cook@acme.example", "kitchen-pass-42")
        cook.goto(f"{base}/stores/1/")
        expect(cook.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)

        # Removal asks first; then the person's open board closes (4403).
        admin.locator('.member[data-username="cook@acme.example"]').get_by_role("button", name="Remove").click()
        dialog = admin.locator("dialog#confirm")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Remove cook@acme.example from acme one?")
        assert_accessible(admin, label="remove dialog open")
        dialog.get_by_role("button", name="Remove").click()
        expect(admin.locator(".message.success")).to_contain_text("no longer staff")
        expect(admin.locator('.member[data-username="cook@acme.example"]')).to_have_count(0)
        expect(cook.locator("#connection")).to_have_attribute("data-state", "refused", timeout=5_000)

        # Cancel removes nobody.
        admin.locator('.member[data-username="staff1"]').get_by_role("button", name="Remove").click()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        admin.reload()
        expect(admin.locator('.member[data-username="staff1"]')).to_be_visible()
    connections.close_all()


def test_the_pages_fit_a_phone(world):
    with uvicorn_server() as server, browser() as chromium:
        base = f"http://acme.localhost:{server.port}"
        admin = sign_in(chromium.new_context(viewport=PHONE), base, "admin", PASSWORD)
        for path in (
            "/manage/",
            "/manage/stores/",
            "/manage/stores/1/",
            "/manage/integrations/",
            "/manage/announcements/",
        ):
            admin.goto(f"{base}{path}")
            admin.wait_for_load_state("networkidle")
            assert no_horizontal_scroll(admin), path
            assert_accessible(admin, label=f"{path} at 390 px")
    connections.close_all()
