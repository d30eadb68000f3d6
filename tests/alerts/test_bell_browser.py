"""The bell in a real browser: toast and badge live, and every tab agrees."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD, create_order, notify

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
        staff.locator('article[data-external-id="WEB-2"]').get_by_role("button", name="Accept", exact=True).click()

        # Both tabs: a toast and a badge of 1, without reload.
        for tab in (home, inbox):
            expect(tab.locator(".toast")).to_contain_text("Order WEB-2 is now Accepted", timeout=10_000)
            expect(tab.locator("#bell-count")).to_have_text("1")
        expect(inbox.locator("#inbox li.unread")).to_have_count(1)

        inbox.get_by_role("button", name="Mark all read").click()
        expect(home.locator("#bell-count")).to_be_hidden(timeout=10_000)
        expect(home.locator("#bell-count")).to_have_attribute("data-count", "0")
        expect(inbox.locator("#inbox li.read")).to_have_count(1)


class BellSockets:
    """Stands between a page and its notifications socket (Playwright's
    WebSocket routing): passes it through to the server, or takes it away.

    `away()` closes the socket as a server restart would (1012); while away,
    the page's reconnects open but hear nothing, as on a dead connection.
    `back()` closes that one too, and the page's next reconnect reaches the
    server again."""

    def __init__(self, page, *, passing: bool = True):
        self.page = page
        self.urls: list[str] = []
        self.current = None
        self.passing = passing
        page.route_web_socket(lambda url: "/ws/notifications/" in url, self._route)

    def _route(self, socket) -> None:
        self.urls.append(socket.url)
        if self.passing:
            socket.connect_to_server()
        self.current = socket

    def away(self) -> None:
        self.passing = False
        self._drop()
        wait_for(self.page, lambda: self.current is not None, "a reconnect while away")

    def back(self) -> None:
        wait_for(self.page, lambda: self.current is not None, "the page's socket")
        self.passing = True
        self._drop()
        wait_for(self.page, lambda: self.current is not None, "a reconnect to the server")

    def _drop(self) -> None:
        dropped, self.current = self.current, None
        dropped.close(code=1012, reason="service restart")


def wait_for(page, predicate, what: str, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):  # route handlers run while Playwright waits
        if predicate():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def read_elsewhere(tenant, user, notification) -> None:
    """What another tab or device does: mark read through the service (the
    `notifications.read` push goes to the sockets open at that moment)."""
    from django_tenants.utils import tenant_context

    from alerts.services import notifications_mark_read

    with tenant_context(tenant):
        notifications_mark_read(user=user, ids=[notification.pk])


def inbox_page_request(url: str) -> bool:
    return "/api/notifications?" in url


def shown_ids(page) -> list[int]:
    return page.locator("#inbox li").evaluate_all("(items) => items.map((li) => Number(li.dataset.notificationId))")


def test_the_open_inbox_shows_every_alert_that_came_while_its_socket_was_away(product_server, world):
    """bell.js remembered the ids of `notifications.unread` and then dropped
    the same ids from `notifications.missed` (the same connect sends both):
    the list stayed short of the badge. What was read meanwhile came in a
    `notifications.read` this tab never got."""
    acme = world.acme
    before = [notify(acme.tenant, acme.customer, f"Before {n}") for n in range(1, 4)]
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        context = chromium.new_context()
        inbox = sign_in(context, base, "customer", PASSWORD)
        sockets = BellSockets(inbox)
        inbox.goto(f"{base}/notifications/")
        expect(inbox.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(inbox.locator("#bell-count")).to_have_text("3")
        expect(inbox.locator("#inbox li.unread")).to_have_count(3)

        sockets.away()
        # Meanwhile, two alerts come and another tab reads one. Playwright
        # keeps an event loop in this thread, so the ORM runs in another one.
        with ThreadPoolExecutor(1) as elsewhere:
            during = [
                elsewhere.submit(notify, acme.tenant, acme.customer, f"While away {n}").result() for n in range(1, 3)
            ]
            elsewhere.submit(read_elsewhere, acme.tenant, acme.customer, before[0]).result()
            elsewhere.submit(connections.close_all).result()
        # Hold the page's reloads of the inbox, to see what the socket alone brings.
        held = []
        inbox.route(inbox_page_request, lambda route: held.append(route))
        sockets.back()

        assert sockets.urls[-1].endswith(f"/ws/notifications/?after={before[-1].pk}")
        expect(inbox.locator("#bell-count")).to_have_text("4")  # 3 + 2 - 1
        for notification in during:
            expect(inbox.locator(f'#inbox li[data-notification-id="{notification.pk}"]')).to_have_class("unread")
        assert shown_ids(inbox) == sorted((n.pk for n in before + during), reverse=True)  # newest first

        wait_for(inbox, lambda: held, "the inbox to be read again after the reconnect")
        for route in held:
            route.continue_()
        inbox.unroute(inbox_page_request)
        expect(inbox.locator(f'#inbox li[data-notification-id="{before[0].pk}"]')).to_have_class("read")
        expect(inbox.locator("#inbox li.unread")).to_have_count(4)  # as many as the badge says
        assert shown_ids(inbox) == sorted((n.pk for n in before + during), reverse=True)


def test_the_open_inbox_shows_an_alert_made_between_its_page_load_and_its_socket(product_server, world):
    """The page reads the inbox over HTTP, and its socket connects a moment
    later: an alert committed in between is only in the socket's unread
    snapshot, which the inbox did not list."""
    acme = world.acme
    before = notify(acme.tenant, acme.customer, "Before")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        context = chromium.new_context()
        inbox = sign_in(context, base, "customer", PASSWORD)
        sockets = BellSockets(inbox, passing=False)
        inbox.goto(f"{base}/notifications/")
        expect(inbox.locator("#inbox li.unread")).to_have_count(1)

        with ThreadPoolExecutor(1) as elsewhere:
            between = elsewhere.submit(notify, acme.tenant, acme.customer, "Between").result()
            elsewhere.submit(connections.close_all).result()
        sockets.back()

        assert sockets.urls[-1].endswith("/ws/notifications/")  # a first connect: no ?after=
        expect(inbox.locator("#bell-count")).to_have_text("2")
        expect(inbox.locator("#inbox li.unread")).to_have_count(2)  # as many as the badge says
        assert shown_ids(inbox) == [between.pk, before.pk]


def test_the_bells_accessible_name_says_how_many_are_new(product_server, world):
    """The bell is a button (it opens the popover), its badge counts what
    is new (unseen): opening the popover clears it; reading does too."""
    acme = world.acme
    for n in range(3):
        notify(acme.tenant, acme.customer, f"Alert {n}")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(), base, "customer", PASSWORD)
        bell = page.get_by_role("button", name="Notifications, 3 new")
        expect(bell).to_be_visible(timeout=10_000)
        expect(bell.locator("svg.icon")).to_be_visible()  # an SVG, not an emoji
        with ThreadPoolExecutor(1) as elsewhere:
            elsewhere.submit(notify, acme.tenant, acme.customer, "One more").result()
            elsewhere.submit(connections.close_all).result()
        expect(page.locator("#bell")).to_have_accessible_name("Notifications, 4 new", timeout=10_000)
        page.locator("#bell").click()
        expect(page.locator("#bell")).to_have_accessible_name("Notifications", timeout=10_000)
        page.keyboard.press("Escape")  # what comes while the popover is open is seen at once
        with ThreadPoolExecutor(1) as elsewhere:
            elsewhere.submit(notify, acme.tenant, acme.customer, "After looking").result()
            elsewhere.submit(connections.close_all).result()
        expect(page.locator("#bell")).to_have_accessible_name("Notifications, 1 new", timeout=10_000)
        page.goto(f"{base}/notifications/")
        page.get_by_role("button", name="Mark all read").click()
        expect(page.locator("#bell")).to_have_accessible_name("Notifications", timeout=10_000)
