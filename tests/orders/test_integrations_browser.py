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
        page.goto(f"{base}/integrations/")
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
