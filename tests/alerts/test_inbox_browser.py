"""The bell's popover, toasts and the inbox page in a real browser: seen →
read → archived, synced across two tabs; cursor paging while alerts arrive;
keyboard use; empty states; axe in every state.

Set PREGON_SCREENSHOTS=<folder> to keep PNGs of the states at 1366×900
and 390×844."""

import os
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser import DESK, PHONE, assert_accessible, browser, elsewhere, sign_in
from tests.factories import PASSWORD, notify

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = 10_000  # ms: a socket connects, a frame arrives


def shown_ids(page, selector="#inbox li") -> list[int]:
    return page.locator(selector).evaluate_all("(items) => items.map((li) => Number(li.dataset.notificationId))")


def screenshot(page, name: str) -> None:
    folder = os.environ.get("PREGON_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False, animations="disabled")


def stored(tenant, user, pk):
    from alerts.models import Notification

    with tenant_context(tenant):
        return Notification.objects.get(recipient=user, pk=pk)


def archive(tenant, user, ids):
    from alerts.services import notifications_archive

    with tenant_context(tenant):
        notifications_archive(user=user, ids=ids)


def live(page):
    expect(page.locator("#bell")).to_have_attribute("data-state", "live", timeout=LIVE)


def test_seen_read_archived_in_one_tab_shows_in_the_other(product_server, world):
    acme, globex = world.acme, world.globex
    first, second, third = (notify(acme.tenant, acme.customer, f"Acme alert {n}") for n in (1, 2, 3))
    # The other tenant's customer has the same user id and notification ids: never shown here.
    for n in (1, 2, 3):
        notify(globex.tenant, globex.customer, f"Globex alert {n}")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        context = chromium.new_context(viewport=DESK)
        a = sign_in(context, base, "customer", PASSWORD)
        b = context.new_page()
        b.goto(f"{base}/notifications/")
        for tab in (a, b):
            live(tab)
            expect(tab.locator("#bell-count")).to_have_text("3")
        expect(b.locator("#inbox li.unread")).to_have_count(3)
        expect(b.locator("#inbox")).not_to_contain_text("Globex")

        # Seen: opening the popover in A clears the badge in both tabs.
        a.locator("#bell").click()
        expect(a.locator("#bell")).to_have_attribute("aria-expanded", "true")
        expect(a.locator("#bell-list li")).to_have_count(3)
        assert shown_ids(a, "#bell-list li") == [third.pk, second.pk, first.pk]
        expect(a.locator("#bell-popover")).not_to_contain_text("Globex")
        expect(a.locator("#bell-list li.unread")).to_have_count(3)  # seen is not read
        expect(a.locator("#bell-list time").first).to_have_text("now")
        for tab in (a, b):
            expect(tab.locator("#bell-count")).to_be_hidden(timeout=LIVE)
            expect(tab.locator("#bell")).to_have_accessible_name("Notifications")
        screenshot(a, "popover-desk")
        assert_accessible(a, label="popover open")
        assert elsewhere(stored, acme.tenant, acme.customer, first.pk).seen_at is not None
        assert elsewhere(stored, globex.tenant, globex.customer, first.pk).seen_at is None

        # Read: clicking an item in A marks it read (B's list says so) and follows its link.
        a.locator(f'#bell-list li[data-notification-id="{second.pk}"] a').click()
        a.wait_for_url(f"{base}/notifications/")  # an alert without a url links to the inbox
        expect(b.locator(f'#inbox li[data-notification-id="{second.pk}"]')).to_have_class("read", timeout=LIVE)
        expect(b.locator("#inbox li.unread")).to_have_count(2)
        assert elsewhere(stored, globex.tenant, globex.customer, second.pk).read_at is None

        # Archived: archiving in A's inbox takes it out of B's All tab; B's Archived tab has it.
        live(a)
        a.locator(f'#inbox li[data-notification-id="{second.pk}"]').get_by_role("button", name="Archive").click()
        expect(b.locator(f'#inbox li[data-notification-id="{second.pk}"]')).to_have_count(0, timeout=LIVE)
        expect(a.locator(f'#inbox li[data-notification-id="{second.pk}"]')).to_have_count(0)
        # The focus went to the next item's Archive button, not to the top of the page.
        expect(a.locator(f'#inbox li[data-notification-id="{first.pk}"] button.archive')).to_be_focused()
        b.get_by_role("link", name="Archived").click()
        expect(b.get_by_role("link", name="Archived")).to_have_attribute("aria-current", "page")
        assert b.url.endswith("?box=archived")
        expect(b.locator("#inbox li")).to_have_count(1)
        expect(b.locator(f'#inbox li[data-notification-id="{second.pk}"]')).to_have_class("read")
        assert_accessible(b, label="archived tab")

        # Archived while B looks at its Archived tab: it appears there at once.
        a.locator(f'#inbox li[data-notification-id="{third.pk}"]').get_by_role("button", name="Archive").click()
        expect(b.locator(f'#inbox li[data-notification-id="{third.pk}"]')).to_be_visible(timeout=LIVE)
        assert shown_ids(b) == [third.pk, second.pk]
        # And unarchived from B: back in A's All tab, in its place.
        b.locator(f'#inbox li[data-notification-id="{third.pk}"]').get_by_role("button", name="Unarchive").click()
        expect(b.locator(f'#inbox li[data-notification-id="{third.pk}"]')).to_have_count(0, timeout=LIVE)
        expect(a.locator(f'#inbox li[data-notification-id="{third.pk}"]')).to_be_visible(timeout=LIVE)
        assert shown_ids(a) == [third.pk, first.pk]

        # Archive all read (A): the read ones leave; the unread one stays.
        a.get_by_role("button", name="Mark all read").click()
        expect(a.locator("#inbox li.unread")).to_have_count(0, timeout=LIVE)
        a.get_by_role("button", name="Archive all read").click()
        expect(a.locator("#inbox li")).to_have_count(0, timeout=LIVE)
        expect(a.locator('[data-empty="all"]')).to_be_visible()
        expect(b.locator("#inbox li")).to_have_count(3, timeout=LIVE)  # B is on Archived


def test_load_more_pages_120_alerts_once_each_while_new_ones_arrive(product_server, world):
    acme = world.acme
    old = [notify(acme.tenant, acme.customer, f"Old {n}").pk for n in range(120)]
    notify(world.globex.tenant, world.globex.customer, "Globex only")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.goto(f"{base}/notifications/")
        live(page)
        expect(page.locator("#inbox li")).to_have_count(20)
        more = page.get_by_role("button", name="Load more")
        new = []
        clicks = 0
        while more.is_visible():
            # Someone acts meanwhile: a new alert arrives between two pages.
            new.append(elsewhere(notify, acme.tenant, acme.customer, f"New {len(new)}").pk)
            expect(page.locator(f'#inbox li[data-notification-id="{new[-1]}"]')).to_be_visible(timeout=LIVE)
            count = page.locator("#inbox li").count()
            more.click()
            expect(page.locator("#inbox li")).not_to_have_count(count, timeout=LIVE)
            clicks += 1
            assert clicks < 20, "load more never ends"
        ids = shown_ids(page)
        assert len(ids) == len(set(ids)), "an alert shown twice"
        assert ids == sorted(old + new, reverse=True)  # every one, newest first, the new at the top
        assert ids[: len(new)] == sorted(new, reverse=True)
        assert clicks == 5  # 120 in pages of 20: the first, then five more
        expect(page.locator("#inbox")).not_to_contain_text("Globex")
        expect(page.locator("#inbox-status")).to_have_text("20 more loaded.")
        assert_accessible(page, label="inbox read to the end")


def test_toasts_link_to_their_alert_close_and_stack_at_most_three(product_server, world):
    acme = world.acme
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        live(page)
        made = [
            elsewhere(
                notify,
                acme.tenant,
                acme.customer,
                f"Toast {n}",
                body=f"Body {n}",
                url=f"/notifications/?box=unread&n={n}",
            )
            for n in range(4)
        ]
        toasts = page.locator("#toasts .toast")
        expect(toasts).to_have_count(3, timeout=LIVE)
        expect(page.locator(f'.toast[data-notification-id="{made[-1].pk}"]')).to_be_visible(timeout=LIVE)
        assert [int(t) for t in toasts.evaluate_all("(ts) => ts.map((t) => t.dataset.notificationId)")] == [
            n.pk for n in made[1:]
        ]  # the oldest went
        expect(toasts.first.get_by_role("link")).to_have_attribute("href", "/notifications/?box=unread&n=1")
        # axe measures contrast as drawn: not halfway through the slide-in's fade.
        page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished)).then(() => true)")
        screenshot(page, "toasts-desk")
        assert_accessible(page, label="three toasts")

        page.get_by_role("button", name="Dismiss: Toast 2").click()
        expect(toasts).to_have_count(2)
        expect(page.locator(f'.toast[data-notification-id="{made[2].pk}"]')).to_have_count(0)

        page.get_by_role("link", name="Toast 3").click()
        page.wait_for_url(f"{base}/notifications/?box=unread&n=3")
        expect(page.get_by_role("link", name="Unread")).to_have_attribute("aria-current", "page")
        expect(page.locator(f'#inbox li[data-notification-id="{made[3].pk}"]')).to_have_count(0, timeout=LIVE)
        assert elsewhere(stored, acme.tenant, acme.customer, made[3].pk).read_at is not None

        page.set_viewport_size(PHONE)
        page.emulate_media(reduced_motion="reduce")
        elsewhere(notify, acme.tenant, acme.customer, "On a phone", body="A toast that fits.")
        expect(page.locator(".toast")).to_have_count(1, timeout=LIVE)
        assert page.locator(".toast").evaluate("(t) => getComputedStyle(t).animationName") == "none"
        screenshot(page, "toast-phone")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.emulate_media(reduced_motion="no-preference")
        elsewhere(notify, acme.tenant, acme.customer, "Moving")
        expect(page.locator(".toast")).to_have_count(2, timeout=LIVE)
        assert page.locator(".toast").last.evaluate("(t) => getComputedStyle(t).animationName") == "toast-in"

        # A long comment or reason shows its start: three toasts of them
        # never cover the phone (an outside test saw two fill its screen).
        elsewhere(notify, acme.tenant, acme.customer, "Long " * 80, body="Un comentario muy largo. " * 80)
        expect(page.locator(".toast")).to_have_count(3, timeout=LIVE)
        height = page.locator(".toast").last.evaluate("(t) => t.getBoundingClientRect().height")
        assert height <= 160, height


def test_the_popover_by_keyboard_and_as_a_sheet_on_a_phone(product_server, world):
    acme = world.acme
    for n in range(12):
        notify(acme.tenant, acme.customer, f"Alert {n}", body="Your order changed." if n % 2 else "")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        live(page)
        bell = page.locator("#bell")
        popover = page.locator("#bell-popover")
        expect(bell).to_have_accessible_name("Notifications, 12 new")

        bell.focus()
        page.keyboard.press("Enter")
        expect(bell).to_have_attribute("aria-expanded", "true")
        expect(popover).to_be_focused()
        expect(page.locator("#bell-list li")).to_have_count(10)  # the latest 10
        expect(popover.get_by_role("link", name="See all")).to_have_attribute("href", "/notifications/")
        page.keyboard.press("Tab")
        expect(popover.get_by_role("button", name="Mark all read")).to_be_focused()
        page.keyboard.press("Escape")
        expect(popover).to_be_hidden()
        expect(bell).to_have_attribute("aria-expanded", "false")
        expect(bell).to_be_focused()

        # Space opens it too; Tab past its last link closes it.
        page.keyboard.press(" ")
        expect(popover).to_be_visible()
        page.locator("#bell-popover .popover-foot a").focus()
        page.keyboard.press("Tab")
        expect(popover).to_be_hidden()

        # A click elsewhere closes it; "Mark all read" in it reads everything.
        bell.click()
        expect(popover).to_be_visible()
        page.locator("main").click(position={"x": 5, "y": 5})
        expect(popover).to_be_hidden()
        bell.click()
        popover.get_by_role("button", name="Mark all read").click()
        expect(page.locator("#bell-list li.unread")).to_have_count(0, timeout=LIVE)
        expect(popover.get_by_role("button", name="Mark all read")).to_be_hidden()

        page.set_viewport_size(PHONE)
        box = popover.bounding_box()
        assert box["x"] == 0 and box["width"] == PHONE["width"]
        assert abs(box["y"] + box["height"] - PHONE["height"]) <= 1  # a sheet from the bottom
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, "popover-phone")
        assert_accessible(page, label="popover as a sheet")
        popover.get_by_role("button", name="Close").click()
        expect(popover).to_be_hidden()
        expect(bell).to_be_focused()


def test_relative_times_speak_the_pages_language_and_move_on(product_server, world):
    acme = world.acme
    notify(acme.tenant, acme.customer, "Un aviso")
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        context = chromium.new_context(viewport=DESK, locale="es-ES")
        context.set_extra_http_headers({"Accept-Language": "es"})
        page = sign_in(context, base, "customer", PASSWORD)
        page.clock.install()
        page.goto(f"{base}/notifications/")
        assert page.evaluate("document.documentElement.lang") == "es"
        when = page.locator("#inbox li time")
        expect(when).to_contain_text("ahora")
        page.clock.fast_forward("02:05")
        expect(when).to_contain_text("hace 2 min")


def test_every_tab_and_the_popover_say_when_they_are_empty(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    notify(world.globex.tenant, world.globex.customer, "Globex only")  # another tenant's user 104
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        live(page)
        page.locator("#bell").click()
        expect(page.locator("#bell-empty")).to_be_visible()
        assert_accessible(page, label="popover, empty")
        page.keyboard.press("Escape")
        page.goto(f"{base}/notifications/")
        for tab, words in (
            ("All", "No notifications yet."),
            ("Unread", "You are all caught up."),
            ("Archived", "Nothing archived."),
        ):
            page.get_by_role("link", name=tab, exact=True).click()
            empty = page.locator(".empty:not([hidden])")
            expect(empty).to_have_count(1)
            expect(empty).to_contain_text(words)
            expect(empty.locator("svg.icon")).to_be_visible()
            expect(page.get_by_role("button", name="Load more")).to_be_hidden()
            expect(page.get_by_role("button", name="Mark all read")).to_be_hidden()  # nothing to act on
            expect(page.get_by_role("button", name="Archive all read")).to_be_hidden()
            for size, viewport in (("desk", DESK), ("phone", PHONE)):
                page.set_viewport_size(viewport)
                screenshot(page, f"inbox-empty-{tab.lower()}-{size}")
                assert_accessible(page, label=f"{tab}, empty, {size}")
            page.set_viewport_size(DESK)


def test_with_its_socket_away_a_tab_acts_over_http_and_shows_it_at_once(product_server, world):
    """No socket (a proxy that drops it): archive, read and seen go over HTTP;
    the answer stands in for the frame this tab cannot hear."""
    acme = world.acme
    older, newer = (notify(acme.tenant, acme.customer, f"Offline {n}") for n in (1, 2))
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.route_web_socket(lambda url: "/ws/notifications/" in url, lambda socket: socket.close(code=1012))
        page.goto(f"{base}/notifications/")
        expect(page.locator("#inbox li")).to_have_count(2)
        expect(page.locator("#bell")).not_to_have_attribute("data-state", "live")

        page.locator(f'#inbox li[data-notification-id="{newer.pk}"]').get_by_role("button", name="Archive").click()
        expect(page.locator(f'#inbox li[data-notification-id="{newer.pk}"]')).to_have_count(0)
        page.locator(f'#inbox li[data-notification-id="{older.pk}"]').get_by_role("button", name="Mark read").click()
        expect(page.locator(f'#inbox li[data-notification-id="{older.pk}"]')).to_have_class("read")
        page.locator("#bell").click()
        expect(page.locator("#bell-list li")).to_have_count(1)

        assert elsewhere(stored, acme.tenant, acme.customer, newer.pk).archived_at is not None
        assert elsewhere(stored, acme.tenant, acme.customer, older.pk).read_at is not None
        assert elsewhere(stored, acme.tenant, acme.customer, older.pk).seen_at is not None
