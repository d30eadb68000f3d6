"""The dashboard in a real browser: live updates with no reload."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD, create_order
from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

# Without Redis the server process cannot hear this test process's publish;
# its heartbeat then finds the new seq in the database and repairs the
# stream. With Redis (CI), the event arrives live.
SERVER_ENV = {} if os.environ.get("REDIS_URL") else {"STREAM_HEARTBEAT_SECONDS": "0.5"}


@pytest.fixture
def server(world):
    with uvicorn_server(extra_env=SERVER_ENV) as server:
        yield server
    connections.close_all()


def test_staff_page_shows_a_new_order_without_reload_and_acts_on_it(server, world):
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        context = chromium.new_context()
        page = sign_in(context, base, "staff1", PASSWORD)
        page.goto(f"{base}/stores/1/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(page.locator("#presence li")).to_have_text(["staff1"], timeout=10_000)
        page.evaluate("window.__sameDocument = true")

        # Another session (here: this process, through the service) takes an
        # order. Playwright keeps an event loop in this thread, so the ORM
        # runs in another one, as a request would.
        with ThreadPoolExecutor(1) as other_session:
            other_session.submit(
                create_order,
                world.acme.tenant,
                external_id="WEB-1",
                total="23.40",
                customer=world.acme.customer,
                line_items=[
                    {
                        "name": "Pizza",
                        "quantity": "1.5",
                        "unit_price": "18.5",
                        "options": [{"name": "size", "value": "L"}],
                    },
                    {"sku": "COLA-33", "quantity": 2},
                ],
            ).result()
            other_session.submit(connections.close_all).result()

        card = page.locator('[data-status="new"] article[data-external-id="WEB-1"]')
        expect(card).to_be_visible(timeout=15_000)
        expect(card).to_have_class("order alerting")
        expect(card).to_contain_text("€23.40")  # Intl, English: the currency before the amount
        expect(card.locator(".items li")).to_have_text(["1.5 × Pizza (size: L)", "2 × COLA-33"])
        assert page.evaluate("window.__sameDocument") is True, "the page must not have reloaded"

        # Staff act from the page: the change comes back through the stream.
        card.get_by_role("button", name="Accept", exact=True).click()
        moved = page.locator('[data-status="accepted"] article[data-external-id="WEB-1"]')
        expect(moved).to_be_visible(timeout=15_000)
        moved.get_by_label("Comment").fill("<b>two</b> minutes")
        moved.get_by_role("button", name="Send").click()
        expect(moved.locator(".comments li")).to_have_text(["staff1: <b>two</b> minutes"], timeout=15_000)

        # globex's store 1 (same id) never shows acme's order.
        globex = chromium.new_context()
        other = sign_in(globex, f"http://globex.localhost:{server.port}", "staff1", PASSWORD)
        other.goto(f"http://globex.localhost:{server.port}/stores/1/")
        expect(other.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(other.locator('article[data-external-id="WEB-1"]')).to_have_count(0)


def test_the_page_reconnects_after_a_restart_and_shows_what_it_missed(world):
    with browser() as chromium:
        context = chromium.new_context()
        with uvicorn_server(extra_env=SERVER_ENV) as first:
            port = first.port
            base = f"http://acme.localhost:{port}"
            page = sign_in(context, base, "staff1", PASSWORD)
            page.goto(f"{base}/stores/1/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            page.evaluate("window.__sameDocument = true")
        # The server is gone; the page notices and keeps trying.
        expect(page.locator("#connection")).to_have_attribute("data-state", "offline", timeout=10_000)
        with ThreadPoolExecutor(1) as other_session:
            other_session.submit(create_order, world.acme.tenant, external_id="WHILE-DOWN").result()
            other_session.submit(connections.close_all).result()

        with uvicorn_server(extra_env=SERVER_ENV, port=port):
            # Reconnects with ?after=<last seq> and gets the missed order replayed.
            expect(page.locator('article[data-external-id="WHILE-DOWN"]')).to_be_visible(timeout=40_000)
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            assert page.evaluate("window.__sameDocument") is True
    connections.close_all()
