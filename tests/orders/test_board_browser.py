"""The store board in a real browser, as a kitchen uses it: it calls for
attention until someone accepts a new order, shows what to make and how long
it has waited, keeps its comments over a reload, cancels only after asking,
says when it is reconnecting, and fits a phone. axe-core checks each state.

Time is Playwright's clock (`page.clock`): installed before the page loads,
then paused or run forward, so timers and ages move when the test says."""

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connections
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from stores.models import Store
from tests.browser import assert_accessible, browser, sign_in
from tests.factories import PASSWORD, add_comment, change_status, create_order
from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

# Without Redis the server cannot hear this process's publish; its heartbeat
# then finds the new seq in the database (see test_dashboard_browser.py).
SERVER_ENV = {} if os.environ.get("REDIS_URL") else {"STREAM_HEARTBEAT_SECONDS": "0.5"}
LIVE = 10_000
ARRIVES = 15_000

LINE_ITEMS = [
    {
        "name": "Menú del día",
        "quantity": 1,
        "options": [{"name": "primero", "value": "Gazpacho"}],
        "notes": "sin cebolla",
    },
    {"name": "Pizza", "quantity": "1.5", "unit_price": "18.5", "options": [{"name": "size", "value": "L"}]},
    {"sku": "COLA-33", "quantity": 2},
]


@pytest.fixture
def server(world):
    with uvicorn_server(extra_env=SERVER_ENV) as server:
        yield server
    connections.close_all()


def in_other_session(function, *args, **kwargs):
    """Run an ORM write as another session would: Playwright keeps an event
    loop in this thread, so the ORM runs in another one."""
    with ThreadPoolExecutor(1) as other:
        result = other.submit(function, *args, **kwargs).result()
        other.submit(connections.close_all).result()
    return result


def store_settings(tenant, store_id=1, **fields):
    with tenant_context(tenant):
        Store.objects.filter(pk=store_id).update(**fields)


def open_board(context, base, username="staff1", store_id=1, *, clock_at=None):
    page = sign_in(context, base, username, PASSWORD)
    if clock_at is not None:
        page.clock.install(time=clock_at)
    page.goto(f"{base}/stores/{store_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=LIVE)
    return page


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- 1. a new order cannot go unnoticed ----------------------------------------------------
def test_a_new_order_chimes_again_and_again_until_someone_accepts_it_on_any_board(server, world):
    # Longer than the test runs: the page's clock (Playwright's) flows, and
    # only the test's run_for reaches the next repeat.
    store_settings(world.acme.tenant, sound_repeat_seconds=300)
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(), base, clock_at=datetime.now(tz=UTC))
        board = page.locator("#board")
        # Headless chromium, like a browser after a plain page load, refuses
        # sound until a gesture: the board asks for one.
        prompt = page.get_by_role("button", name="Click to enable sound")
        expect(prompt).to_be_visible()
        expect(board).to_have_attribute("data-sound", "blocked")
        prompt.click()
        expect(board).to_have_attribute("data-sound", "on")
        expect(prompt).to_be_hidden()
        # The button stays where it was (nothing moves under a finger), as a test of the chime.
        expect(page.locator("#enable-sound")).to_have_accessible_name("Sound on · test")
        expect(board).to_have_attribute("data-sounds-played", "0")
        expect(board).to_have_attribute("data-alerting", "false")
        assert page.title() == "acme one — Pregón"

        in_other_session(
            create_order, world.acme.tenant, external_id="WEB-1", customer_name="Ana Díaz", line_items=LINE_ITEMS
        )
        card = page.locator('[data-status="new"] article[data-external-id="WEB-1"]')
        expect(card).to_be_visible(timeout=ARRIVES)
        expect(board).to_have_attribute("data-alerting", "true")
        expect(board).to_have_attribute("data-new-count", "1")
        expect(card).to_have_attribute("data-alerting", "true")
        expect(page).to_have_title("(1) acme one — Pregón")
        expect(board).to_have_attribute("data-sounds-played", "1")
        expect(page.locator("#announcer")).to_contain_text("New order #WEB-1 for Ana Díaz")

        # It calls again every sound_repeat_seconds, and the highlight stays.
        page.clock.run_for("05:00")
        expect(board).to_have_attribute("data-sounds-played", "2")
        page.clock.run_for("10:00")
        expect(board).to_have_attribute("data-sounds-played", "4")
        expect(card).to_have_attribute("data-alerting", "true")

        # A colleague on another board accepts it: this one falls silent.
        colleague = open_board(chromium.new_context(), base, "manager1")
        expect(page.locator("#presence li")).to_have_text(["manager1", "staff1"], timeout=LIVE)
        colleague.locator('article[data-external-id="WEB-1"]').get_by_role("button", name="Accept", exact=True).click()
        moved = page.locator('[data-status="accepted"] article[data-external-id="WEB-1"]')
        expect(moved).to_be_visible(timeout=ARRIVES)
        expect(board).to_have_attribute("data-alerting", "false")
        expect(moved).to_have_attribute("data-alerting", "false")
        expect(page).to_have_title("acme one — Pregón")
        page.clock.run_for("20:00")
        expect(board).to_have_attribute("data-sounds-played", "4")
        assert_accessible(page, label="board with an accepted order")


def test_with_sound_off_for_the_store_the_title_and_highlight_still_call(server, world):
    store_settings(world.acme.tenant, sound_enabled=False)
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(), base, clock_at=datetime.now(tz=UTC))
        board = page.locator("#board")
        expect(board).to_have_attribute("data-sound", "off")
        expect(page.get_by_text("Sound is off for this store")).to_be_visible()
        expect(page.locator("#enable-sound")).to_have_count(0)
        in_other_session(create_order, world.acme.tenant, external_id="QUIET-1")
        expect(page.locator('article[data-external-id="QUIET-1"]')).to_have_attribute(
            "data-alerting", "true", timeout=ARRIVES
        )
        expect(page).to_have_title("(1) acme one — Pregón")
        page.clock.run_for(120_000)
        expect(board).to_have_attribute("data-sounds-played", "0")


# --- 2. order cards -------------------------------------------------------------------------
def test_a_card_shows_what_to_make_and_its_age_turns_amber_then_red_at_the_store_s_minutes(server, world):
    store_settings(world.acme.tenant, sla_warn_minutes=2, sla_late_minutes=3)
    in_other_session(
        create_order,
        world.acme.tenant,
        external_id="WEB-7",
        total="23.40",
        customer_name="Ana Díaz",
        line_items=LINE_ITEMS,
        notes="Ring twice",
    )
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(), base, clock_at=datetime.now(tz=UTC))
        card = page.locator('article[data-external-id="WEB-7"]')
        expect(card.locator(".customer")).to_have_text("Ana Díaz")
        expect(card).to_contain_text("€23.40")  # Intl, English: the currency before the amount
        expect(card.locator(".items li")).to_have_text(
            ["1 × Menú del día (primero: Gazpacho)sin cebolla", "1.5 × Pizza (size: L)", "2 × COLA-33"]
        )
        expect(card.locator(".item-note")).to_have_text(["sin cebolla"])
        expect(card.locator(".notes")).to_have_text("Ring twice")
        expect(card.get_by_role("button")).to_have_text(["Accept", "Cancel", "Send"])

        age = card.locator(".age")
        expect(age).to_have_text(re.compile(r"^0:0\d$"))
        expect(age).to_have_attribute("data-sla", "ok")
        page.clock.run_for("02:00")
        expect(age).to_have_text(re.compile(r"^2:0\d$"))
        expect(age).to_have_attribute("data-sla", "warn")
        assert age.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 241, 204)"  # --color-warn-bg
        page.clock.run_for("01:00")
        expect(age).to_have_attribute("data-sla", "late")
        assert age.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 226, 224)"  # --color-late-bg
        assert age.evaluate("e => getComputedStyle(e).color") == "rgb(140, 29, 24)"  # --color-late
        page.clock.run_for("58:00")
        expect(age).to_have_text(re.compile(r"^1:01:0\d$"))
        assert_accessible(page, label="board with a late order")


def test_the_next_step_is_a_labelled_action_for_every_status(server, world):
    order = in_other_session(create_order, world.acme.tenant, external_id="STEP-1")
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(), base)
        for action, column in (("Accept", "accepted"), ("Start", "preparing"), ("Ready", "ready")):
            card = page.locator('article[data-external-id="STEP-1"]')
            card.get_by_role("button", name=action, exact=True).click()
            expect(page.locator(f'[data-status="{column}"] article[data-external-id="STEP-1"]')).to_be_visible(
                timeout=ARRIVES
            )
        page.locator('article[data-external-id="STEP-1"]').get_by_role("button", name="Complete").click()
        expect(page.locator('article[data-external-id="STEP-1"]')).to_have_count(0, timeout=ARRIVES)
        expect(page.locator('#finished summary [data-count-of="completed"]')).to_have_text("1")
        # Recall brings a finished order back into view, and Hide puts it away.
        page.locator("#finished summary").click()
        page.get_by_role("button", name="Recall #STEP-1").click()
        recalled = page.locator('[data-status="recalled"] article[data-external-id="STEP-1"]')
        expect(recalled).to_be_visible()
        assert_accessible(page, label="board with a recalled order")
        recalled.get_by_role("button", name="Hide").click()
        expect(recalled).to_have_count(0)
    assert order.pk


def test_comments_are_on_the_board_after_a_reload(server, world):
    order = in_other_session(create_order, world.acme.tenant, external_id="TALK-1")
    in_other_session(add_comment, world.acme.tenant, order, world.acme.manager1, "before you came")
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(), base)
        card = page.locator('article[data-external-id="TALK-1"]')
        expect(card.locator(".comments li")).to_have_text(["manager1: before you came"])
        card.get_by_label("Comment").fill("two minutes")
        card.get_by_role("button", name="Send").click()
        expect(card.locator(".comments li")).to_have_text(
            ["manager1: before you came", "staff1: two minutes"], timeout=ARRIVES
        )
        page.reload()
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=LIVE)
        expect(page.locator('article[data-external-id="TALK-1"] .comments li')).to_have_text(
            ["manager1: before you came", "staff1: two minutes"]
        )


def test_cancel_asks_first_and_the_customer_reads_the_reason(server, world):
    in_other_session(create_order, world.acme.tenant, external_id="WEB-9", customer=world.acme.customer)
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        customer = sign_in(chromium.new_context(), base, "customer", PASSWORD)
        customer.goto(f"{base}/notifications/")
        expect(customer.locator("#bell")).to_have_attribute("data-state", "live", timeout=LIVE)

        page = open_board(chromium.new_context(), base)
        card = page.locator('[data-status="new"] article[data-external-id="WEB-9"]')
        dialog = page.get_by_role("dialog")
        card.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Cancel order #WEB-9?")
        assert_accessible(page, label="board, cancel dialog open")
        # Keeping it changes nothing.
        dialog.get_by_role("button", name="Keep order").click()
        expect(dialog).to_be_hidden()
        page.wait_for_timeout(500)
        expect(card).to_be_visible()

        card.get_by_role("button", name="Cancel").click()
        dialog.get_by_label("Reason (optional)").fill("Out of dough, sorry")
        dialog.get_by_role("button", name="Cancel order").click()
        expect(card).to_have_count(0, timeout=ARRIVES)
        expect(page.locator('#finished summary [data-count-of="cancelled"]')).to_have_text("1")
        expect(page).to_have_title("acme one — Pregón")

        # The customer hears it live, with the reason, and finds it in the inbox.
        expect(customer.locator(".toast")).to_contain_text("Reason: Out of dough, sorry", timeout=ARRIVES)
        customer.reload()
        expect(customer.locator("#inbox li").first).to_contain_text("Order WEB-9 is now Cancelled")
        expect(customer.locator("#inbox li").first).to_contain_text("Reason: Out of dough, sorry")

        # Recalled, the card says why.
        page.locator("#finished summary").click()
        page.get_by_role("button", name="Recall #WEB-9").click()
        expect(page.locator('[data-status="recalled"] .reason')).to_have_text("Reason: Out of dough, sorry")
        expect(page.locator('[data-status="recalled"] .final')).to_have_text("Cancelled")


# --- 3. connection state ----------------------------------------------------------------------
# Counts the sockets a page opens (each reconnect attempt is one).
COUNT_SOCKETS = """
window.__socketsOpened = 0;
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__socketsOpened += 1; }
};
"""


def seconds_to_retry(page) -> int:
    text = page.locator("#retry-countdown").text_content() or ""
    found = re.search(r"\d+", text)
    return int(found.group()) if found and page.locator("#retry-countdown").is_visible() else 0


def test_while_reconnecting_the_board_counts_down_and_can_retry_now(world):
    with browser() as chromium:
        context = chromium.new_context()
        context.add_init_script(COUNT_SOCKETS)
        with uvicorn_server(extra_env=SERVER_ENV) as first:
            port = first.port
            base = f"http://acme.localhost:{port}"
            page = open_board(context, base)
            expect(page.locator("#last-event")).to_contain_text("Last event")
        expect(page.locator("#connection")).to_have_attribute("data-state", "offline", timeout=LIVE)
        expect(page.locator("#retry-countdown")).to_have_text(re.compile(r"^Reconnecting in \d+ s$"))
        retry = page.get_by_role("button", name="Retry now")
        expect(retry).to_be_visible()
        assert_accessible(page, label="board, reconnecting")

        # Once the backoff has grown to several seconds, "Retry now" tries at once.
        deadline = time.monotonic() + 60
        while seconds_to_retry(page) < 5:
            assert time.monotonic() < deadline, "the backoff never grew to 5 s"
            page.wait_for_timeout(200)
        opened = page.evaluate("window.__socketsOpened")
        retry.click()
        page.wait_for_function(f"window.__socketsOpened > {opened}", timeout=2_000)

        in_other_session(create_order, world.acme.tenant, external_id="WHILE-DOWN")
        with uvicorn_server(extra_env=SERVER_ENV, port=port):
            # Pressed in the page, in one step: only if it is still waiting.
            page.evaluate(
                "() => { const b = document.getElementById('retry-now'); if (!b.hidden && !b.disabled) b.click(); }"
            )
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=40_000)
            expect(page.locator('article[data-external-id="WHILE-DOWN"]')).to_be_visible(timeout=ARRIVES)
            expect(retry).to_be_hidden()
            expect(page.locator("#retry-countdown")).to_be_hidden()
    connections.close_all()


# --- layout and accessibility -----------------------------------------------------------------
def test_the_board_fits_a_phone_with_one_column_at_a_time(server, world):
    long_name = "Hamburguesa" * 12
    order = in_other_session(
        create_order,
        world.acme.tenant,
        external_id="LONG-" + "9" * 60,
        customer_name="María José de la Santísima Trinidad Fernández-Villaverde",
        line_items=[{"name": long_name, "quantity": 2, "options": {"deep": {"er": ["x" * 90]}}}],
        notes="n" * 300,
    )
    accepted = in_other_session(create_order, world.acme.tenant, external_id="ACC-1")
    in_other_session(change_status, world.acme.tenant, accepted, "accepted")
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        page = open_board(chromium.new_context(viewport={"width": 390, "height": 844}), base)
        new_card = page.locator(f'article[data-external-id="{order.external_id}"]')
        accepted_card = page.locator('article[data-external-id="ACC-1"]')
        expect(new_card).to_be_visible()
        expect(accepted_card).to_be_hidden()  # another column: behind the switch
        assert no_horizontal_scroll(page)
        box = new_card.get_by_role("button", name="Accept").bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        assert_accessible(page, label="board at 390 px")

        page.locator(".column-switch").get_by_role("button", name=re.compile("^Accepted")).click()
        expect(accepted_card).to_be_visible()
        expect(new_card).to_be_hidden()
        assert no_horizontal_scroll(page)

        page.locator(".column-switch").get_by_role("button", name=re.compile("^New")).click()
        new_card.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        assert no_horizontal_scroll(page)


def test_the_empty_board_and_the_store_list_are_accessible(server, world):
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        for viewport in ({"width": 1366, "height": 900}, {"width": 390, "height": 844}):
            page = open_board(chromium.new_context(viewport=viewport), base)
            expect(page.locator('[data-status="new"] .empty')).to_have_text("No orders")
            assert_accessible(page, label=f"empty board at {viewport['width']} px")
            assert no_horizontal_scroll(page)
            page.goto(f"{base}/stores/")
            expect(page.get_by_role("link", name=re.compile("acme one"))).to_be_visible()
            assert_accessible(page, label=f"store list at {viewport['width']} px")
            assert no_horizontal_scroll(page)
