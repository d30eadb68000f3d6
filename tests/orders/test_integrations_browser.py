"""The integrations page in a real browser."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD
from tests.orders.webhook_client import payload, send

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_creates_an_integration_sees_the_secret_once_and_its_deliveries(world):
    from tests.servers import uvicorn_server

    with uvicorn_server() as server, browser() as chromium:
        base = f"http://acme.localhost:{server.port}"
        page = sign_in(chromium.new_context(), base, "admin", PASSWORD)
        page.goto(f"{base}/manage/integrations/")
        page.fill("#name", "Webshop")
        page.get_by_role("button", name="Create integration").click()
        secret = page.locator("#new-secret").inner_text(timeout=10_000)
        assert secret.startswith("whsec_")
        card = page.locator("section.integration").first
        expect(card).to_contain_text("Webshop")
        integration_id = int(card.get_attribute("data-integration-id"))

        # The shop uses the secret it was shown. (Playwright keeps an event
        # loop in this thread, so the request runs on another one.)
        with ThreadPoolExecutor(1) as shop:
            response = shop.submit(send, integration_id, secret, payload(total="4.20", external_id="PAGE-1")).result()
            shop.submit(connections.close_all).result()
        assert response.status_code == 200
        page.reload()
        expect(page.locator("section.integration table")).to_contain_text("order.created", timeout=10_000)
        assert secret not in page.content(), "shown once"
    connections.close_all()


def test_the_test_event_button_puts_a_live_order_on_an_open_board_and_in_the_log(world):
    from tests.browser import assert_accessible
    from tests.servers import uvicorn_server

    with uvicorn_server() as server, browser() as chromium:
        base = f"http://acme.localhost:{server.port}"
        board = sign_in(chromium.new_context(), base, "staff1", PASSWORD)
        board.goto(f"{base}/stores/1/")
        expect(board.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)

        context = chromium.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        admin = sign_in(context, base, "admin", PASSWORD)
        admin.goto(f"{base}/manage/integrations/")
        expect(admin.locator("#empty")).to_be_visible()
        assert_accessible(admin, label="integrations, none yet")

        admin.get_by_label("Name").fill("Webshop")
        admin.get_by_role("button", name="Create integration").click()
        secret = admin.locator("#new-secret").inner_text(timeout=10_000)
        admin.locator(".secret-box").get_by_role("button", name="Copy").click()
        expect(admin.locator(".secret-box button[data-state=copied]")).to_have_text("Copied")
        assert admin.evaluate("navigator.clipboard.readText()") == secret
        card = admin.locator("section.integration").first
        expect(card.locator(".deliveries")).to_contain_text("No deliveries match.")
        assert_accessible(admin, label="integrations, secret shown")

        card.get_by_label("Store").select_option("1")
        card.get_by_role("button", name="Send a test event").click()
        expect(card.locator(".test-result")).to_contain_text("Delivered: order TEST-", timeout=10_000)
        external_id = card.locator(".test-result").inner_text().split("order ")[1].split(" ")[0]

        # Live on the board open in the other page, with no reload.
        expect(board.locator(f'article[data-external-id="{external_id}"]')).to_be_visible(timeout=10_000)
        # And in the log, which follows new deliveries by itself.
        expect(card.locator("table.log tbody tr")).to_have_count(1, timeout=10_000)
        expect(card.locator("table.log tbody tr").first).to_contain_text("200")

        # A delivery arriving from elsewhere shows up without reload, filters apply.
        integration_id = int(card.get_attribute("data-integration-id"))
        with ThreadPoolExecutor(1) as shop:
            bad = shop.submit(
                send, integration_id, secret, payload(store_id=99, total="1.00", external_id="X")
            ).result()
            shop.submit(connections.close_all).result()
        assert bad.status_code == 422
        expect(card.locator("table.log tbody tr")).to_have_count(2, timeout=10_000)
        expect(card.locator("table.log tbody tr.refused")).to_contain_text("422")
        card.get_by_label("Outcome").select_option("refused")
        expect(card.locator("table.log tbody tr")).to_have_count(1)
        card.get_by_label("Outcome").select_option("accepted")
        expect(card.locator("table.log tbody tr")).to_have_count(1)
        expect(card.locator("table.log tbody tr")).to_contain_text("200")
        assert_accessible(admin, label="integrations with deliveries")
    connections.close_all()
