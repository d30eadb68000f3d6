"""Property-based hostile input (hypothesis): socket messages and webhook bodies.

Whatever arrives: never a 500, never an exception escaping a consumer (the
socket answers `ping` afterwards, or closes with 1009 for an oversized
frame, never 1011), and a refused request writes nothing.
"""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.asgi import application
from tests.factories import create_order, session_cookie
from tests.orders.webhook_client import send

FUZZ = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Any JSON value, with the numbers and strings that break naive code.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.text(st.characters(exclude_categories=()), max_size=4)  # lone surrogates too ("\ud800" in JSON)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

SOCKET_TYPES = ["ping", "resume", "notifications.mark_read", "notifications.mark_all_read", "subscribe", "", "PING"]
socket_messages = (
    # Shaped like the protocol, with anything in the fields.
    st.fixed_dictionaries(
        {"type": st.sampled_from(SOCKET_TYPES) | st.text(max_size=20)},
        optional={"after": json_values, "ids": json_values, "all": json_values, "extra": json_values},
    ).map(json.dumps)
    | json_values.map(json.dumps)  # any JSON at all
    | st.text(max_size=200)  # not JSON
)
HOSTILE_FRAMES = [
    "[" * 50_000,  # deeper than Python's parser can recurse
    '{"type": "resume", "after": NaN}',
    '{"type": "resume", "after": 1e400}',
    '{"type": "notifications.mark_read", "ids": [Infinity]}',
    '{"type": "resume", "after": 99999999999999999999999999}',
    '{"type": "notifications.mark_read", "ids": [1, 2, 3, -1, 1e3, "1", null]}',
    "\x00",
    "",
]


async def _exchange(path: str, cookie: str, frame: str) -> str:
    """Send `frame` on a fresh socket; return what became of the socket."""
    communicator = WebsocketCommunicator(
        application,
        path,
        headers=[(b"host", b"acme.localhost"), (b"origin", b"http://acme.localhost"), (b"cookie", cookie.encode())],
    )
    await communicator.connect()
    try:
        while not await communicator.receive_nothing(0.05):  # the frames sent on open
            await communicator.receive_output()
        await communicator.send_input({"type": "websocket.receive", "text": frame})
        await communicator.send_input({"type": "websocket.receive", "text": '{"type": "ping"}'})
        while True:
            output = await communicator.receive_output(timeout=3)
            if output["type"] == "websocket.close":
                return f"closed {output.get('code')}"
            if json.loads(output["text"]).get("type") == "pong":
                return "open"
    finally:
        await communicator.disconnect()


@pytest.fixture
def sockets(world, django_db_blocker):
    staff = session_cookie(world.acme.tenant, world.acme.staff1)
    customer = session_cookie(world.acme.tenant, world.acme.customer)
    create_order(world.acme.tenant, customer=world.acme.customer)  # a notification and a stream event
    return {"/ws/stores/1/orders/": staff, "/ws/notifications/": customer}


def _unread(world) -> int:
    from alerts.models import Notification

    with tenant_context(world.acme.tenant):
        return Notification.objects.filter(read_at__isnull=True).count()


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(frame=socket_messages, path=st.sampled_from(["/ws/stores/1/orders/", "/ws/notifications/"]))
@example(frame=HOSTILE_FRAMES[0], path="/ws/notifications/")
@example(frame=HOSTILE_FRAMES[1], path="/ws/stores/1/orders/")
@example(frame=HOSTILE_FRAMES[2], path="/ws/stores/1/orders/")
@example(frame=HOSTILE_FRAMES[3], path="/ws/notifications/")
@example(frame=HOSTILE_FRAMES[4], path="/ws/stores/1/orders/")
@example(frame=HOSTILE_FRAMES[5], path="/ws/notifications/")
@example(frame=HOSTILE_FRAMES[6], path="/ws/notifications/")
@example(frame=HOSTILE_FRAMES[7], path="/ws/stores/1/orders/")
def test_no_socket_message_breaks_a_socket(sockets, world, frame, path):
    outcome = async_to_sync(_exchange)(path, sockets[path], frame)
    too_big = len(frame.encode()) > settings.WS_MAX_MESSAGE_BYTES
    assert outcome == ("closed 1009" if too_big else "open")


# --- webhooks ---------------------------------------------------------------------
EVENT_TYPES = ["order.created", "order.updated", "order.status_changed", "order.comment_added"]
DATA_KEYS = ["store_id", "external_id", "total", "currency", "status", "customer", "line_items", "notes", "body"]
webhook_bodies = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(EVENT_TYPES) | st.text(max_size=20),
            "timestamp": st.sampled_from(["2026-11-21T12:00:00Z", "2026-13-45T00:00:00Z", ""]) | json_values,
            "data": st.dictionaries(st.sampled_from(DATA_KEYS) | st.text(max_size=8), json_values, max_size=7)
            | json_values,
        },
        optional={"extra": json_values},
    ).map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
)


def _rows(world) -> tuple:
    from orders.models import Order, OrderComment, StoreEvent

    with tenant_context(world.acme.tenant):
        return (
            list(Order.objects.order_by("pk").values_list("pk", "status", "total", "notes", "customer_id")),
            OrderComment.objects.count(),
            StoreEvent.objects.count(),
        )


@pytest.fixture
def integration(world):
    from orders.integrations.services import integration_create

    with tenant_context(world.acme.tenant):
        return integration_create(name="fuzz")


ORDER_CREATED = '{"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", "data": '


@pytest.mark.django_db
@FUZZ
@given(body=webhook_bodies)
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "X", "total": NaN}}')
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "X", "total": 1e400}}')
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "X", "total": "Infinity"}}')
@example(body=ORDER_CREATED + '{"store_id": 99999999999999999999, "external_id": "X", "total": "1"}}')
@example(body="[" * 50_000)
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "\\u0000", "total": "1"}}')
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "X", "total": "1", "notes": "\\ud800"}}')
@example(body=ORDER_CREATED + '{"store_id": 1, "external_id": "X", "total": "1", "line_items": [{"name": "\\udfff"}]}}')
@example(
    body=ORDER_CREATED
    + '{"store_id": 1, "external_id": "X", "total": "1", "customer": {"email": "a@b.co", "name": "\\ud83d"}}}'
)
def test_no_webhook_body_gives_a_500_or_a_partial_write(world, integration, body):
    integ, secret = integration
    before = _rows(world)
    response = send(integ.pk, secret, body)
    assert response.status_code < 500, response.content
    if response.status_code != 200:
        assert response.json()["error"]["code"]  # a clear error...
        assert _rows(world) == before  # ...and nothing written


# --- Host headers -------------------------------------------------------------------------
@pytest.mark.django_db
@FUZZ
@given(host=st.text(max_size=80) | st.from_regex(r"[a-z0-9.\-]{1,30}(:[0-9a-z]{0,6})?", fullmatch=True))
@example(host="acme.localhost.evil.com")
@example(host="acme.localhost:99999999999")
@example(host="ACME.LOCALHOST")
@example(host="acme.localhost\r\nX-Injected: 1")
def test_no_host_header_gives_a_500(world, host):
    from django.test import Client

    for path in ("/", "/api/orders", "/healthz"):
        response = Client(HTTP_HOST=host).get(path)
        assert response.status_code < 500 or (path == "/healthz" and response.status_code == 503), (host, path)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/orders/storeevent/?store__id__exact=1&type__exact=%00",  # reached PostgreSQL: a 500
        "/api/stores/1/orders?status=%00",
        "/api/orders?page=1&x%00=1",
        "/stores/%00/",
    ],
)
def test_a_nul_in_the_address_is_a_400_never_a_500(world, path):
    from django.test import Client

    from tests.factories import session_cookie

    who = world.acme.admin if path.startswith("/admin/") else world.acme.staff1
    client = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=session_cookie(world.acme.tenant, who))
    assert client.get(path).status_code == 400
