"""Who may do what, on every endpoint and socket, with colliding ids.

One table: each row is a request (HTTP or socket) on acme's host, each
column a role. Both tenants hold the same stores (1, 2), users (ids
101–105), orders (1, 2), integration (1), secret (1) and notification (1),
so a check that forgot the tenant would find globex's row. globex's data
is named "globex"/"GLOBEX", and no answer on acme's host may contain it.

Roles: anonymous; acme's customer; staff of store 1; staff of store 2;
acme's tenant admin; globex's tenant admin — the same user id as acme's
admin — presenting its globex session to acme's host; and a platform
operator (a public-schema superuser) presenting its session there.

Django's admin has a table of its own: every registered model's pages and
bulk delete, on a tenant's host and on the public host, for every role.

Writes run in a transaction that is rolled back after each cell, so every
cell sees the same starting state.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import Client
from django_tenants.utils import tenant_context

from tests.factories import add_comment, create_order, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("anon", "customer", "staff1", "staff2", "admin", "other_admin", "operator")


def expect(default, **by_role):
    # Sessions of another schema (globex's admin, an operator) are unknown
    # on acme's host: those roles are anonymous there unless a row says so.
    by_role.setdefault("operator", by_role.get("other_admin", by_role.get("anon", default)))
    return {role: by_role.get(role, default) for role in ROLES}


SIGNED_IN = expect(200, anon=401, other_admin=401)  # any acme user, own data only
STORE1_STAFF = expect(403, anon=401, other_admin=401, staff1=200)
ADMIN_ONLY = expect(403, anon=401, other_admin=401, admin=200)
PAGE_SIGNED_IN = expect(200, anon=302, other_admin=302)  # to the sign-in page
PAGE_ADMIN = expect(403, anon=302, other_admin=302, admin=200)

ANNOUNCEMENT = {"title": "Closed Monday", "body": "Back Tuesday", "audience": "everyone"}

# (method, path, JSON body or None, expected status per role)
HTTP = [
    ("GET", "/api/stores/1/orders", None, STORE1_STAFF),
    ("GET", "/api/stores/2/orders", None, expect(403, anon=401, other_admin=401, staff2=200)),
    ("GET", "/api/stores/3/orders", None, expect(404, anon=401, other_admin=401)),  # globex has none either
    ("GET", "/api/orders", None, SIGNED_IN),
    # Order 1: store 1, acme's customer. Order 2: store 2, no customer.
    ("GET", "/api/orders/1", None, expect(404, anon=401, other_admin=401, customer=200, staff1=200)),
    ("GET", "/api/orders/2", None, expect(404, anon=401, other_admin=401, staff2=200)),
    (
        "POST",
        "/api/orders/1/status",
        {"status": "accepted"},
        expect(404, anon=401, other_admin=401, customer=403, staff1=200),
    ),
    ("POST", "/api/orders/2/status", {"status": "accepted"}, expect(404, anon=401, other_admin=401, staff2=200)),
    (
        "POST",
        "/api/orders/1/comments",
        {"body": "ready soon"},
        expect(404, anon=401, other_admin=401, customer=403, staff1=201),
    ),
    ("GET", "/api/notifications", None, SIGNED_IN),
    ("POST", "/api/notifications/read", {"ids": [1]}, SIGNED_IN),  # only the owner's row changes (asserted below)
    ("GET", "/api/notifications/preferences", None, SIGNED_IN),
    ("PUT", "/api/notifications/preferences", {"muted_kinds": ["order_comment"]}, SIGNED_IN),
    ("GET", "/api/notifications/deliveries", None, SIGNED_IN),  # each their own (tests/alerts/test_delivery_log.py)
    ("GET", "/api/manage/deliveries/summary", None, ADMIN_ONLY),
    ("GET", "/api/manage/notification-settings", None, ADMIN_ONLY),
    ("PUT", "/api/manage/notification-settings", {"push_after_seconds": 45}, ADMIN_ONLY),
    ("GET", "/api/push/devices", None, SIGNED_IN),  # one's own devices only (tests/alerts/test_push_api.py)
    ("DELETE", "/api/push/devices", {"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, SIGNED_IN),
    ("GET", "/sw.js", None, expect(200)),  # the service worker: public, like a static file
    ("GET", "/api/announcements", None, ADMIN_ONLY),
    ("POST", "/api/announcements", ANNOUNCEMENT, expect(403, anon=401, other_admin=401, admin=201)),
    ("GET", "/api/integrations", None, ADMIN_ONLY),
    ("POST", "/api/integrations", {"name": "pos"}, expect(403, anon=401, other_admin=401, admin=201)),
    ("POST", "/api/integrations/1/secrets", None, expect(403, anon=401, other_admin=401, admin=201)),
    ("DELETE", "/api/integrations/1/secrets/1", None, ADMIN_ONLY),
    ("GET", "/api/integrations/1/deliveries", None, ADMIN_ONLY),
    ("GET", "/api/integrations/2/deliveries", None, expect(403, anon=401, other_admin=401, admin=404)),
    ("POST", "/api/integrations/1/test-event", {"store_id": 1}, ADMIN_ONLY),
    ("POST", "/api/integrations/2/test-event", {"store_id": 1}, expect(403, anon=401, other_admin=401, admin=404)),
    ("POST", "/api/announcements/audience", {"audience": "everyone"}, ADMIN_ONLY),
    # Signed by nobody: the webhook answers to signatures, not to sessions.
    ("POST", "/api/integrations/1/webhook", {"type": "order.created"}, expect(401)),
    ("POST", "/api/ws-tickets", None, expect(201, anon=401, other_admin=401)),
    ("GET", "/api/tokens", None, SIGNED_IN),
    ("POST", "/api/tokens", {"name": "pos"}, expect(201, anon=401, other_admin=401)),
    ("DELETE", "/api/tokens/1", None, expect(404, anon=401, other_admin=401, staff1=200)),  # staff1's token
    ("GET", "/", None, PAGE_SIGNED_IN),
    ("GET", "/stores/", None, PAGE_SIGNED_IN),
    ("GET", "/stores/1/", None, expect(403, anon=302, other_admin=302, staff1=200)),
    ("GET", "/stores/3/", None, expect(404, anon=302, other_admin=302)),
    ("GET", "/notifications/", None, PAGE_SIGNED_IN),
    # An order's page: who may see the order; anyone else the 404 page (order 3 is nobody's in either tenant).
    ("GET", "/orders/1/", None, expect(404, anon=302, other_admin=302, customer=200, staff1=200)),
    ("GET", "/orders/2/", None, expect(404, anon=302, other_admin=302, staff2=200)),
    ("GET", "/orders/3/", None, expect(404, anon=302, other_admin=302)),
    ("GET", "/announcements/", None, expect(302)),  # moved to /manage/announcements/
    ("GET", "/integrations/", None, expect(302)),
    ("GET", "/manage/", None, PAGE_ADMIN),
    ("GET", "/manage/stores/", None, PAGE_ADMIN),
    ("GET", "/manage/stores/1/", None, PAGE_ADMIN),
    ("GET", "/manage/stores/3/", None, expect(403, anon=302, other_admin=302, admin=404)),
    ("POST", "/manage/stores/1/", None, expect(403, anon=302, other_admin=302, admin=422)),  # no fields: named
    ("GET", "/manage/announcements/", None, PAGE_ADMIN),
    ("GET", "/manage/notifications/", None, PAGE_ADMIN),
    ("GET", "/notifications/preferences/", None, PAGE_SIGNED_IN),
    ("GET", "/manage/integrations/", None, PAGE_ADMIN),
    ("GET", "/admin/", None, expect(302, admin=200)),  # the tenant's own admin site: its admins only
    # Public by design: the API's description, the sign-in and password-reset pages, the health check.
    ("GET", "/api/openapi.json", None, expect(200)),
    ("GET", "/api/docs", None, expect(200)),
    ("GET", "/accounts/login/", None, expect(200)),
    ("GET", "/accounts/password_reset/", None, expect(200)),
    ("GET", "/accounts/reset/MTAx/not-a-token/", None, expect(200)),  # user 101 in both tenants: "not valid"
    ("GET", "/healthz", None, expect(200)),
]

OPEN = "open"
# (path, expected outcome per role: OPEN or the close code)
SOCKETS = [
    ("/ws/stores/1/orders/", expect(4403, anon=4401, other_admin=4401, staff1=OPEN)),
    ("/ws/stores/2/orders/", expect(4403, anon=4401, other_admin=4401, staff2=OPEN)),
    ("/ws/stores/1/orders/?after=0&presence=off", expect(4403, anon=4401, other_admin=4401, staff1=OPEN)),
    ("/ws/stores/3/orders/", expect(4404, anon=4401, other_admin=4401)),
    ("/ws/notifications/", expect(OPEN, anon=4401, other_admin=4401)),
    ("/ws/nowhere/", expect(4404)),
]


@pytest.fixture
def cast(world):
    """Both tenants' orders, integration, notification and tokens, with the same ids."""
    from alerts.models import Notification
    from alerts.services import notification_create
    from orders.integrations.services import integration_create
    from platform_core.tokens import api_token_create

    for name in ("acme", "globex"):
        people = getattr(world, name)
        marker = name.upper()
        order = create_order(people.tenant, store_id=1, external_id=f"{marker}-1", customer=people.customer)
        create_order(people.tenant, store_id=2, external_id=f"{marker}-2")
        add_comment(people.tenant, order, people.staff1, f"{marker} comment")
        with tenant_context(people.tenant):
            integration_create(name=f"{marker} shop", store_ids=[1])
            Notification.objects.all().delete()
            notification_create(recipient=people.customer, kind="system", title=f"{marker} notice")
            api_token_create(user=people.staff1, name=f"{marker} token")
    cookies = {role: session_cookie(world.acme.tenant, getattr(world.acme, role)) for role in ROLES[1:5]}
    cookies["other_admin"] = session_cookie(world.globex.tenant, world.globex.admin)
    cookies["operator"] = session_cookie(world.public, world.operator)
    cookies["anon"] = None
    return cookies


def http_cell(cookie: str | None, method: str, path: str, body) -> tuple[int, str]:
    client = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie or "")  # CSRF is tested on its own
    with transaction.atomic():
        response = client.generic(
            method, path, json.dumps(body) if body is not None else "", content_type="application/json"
        )
        transaction.set_rollback(True)
    return response.status_code, response.content.decode(errors="replace")


async def test_every_role_on_every_endpoint_and_socket(cast, world, open_socket):
    mismatches = []
    for method, path, body, expected in HTTP:
        for role in ROLES:
            status, text = await sync_to_async(http_cell)(cast[role], method, path, body)
            if status != expected[role]:
                mismatches.append(f"{method} {path} as {role}: {status}, expected {expected[role]} {text[:120]}")
            if "globex" in text.lower():
                mismatches.append(f"{method} {path} as {role}: globex data on acme's host")

    for path, expected in SOCKETS:
        for role in ROLES:
            socket = await open_socket(path, cookie=cast[role])
            # An open socket speaks first (presence, stream.live, unread); a refused one closes.
            first = await socket.communicator.receive_output(timeout=2)
            outcome = first.get("code") if first["type"] == "websocket.close" else OPEN
            if "globex" in first.get("text", "").lower():
                mismatches.append(f"socket {path} as {role}: globex data")
            if outcome != expected[role]:
                mismatches.append(f"socket {path} as {role}: {outcome}, expected {expected[role]}")

    assert mismatches == []


def test_every_session_write_needs_the_csrf_token(cast, world):
    """Each unsafe API row, by a role allowed to make it, without the token: 403, nothing written."""
    from orders.models import Order, OrderComment

    def counts():
        with tenant_context(world.acme.tenant):
            return Order.objects.filter(status="new").count(), OrderComment.objects.count()

    before = counts()
    checked = 0
    for method, path, body, expected in HTTP:
        allowed = [role for role in ROLES if 200 <= expected[role] < 300]
        if method == "GET" or not path.startswith("/api/") or not allowed:
            continue
        client = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cast[allowed[0]], enforce_csrf_checks=True)
        response = client.generic(
            method, path, json.dumps(body) if body is not None else "", content_type="application/json"
        )
        assert (response.status_code, response.json()["error"]["code"]) == (403, "csrf_failed"), (method, path)
        checked += 1
    assert checked >= 10  # the rows above, not an empty loop
    assert counts() == before


# --- Django's admin, on both kinds of host -------------------------------------------
TENANT_HOST, PUBLIC_HOST = "acme.localhost", "localhost"
# What each site's admins may do with each model it registers; every other
# role, and every model the host's site does not register, gets nothing.
TENANT_SITE = {  # acme's admin, on acme's host
    "platform_core/user": {"view", "add", "change"},
    "stores/store": {"view", "add", "change"},
    "orders/order": {"view"},
    "orders/storeevent": {"view"},
    "alerts/notification": {"view", "delete", "bulk"},
}
OPERATOR_SITE = {  # operators, on the public host
    "tenants/tenant": {"view", "add", "change", "delete"},
    "tenants/domain": {"view", "add", "change", "delete", "bulk"},
    "platform_core/user": {"view", "add", "change"},  # deactivated, not deleted
}
ALL_MODELS = sorted(set(TENANT_SITE) | set(OPERATOR_SITE))
PAGES = ("changelist", "add", "change", "delete", "bulk")


def admin_expectation(host: str, role: str, model: str, page: str) -> int:
    site, admin_role = (TENANT_SITE, "admin") if host == TENANT_HOST else (OPERATOR_SITE, "operator")
    if role != admin_role:
        return 302  # to the admin's sign-in page: nobody else is signed in to this site
    if model not in site:
        return 404  # not a page of this host at all
    can = site[model]
    if page == "changelist":
        return 200
    if page == "add":
        return 200 if "add" in can else 403
    if page == "change":
        return 200  # view-only models show a read-only form
    if page == "delete":
        return 200 if "delete" in can else 403
    return 302 if "bulk" in can else 200  # done and redirected, or refused on the list page


@pytest.fixture
def admin_objects(cast, world):
    """model → (host → primary key of one row of that model there)."""
    from alerts.models import Notification
    from orders.models import StoreEvent

    with tenant_context(world.acme.tenant):
        notification = Notification.objects.get().pk
        event = StoreEvent.objects.order_by("pk").first().pk
    globex = world.globex.tenant
    with tenant_context(world.public):
        globex_domain = globex.domains.get().pk
    tenant_side = {
        "platform_core/user": world.acme.staff1.pk,
        "stores/store": 1,
        "orders/order": 1,
        "orders/storeevent": event,
        "alerts/notification": notification,
    }
    public_side = {
        "tenants/tenant": globex.pk,
        "tenants/domain": globex_domain,
        "platform_core/user": world.operator.pk,
    }
    return {TENANT_HOST: tenant_side, PUBLIC_HOST: public_side}


def admin_cell(host: str, cookie: str | None, model: str, page: str, pk) -> tuple[int, bool, str]:
    """Status, whether the row survived, and the body; rolled back afterwards."""
    from django.apps import apps

    client = Client(HTTP_HOST=host, HTTP_COOKIE=cookie or "")
    base = f"/admin/{model}/"
    model_class = apps.get_model(*model.split("/"))
    with transaction.atomic():
        if page == "changelist":
            response = client.get(base)
        elif page == "add":
            response = client.get(f"{base}add/")
        elif page == "change":
            response = client.get(f"{base}{pk}/change/")
        elif page == "delete":
            response = client.get(f"{base}{pk}/delete/")
        else:  # the bulk delete, confirmed: it deletes at once if allowed
            response = client.post(base, {"action": "delete_selected", "_selected_action": [pk], "post": "yes"})
        survived = pk is None or model_class.objects.filter(pk=pk).exists()
        transaction.set_rollback(True)
    return response.status_code, survived, response.content.decode(errors="replace")


def test_every_role_on_every_admin_page_of_both_hosts(cast, world, admin_objects):
    mismatches = []
    for host in (TENANT_HOST, PUBLIC_HOST):
        for model in ALL_MODELS:
            pk = admin_objects[host].get(model)
            for page in PAGES:
                for role in ROLES:
                    if pk is None and page in ("change", "delete", "bulk"):
                        continue  # this host's site has no such model: the list and add pages show it
                    status, survived, text = admin_cell(host, cast[role], model, page, pk)
                    expected = admin_expectation(host, role, model, page)
                    if status != expected:
                        mismatches.append(f"{host} {page} {model} as {role}: {status}, expected {expected}")
                    site, admin_role = (TENANT_SITE, "admin") if host == TENANT_HOST else (OPERATOR_SITE, "operator")
                    deleted = page == "bulk" and role == admin_role and "bulk" in site.get(model, ())
                    if survived == deleted:
                        mismatches.append(f"{host} {page} {model} as {role}: deleted={not survived}")
                    if host == TENANT_HOST and "globex" in text.lower():
                        mismatches.append(f"{host} {page} {model} as {role}: globex data on acme's host")
    assert "\n".join(mismatches) == ""


def test_a_tenant_admin_flagged_superuser_still_reaches_no_public_model(world):
    """Old demo data made tenant admins Django superusers: that flag grants nothing on a tenant's host."""
    from tenants.models import Domain, Tenant

    with tenant_context(world.acme.tenant):
        world.acme.admin.is_superuser = world.acme.admin.is_staff = True
        world.acme.admin.save()
    client = Client(HTTP_HOST=TENANT_HOST, HTTP_COOKIE=session_cookie(world.acme.tenant, world.acme.admin))
    before = (sorted(Tenant.objects.values_list("schema_name", flat=True)), Domain.objects.count())
    globex = world.globex.tenant.pk
    assert client.get("/admin/tenants/tenant/").status_code == 404
    assert (
        client.post(
            "/admin/tenants/tenant/", {"action": "delete_selected", "_selected_action": [globex], "post": "yes"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/admin/tenants/domain/add/",
            {"domain": "www.localhost", "tenant": world.acme.tenant.pk, "is_primary": "on"},
        ).status_code
        == 404
    )
    assert client.get(f"/admin/tenants/tenant/{globex}/change/").status_code == 404
    index = client.get("/admin/").content.decode()
    assert "Tenants" not in index and "Stores" in index
    with tenant_context(world.public):
        assert (sorted(Tenant.objects.values_list("schema_name", flat=True)), Domain.objects.count()) == before
