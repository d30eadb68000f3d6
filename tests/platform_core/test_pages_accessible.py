"""Every page, as the people who see it, at a desk and on a phone: axe-core
finds no serious or critical violation, and nothing scrolls sideways.

`PAGES` is the table: one row per (role, page, state). A page added to the
product gets a row here. A row whose page is known to fail carries
`xfail(strict=True)` with the reason, so it turns into a failure the day
it is fixed and the mark must go.

Set PREGON_SCREENSHOTS=<folder> to keep a PNG of every page at both sizes.
"""

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connections
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import tenant_context

from platform_core import vapid
from tests.browser import assert_accessible, browser, sign_in
from tests.factories import PASSWORD, World, add_comment, change_status, create_order, notify
from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desk": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class Page:
    """A page as `role` (a username of the cast, or None: signed out) sees it
    on `host`. `path` may be a function of the world (a link with a token);
    `prepare` writes what the state needs before the visit; `ready` is a
    selector the page shows once its scripts have filled it in; `act` does
    what a person does to reach the state (open the bell's popover), and
    `ready` is waited for after it."""

    name: str
    role: str | None
    path: str | Callable[[World], str]
    host: str = "acme.localhost"
    status: int = 200
    prepare: Callable[[World], None] | None = None
    ready: str | None = None
    deployed: bool = False  # served with DEBUG off (Django's own 404 page otherwise)
    act: Callable | None = None
    marks: tuple = field(default=())


def reset_link(world: World) -> str:
    user = world.acme.customer
    with tenant_context(world.acme.tenant):
        token = default_token_generator.make_token(user)
    return f"/accounts/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/{token}/"


def some_notifications(world: World) -> None:
    read = notify(world.acme.tenant, world.acme.customer, "Your order is ready", body="Pick it up at the counter.")
    notify(world.acme.tenant, world.acme.customer, "Order WEB-7 is now Accepted")
    with tenant_context(world.acme.tenant):
        type(read).objects.filter(pk=read.pk).update(read_at=read.created_at)


def some_archived(world: World) -> None:
    from alerts.services import notifications_archive

    some_notifications(world)
    kept = notify(world.acme.tenant, world.acme.customer, "Store closed on Monday", body="Back on Tuesday at 9.")
    with tenant_context(world.acme.tenant):
        notifications_archive(user=world.acme.customer, ids=[kept.pk])


def a_critical_kind(world: World) -> None:
    from alerts.services import kind_policies_update

    with tenant_context(world.acme.tenant):
        kind_policies_update(actor=world.acme.admin, policies={"order_status": {"critical": True}})


def some_deliveries(world: World) -> None:
    """What became of the customer's notifications off-site: every kind of
    outcome, a long detail, a title of long unbroken words (acme's totals
    count them)."""
    from alerts.models import Delivery

    outcomes = [
        ("push", "sent", "", "2 devices"),
        ("email", "skipped", "read", ""),
        ("push", "failed", "gone", "410 Gone from https://push.example/" + "x" * 120),
        ("email", "queued", "", ""),
        ("push", "skipped", "no_device", ""),
    ]
    for n, (channel, status, reason, detail) in enumerate(outcomes):
        title = "Order WEB-7 is now Accepted" if n % 2 else "W" * 90
        notification = notify(world.acme.tenant, world.acme.customer, title, url="/orders/1/")
        with tenant_context(world.acme.tenant):
            Delivery.objects.filter(notification=notification, channel=channel).update(
                status=status, reason=reason, detail=detail
            )


def open_the_bell(page) -> None:
    page.wait_for_selector("#bell[data-state=live]", timeout=10_000)
    if page.get_attribute("#bell", "aria-expanded") != "true":
        page.click("#bell")


def some_orders(world: World) -> None:
    create_order(
        world.acme.tenant,
        external_id="WEB-1",
        customer=world.acme.customer,
        line_items=[{"name": "Menú del día", "quantity": 1, "unit_price": "12.50"}],
    )
    create_order(world.acme.tenant, external_id="WEB-2", total="7.25")


def an_order_under_way(world: World) -> None:
    """Order 1: the customer's, accepted, then cancelled with a reason, with a comment."""
    order = create_order(
        world.acme.tenant,
        external_id="WEB-1",
        customer=world.acme.customer,
        customer_name="Ana Díaz",
        total="31.00",
        notes="Ring twice",
        line_items=[
            {
                "name": "Menú del día",
                "quantity": 1,
                "unit_price": "12.50",
                "options": [{"name": "primero", "value": "Gazpacho"}],
            },
            {"name": "Pizza", "quantity": 1, "unit_price": "18.50", "notes": "sin cebolla"},
        ],
    )
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "Ten minutes, the oven is full")
    with tenant_context(world.acme.tenant):
        from orders.services import order_change_status

        order_change_status(order_id=order.pk, status="cancelled", reason="Out of dough, sorry")


def long_names(world: World) -> None:
    """Unbroken words far wider than a phone (an outside test found them
    scrolling sideways): a store name and a notification naming it."""
    from stores.models import Store

    name = "W" * 120
    with tenant_context(world.acme.tenant):
        Store.objects.filter(pk=1).update(name=name)
    notify(world.acme.tenant, world.acme.admin, f"Nobody is on the board of {name}", body=name)


def unsubscribe_link(world: World) -> str:
    """An e-mail digest's unsubscribe link for acme's customer (two kinds)."""
    from alerts.digest import unsubscribe_token

    with tenant_context(world.acme.tenant):
        token = unsubscribe_token(world.acme.customer.pk, ["order_status", "order_comment"])
    return f"/notifications/unsubscribe/{token}/"


def stop_emails(page) -> None:
    page.click("main form button[type=submit]")


def in_spanish(*then: Callable[[World], None]) -> Callable[[World], None]:
    """acme reads Spanish in Madrid (as the demo seeds it), after `then`:
    long Spanish words must fit a phone too."""

    def prepare(world: World) -> None:
        from tenants.models import Tenant

        Tenant.objects.filter(pk=world.acme.tenant.pk).update(language="es", time_zone="Europe/Madrid")
        for step in then:
            step(world)

    return prepare


PAGES = [
    # Signed out.
    Page("sign in", None, "/accounts/login/"),
    Page("forgot password", None, "/accounts/password_reset/"),
    Page("reset mail sent", None, "/accounts/password_reset/done/"),
    Page("choose a password", None, reset_link),
    Page("choose a password, stale link", None, "/accounts/reset/MQ/set-password/"),
    Page("password set", None, "/accounts/reset/done/"),
    Page("api docs", None, "/api/docs", ready="#api .op"),
    Page("not found", None, "/no-such-page/", status=404, deployed=True),
    Page("operators' home", None, "/", host="localhost"),
    Page("operators' sign in", None, "/accounts/login/", host="localhost"),
    Page("operators' home, signed in", "operator", "/", host="localhost"),
    # A customer.
    Page("home", "customer", "/"),
    Page("inbox, empty", "customer", "/notifications/", ready='[data-empty="all"]:not([hidden])'),
    Page("inbox", "customer", "/notifications/", prepare=some_notifications, ready="#inbox li"),
    Page("inbox, unread", "customer", "/notifications/?box=unread", prepare=some_notifications, ready="#inbox li"),
    Page("inbox, unread, empty", "customer", "/notifications/?box=unread", ready='[data-empty="unread"]:not([hidden])'),
    Page("inbox, archived", "customer", "/notifications/?box=archived", prepare=some_archived, ready="#inbox li"),
    Page(
        "inbox, archived, empty",
        "customer",
        "/notifications/?box=archived",
        ready='[data-empty="archived"]:not([hidden])',
    ),
    Page("bell popover", "customer", "/", prepare=some_notifications, act=open_the_bell, ready="#bell-list li"),
    Page("bell popover, empty", "customer", "/", act=open_the_bell, ready="#bell-empty:not([hidden])"),
    Page("bell popover, push available", "customer", "/", act=open_the_bell, ready="#bell-push-toggle:not([hidden])"),
    # Deployed with no VAPID keys: the popover says push is not set up.
    Page("bell popover, push off", "customer", "/", deployed=True, act=open_the_bell, ready="#bell-push:not([hidden])"),
    Page("notification preferences", "customer", "/notifications/preferences/", ready="#kinds fieldset"),
    Page(
        "notification preferences, a critical kind",
        "customer",
        "/notifications/preferences/",
        prepare=a_critical_kind,
        ready="#kinds .locked",
    ),
    Page(
        "notification preferences, delivery history",
        "customer",
        "/notifications/preferences/",
        prepare=some_deliveries,
        ready="#deliveries li",
    ),
    Page(
        "notification preferences, no deliveries",
        "customer",
        "/notifications/preferences/",
        ready="#deliveries-empty:not([hidden])",
    ),
    Page("no store access", "customer", "/stores/1/", status=403, ready="#bell"),
    Page("admins only", "customer", "/manage/integrations/", status=403, ready="#bell"),
    Page("not found, signed in", "customer", "/no-such-page/", status=404, deployed=True, ready="#bell"),
    Page("change password", "customer", "/accounts/password_change/"),
    Page("order page", "customer", "/orders/1/", prepare=an_order_under_way, ready="#order[data-live=true]"),
    Page("order page, not theirs", "customer", "/orders/99/", status=404, deployed=True, ready="#bell"),
    Page(
        "order page, Spanish",
        "customer",
        "/orders/1/",
        prepare=in_spanish(an_order_under_way),
        ready="#order[data-live=true]",
    ),
    Page("language", "customer", "/accounts/language/"),
    Page("language, Spanish", "customer", "/accounts/language/", prepare=in_spanish()),
    Page("home, Spanish", "customer", "/", prepare=in_spanish()),
    # From an e-mail digest, signed out.
    Page("unsubscribe", None, unsubscribe_link, ready="main form"),
    Page("unsubscribe, done", None, unsubscribe_link, act=stop_emails, ready="[data-state=done]"),
    Page("unsubscribe, a critical kind", None, unsubscribe_link, prepare=a_critical_kind, ready="main form"),
    Page("unsubscribe, bad link", None, "/notifications/unsubscribe/not-a-token/", status=400),
    Page(
        "unsubscribe, Spanish", None, unsubscribe_link, prepare=in_spanish(), act=stop_emails, ready="[data-state=done]"
    ),
    # Store staff.
    Page("home, staff", "staff1", "/"),
    Page("store list", "staff1", "/stores/"),
    Page("order page, staff", "staff1", "/orders/1/", prepare=an_order_under_way, ready="#order[data-live=true]"),
    Page(
        "dashboard, empty",
        "staff1",
        "/stores/1/",
        ready="#connection[data-state=live]",
    ),
    Page(
        "dashboard",
        "staff1",
        "/stores/1/",
        prepare=some_orders,
        ready="#board article",
    ),
    # A tenant admin.
    Page("home, admin", "admin", "/"),
    Page("manage", "admin", "/manage/"),
    Page("manage stores", "admin", "/manage/stores/"),
    Page("manage stores, long names", "admin", "/manage/stores/", prepare=long_names),
    Page("inbox, long names", "admin", "/notifications/", prepare=long_names, ready="#inbox li"),
    Page("manage a store", "admin", "/manage/stores/1/"),
    Page("integrations", "admin", "/manage/integrations/", ready="#list"),
    Page("announcements", "admin", "/manage/announcements/", ready="#compose"),
    Page("alert kinds", "admin", "/manage/notifications/", ready="#kinds input"),
    Page(
        "alert kinds, a critical one",
        "admin",
        "/manage/notifications/",
        prepare=a_critical_kind,
        ready="#kinds input:checked",
    ),
    Page(
        "alert kinds, timing and totals",
        "admin",
        "/manage/notifications/",
        prepare=some_deliveries,
        ready="#totals:not([aria-busy]) tbody tr",
    ),
    Page("alert kinds, not an admin", "customer", "/manage/notifications/", status=403, ready="#bell"),
    # The same in Spanish (longer words).
    Page("dashboard, Spanish", "staff1", "/stores/1/", prepare=in_spanish(some_orders), ready="#board article"),
    Page("manage, Spanish", "admin", "/manage/", prepare=in_spanish()),
    Page("inbox, Spanish", "customer", "/notifications/", prepare=in_spanish(some_notifications), ready="#inbox li"),
    Page(
        "bell popover, Spanish",
        "customer",
        "/",
        prepare=in_spanish(some_notifications),
        act=open_the_bell,
        ready="#bell-list li",
    ),
    Page(
        "bell popover, push available, Spanish",
        "customer",
        "/",
        prepare=in_spanish(),
        act=open_the_bell,
        ready="#bell-push-toggle:not([hidden])",
    ),
    Page(
        "preferences, Spanish", "customer", "/notifications/preferences/", prepare=in_spanish(), ready="#kinds fieldset"
    ),
    Page(
        "preferences, delivery history, Spanish",
        "customer",
        "/notifications/preferences/",
        prepare=in_spanish(some_deliveries),
        ready="#deliveries li",
    ),
    Page(
        "alert kinds, timing and totals, Spanish",
        "admin",
        "/manage/notifications/",
        prepare=in_spanish(some_deliveries),
        ready="#totals:not([aria-busy]) tbody tr",
    ),
    Page("manage a store, Spanish", "admin", "/manage/stores/1/", prepare=in_spanish()),
    Page("integrations, Spanish", "admin", "/manage/integrations/", prepare=in_spanish(), ready="#list"),
    Page("announcements, Spanish", "admin", "/manage/announcements/", prepare=in_spanish(), ready="#compose"),
]


def _params():
    return [pytest.param(page, id=page.name, marks=page.marks) for page in PAGES]


@pytest.fixture(scope="module")
def servers(django_db_setup):
    """One server per configuration for the whole table: starting one per
    row cost minutes. Tenants are made again by every test with new ids, so
    these servers trust no tenant they looked up before (no cache)."""
    with contextlib.ExitStack() as stack:
        started = {}

        def server(*, deployed: bool):
            if deployed not in started:
                started[deployed] = stack.enter_context(_server(deployed=deployed))
            return started[deployed]

        yield server


@pytest.fixture(scope="module")
def chromium():
    """One browser for the whole table (a launch per row was a second of
    each); every row has its own context (cookies, storage), and
    `csp_checked` fails the row whose pages violated the policy.

    Playwright's sync API leaves its event loop set on this thread while
    the browser is open, and Django then refuses the ORM here, as if from
    a coroutine: the rows' fixtures write their worlds on this thread,
    between browser calls, never inside one, so the check is off for the
    module."""
    with pytest.MonkeyPatch.context() as patch, browser() as launched:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield launched


@pytest.fixture
def csp_checked(chromium):
    chromium.violations.clear()
    chromium.console.clear()
    yield chromium
    chromium.flush()  # before the row's context closes: its last reports arrive
    problems = chromium.problems()
    for context in chromium.contexts:
        context.close()
    if problems:
        pytest.fail(f"Content-Security-Policy violations:\n{problems}")


@pytest.mark.parametrize("page_row", _params())
def test_every_page_is_accessible_and_fits_a_phone(world, servers, csp_checked, page_row: Page):
    row = page_row
    if row.prepare:
        row.prepare(world)
    path = row.path(world) if callable(row.path) else row.path
    connections.close_all()  # the server process must see what was written: committed, nothing held
    server = servers(deployed=row.deployed)
    base = f"http://{row.host}:{server.port}"
    context = csp_checked.new_context(viewport=VIEWPORTS["desk"])  # closed by csp_checked
    page = sign_in(context, base, row.role, PASSWORD) if row.role else context.new_page()
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        response = page.goto(f"{base}{path}")
        assert response.status == row.status, (path, response.status)
        if row.act:
            row.act(page)
        if row.ready:
            page.wait_for_selector(row.ready, state="attached", timeout=10_000)
        _screenshot(page, row, size)
        assert_accessible(page, label=f"{row.name} ({size})")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{row.name} ({size}) scrolls sideways by {overflow}px"
    connections.close_all()


def _server(*, deployed: bool):
    if not deployed:
        # Web Push on (the bell offers it); the deployed one has no keys (the bell says so).
        private, _public = vapid.generate()
        return uvicorn_server(extra_env={"TENANT_CACHE_SECONDS": "0", "VAPID_PRIVATE_KEY": private})
    # config.settings as deployed (DEBUG off) on plain http, with the test
    # database and hosts: the error pages are the product's, not Django's
    # debug pages.
    return uvicorn_server(
        extra_env={
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost,.localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "SECURE_HSTS_SECONDS": "0",
            "TENANT_CACHE_SECONDS": "0",
        }
    )


def _screenshot(page, row: Page, size: str) -> None:
    folder = os.environ.get("PREGON_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in f"{row.name} {row.role or 'anonymous'} {size}")
    page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
