"""Web Push in Chromium, as far as headless Chromium allows.

Headless Chromium has no push service: `pushManager.subscribe()` rejects
with "AbortError: Registration failed - permission denied" even with the
notifications permission granted (docs/notifications.md, "Web Push"). So:

- the real thing up to there: the bell's button, the permission, the
  service worker registered at /sw.js with the site as its scope, and the
  error the page shows;
- then the browser's push service replaced, in the page only, by a
  subscription of the local push service (tests/push_service.py): the
  page posts it, the server stores it, the server's own job loop pushes a
  status change to it (encrypted, VAPID-signed), the stand-in decrypts
  it, and the decrypted payload is handed to the real service worker
  through the DevTools protocol (ServiceWorker.deliverPushMessage), which
  shows the notification.

What cannot be tested headless: a push arriving through a real push
service, and a click on the shown notification (there is no notification
on screen to click; a synthetic `notificationclick` may not open windows).
"""

import contextlib
import json
import os
import time
from pathlib import Path

import pytest
from django.db import connections
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from alerts.models import PushDevice
from platform_core import vapid
from tenants.models import Tenant
from tests.browser import DESK, PHONE, assert_accessible, browser, elsewhere, sign_in
from tests.factories import PASSWORD, change_status, create_order
from tests.servers import uvicorn_server
from ws import groups
from ws.occupancy import groups_with_members

pytestmark = pytest.mark.django_db(transaction=True)

# The page's push service, replaced: `subscribe()` answers the local push
# service's subscription (as a browser with one would), kept per origin.
FAKE_PUSH_SERVICE = """
(() => {
  const subscription = %s;
  const stored = () => localStorage.getItem("pregon-test-subscribed");
  const bytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length %% 4)) %% 4)), (c) => c.charCodeAt(0)).buffer;
  };
  const made = (key) => ({
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: bytes(key) },
    toJSON: () => subscription,
    unsubscribe: async () => { localStorage.removeItem("pregon-test-subscribed"); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    localStorage.setItem("pregon-test-subscribed", options.applicationServerKey);
    return made(options.applicationServerKey);
  };
  PushManager.prototype.getSubscription = async function () {
    return stored() ? made(stored()) : null;
  };
})();
"""


@contextlib.contextmanager
def push_server(**extra):
    with uvicorn_server(extra_env={"TENANT_CACHE_SECONDS": "0", **extra}) as server:
        yield server
    connections.close_all()


@pytest.fixture
def keys():
    return vapid.generate()


@pytest.fixture
def server(world, push_stand_in, keys):
    private, _public = keys
    with push_server(
        VAPID_PRIVATE_KEY=private,
        VAPID_SUBJECT="mailto:ops@pregon.test",
        WEB_PUSH_HOSTS=f"fcm.googleapis.com,{push_stand_in.allowed_host}",
        JOBS_POLL_SECONDS="0.2",
    ) as server:
        yield server


def customer_page(chromium, base: str, *, viewport=DESK, fake=None):
    context = chromium.new_context(viewport=viewport)
    context.grant_permissions(["notifications"], origin=base)
    if fake is not None:
        context.add_init_script(FAKE_PUSH_SERVICE % json.dumps(fake.json()))
    return context, sign_in(context, base, "customer", PASSWORD)


def open_bell(page):
    expect(page.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)
    page.click("#bell")
    expect(page.locator("#bell-push")).to_be_visible(timeout=10_000)


def devices(world) -> list[tuple[int, str]]:
    def read():
        with tenant_context(world.acme.tenant):
            return list(PushDevice.objects.values_list("user_id", "endpoint"))

    return elsewhere(read)


def screenshot(page, name: str) -> None:
    folder = os.environ.get("PREGON_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"push-{name}.png"), full_page=True)


def check_both_sizes(page, name: str) -> None:
    for size, viewport in (("desk", DESK), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        screenshot(page, f"{name}-{size}")
        assert_accessible(page, label=f"{name} ({size})")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} ({size}) scrolls sideways by {overflow}px"


def test_the_service_worker_registers_and_headless_chromium_refuses_to_subscribe(world, server):
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        _context, page = customer_page(chromium, base)
        open_bell(page)
        toggle = page.get_by_role("button", name="Enable notifications on this device")
        expect(toggle).to_be_visible()
        check_both_sizes(page, "enable")
        toggle.click()
        state = page.locator("#bell-push-state")
        expect(state).to_have_text(
            "Could not turn on notifications on this device: Registration failed - permission denied",
            timeout=10_000,
        )
        expect(page.locator("#bell-push")).to_have_attribute("data-state", "error")
        registration = page.evaluate(
            """navigator.serviceWorker.getRegistration("/").then((r) => r && {
                 scope: r.scope, script: (r.active || r.waiting || r.installing).scriptURL })"""
        )
        assert registration == {"scope": f"{base}/", "script": f"{base}/sw.js"}
        assert page.evaluate("Notification.permission") == "granted"
        check_both_sizes(page, "refused")
    assert devices(world) == []


def wait_until(condition, what: str, timeout: float = 15, *, page=None):
    """Poll `condition`; with a `page`, Playwright's events keep arriving meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


def test_the_page_stores_its_subscription_and_a_status_change_reaches_the_service_worker(
    world, server, push_stand_in, keys
):
    _private, public = keys
    fake = push_stand_in.subscribe(public)
    order = create_order(world.acme.tenant, external_id="WEB-7", customer=world.acme.customer)
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        context, page = customer_page(chromium, base, fake=fake)
        open_bell(page)
        page.get_by_role("button", name="Enable notifications on this device").click()
        expect(page.locator("#bell-push-state")).to_have_text("Notifications on for this device.", timeout=10_000)
        expect(page.get_by_role("button", name="Turn off")).to_be_visible()
        check_both_sizes(page, "on")
        assert devices(world) == [(world.acme.customer.pk, fake.endpoint)]

        # The tab closes: nobody is online, the push goes at once.
        page.close()
        group = groups.user_notifications(world.acme.tenant, world.acme.customer.pk)
        wait_until(lambda: not elsewhere(groups_with_members, [group]), "the customer's socket to close")
        elsewhere(change_status, world.acme.tenant, order, "accepted")
        wait_until(lambda: push_stand_in.delivered(fake), "the server's job loop to push")
        [payload] = push_stand_in.delivered(fake)
        assert payload["title"] == "Order WEB-7 is now Accepted"
        assert payload["url"].endswith(f"/orders/{order.pk}/")

        # What the push service would hand the browser, to the real worker.
        page = context.new_page()
        page.goto(f"{base}/")
        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        wait_until(lambda: registrations, "the service worker's registration", page=page)
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": base, "registrationId": registrations[0]["registrationId"], "data": json.dumps(payload)},
        )
        shown = []
        wait_until(
            lambda: (
                shown.extend(
                    page.evaluate(
                        """navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((list) =>
                         list.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data, icon: n.icon})))"""
                    )
                )
                or shown
            ),
            "the notification",
            page=page,
        )
        assert shown == [
            {
                "title": "Order WEB-7 is now Accepted",
                "body": "",
                "tag": f"order-{order.pk}",
                "data": {"id": payload["id"], "url": f"{base}/orders/{order.pk}/"},
                "icon": f"{base}/static/alerts/push-icon.png",
            }
        ]

        # Off again: the device is forgotten.
        open_bell(page)
        page.get_by_role("button", name="Turn off").click()
        expect(page.get_by_role("button", name="Enable notifications on this device")).to_be_visible(timeout=10_000)
        assert devices(world) == []


def test_signing_out_forgets_this_device(world, server, push_stand_in, keys):
    fake = push_stand_in.subscribe(keys[1])
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        _context, page = customer_page(chromium, base, fake=fake)
        open_bell(page)
        page.get_by_role("button", name="Enable notifications on this device").click()
        expect(page.locator("#bell-push-state")).to_have_text("Notifications on for this device.", timeout=10_000)
        assert len(devices(world)) == 1
        page.get_by_role("button", name="Sign out customer").click()
        page.wait_for_url(f"{base}/accounts/login/")
    assert devices(world) == []


def test_without_vapid_keys_the_bell_says_push_is_not_set_up(world):
    with push_server(VAPID_PRIVATE_KEY="") as server, browser() as chromium:
        base = f"http://acme.localhost:{server.port}"
        _context, page = customer_page(chromium, base)
        open_bell(page)
        expect(page.locator("#bell-push-state")).to_have_text(
            "Notifications on this device are not available: this site has not set up Web Push."
        )
        expect(page.locator("#bell-push-toggle")).to_be_hidden()
        check_both_sizes(page, "unavailable")


def test_the_push_section_of_a_spanish_tenant_is_accessible(world, server):
    Tenant.objects.filter(pk=world.acme.tenant.pk).update(language="es")
    base = f"http://acme.localhost:{server.port}"
    with browser() as chromium:
        _context, page = customer_page(chromium, base)
        open_bell(page)
        toggle = page.locator("#bell-push-toggle")
        expect(toggle).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "es"
        check_both_sizes(page, "enable-es")


def test_a_notification_click_never_leaves_the_site(world, server):
    """The service worker's `targetUrl`, run in Chromium on the tenant's
    page: whatever a payload's url says, the click opens a page of this
    site (an outside test found "//evil.com/x" left it)."""
    base = f"http://acme.localhost:{server.port}"
    source = (Path(__file__).resolve().parents[2] / "alerts/static/alerts/sw.js").read_text()
    target_url = source[source.index("function targetUrl") : source.index("function payloadOf")]
    urls = [
        "/orders/1/",
        "http://acme.example.com:8000/orders/1/?a=1#x",
        "//evil.test/x",
        f"{base}//evil.test/x",
        "/\\\\evil.test/x",
        "javascript:alert(1)",
        "https://evil.test/orders/1/",
        5,
        None,
    ]
    with browser() as chromium:
        page = chromium.new_context(viewport=DESK).new_page()
        page.goto(f"{base}/accounts/login/")
        opened = page.evaluate(f"(urls) => {{ {target_url}; return urls.map((url) => targetUrl({{ url }})); }}", urls)
    assert all(url.startswith(f"{base}/") for url in opened), opened
    assert opened[:3] == [f"{base}/orders/1/", f"{base}/orders/1/?a=1#x", f"{base}/x"]
