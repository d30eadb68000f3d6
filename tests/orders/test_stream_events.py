"""post_save → exactly one durable, sequenced, JSON-safe stream event."""

import json
from decimal import Decimal

import msgpack
import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django_tenants.utils import tenant_context

from orders.models import Order, StoreEvent
from tests.factories import add_comment, change_status, create_order
from ws import groups

pytestmark = pytest.mark.django_db


def stream(tenant, store_id=1):
    with tenant_context(tenant):
        return [
            (e.seq, e.type, json.loads(e.frame)) for e in StoreEvent.objects.filter(store_id=store_id).order_by("seq")
        ]


@pytest.mark.django_db(transaction=True)
async def test_each_save_writes_exactly_one_event_in_order(world, published):
    acme = world.acme.tenant

    def saves():
        order = create_order(
            acme,
            external_id="A-1",
            customer=world.acme.customer,
            total="12.50",
            line_items=[{"sku": "x", "quantity": 2}],
        )
        change_status(acme, order, "accepted")
        with tenant_context(acme):
            order = Order.objects.get(pk=order.pk)
            order.notes = "no onions"
            order.save()
        add_comment(acme, order, world.acme.staff1, "on its way")
        return order

    order = await sync_to_async(saves)()
    to_store = [sent for sent in published if sent.group == groups.store_orders(acme, 1)]
    events = await sync_to_async(stream)(acme)
    assert [(seq, kind) for seq, kind, _ in events] == [
        (1, "order.created"),
        (2, "order.status_changed"),
        (3, "order.updated"),
        (4, "order.comment_added"),
    ]
    assert [(sent.seq, sent.frame) for sent in to_store] == [(seq, frame) for seq, _, frame in events]
    created = events[0][2]
    assert created["type"] == "order.created" and created["seq"] == 1 and created["store_id"] == 1
    assert created["data"]["order"] == {
        "id": order.pk,
        "external_id": "A-1",
        "store_id": 1,
        "status": "new",
        "total": "12.50",
        "currency": "EUR",
        "customer": "customer",
        "line_items": [{"name": "", "sku": "x", "quantity": "2", "unit_price": None, "options": None, "extra": {}}],
        "customer_name": "",
        "notes": "",
        "cancel_reason": "",
        "created_at": created["data"]["order"]["created_at"],
        "updated_at": created["data"]["order"]["updated_at"],
    }
    assert events[1][2]["data"]["previous_status"] == "new"
    assert events[1][2]["data"]["order"]["status"] == "accepted"
    assert events[2][2]["data"]["order"]["notes"] == "no onions"
    comment = events[3][2]["data"]["comment"]
    assert comment["author"] == "staff1" and comment["body"] == "on its way"


def test_frames_survive_msgpack_as_channels_redis_carries_them(world):
    acme = world.acme.tenant
    create_order(acme, total=Decimal("99999999.99"))
    for _, _, frame in stream(acme):
        assert msgpack.unpackb(msgpack.packb(frame)) == frame


def test_seq_counts_per_store_and_per_tenant_from_one(world):
    for tenant in (world.acme.tenant, world.globex.tenant):
        for store_id in (1, 2):
            create_order(tenant, store_id=store_id)
            create_order(tenant, store_id=store_id)
    for tenant in (world.acme.tenant, world.globex.tenant):
        for store_id in (1, 2):
            assert [seq for seq, _, _ in stream(tenant, store_id)] == [1, 2]


def test_a_rolled_back_change_leaves_no_event_and_no_gap(world):
    acme = world.acme.tenant
    create_order(acme)
    with pytest.raises(RuntimeError), transaction.atomic():
        create_order(acme)
        raise RuntimeError("the request failed after the save")
    create_order(acme)
    assert [seq for seq, _, _ in stream(acme)] == [1, 2]
    with tenant_context(acme):
        assert Order.objects.count() == 2


def test_comment_edits_are_not_new_events(world):
    acme = world.acme.tenant
    comment = add_comment(acme, create_order(acme), world.acme.staff1, "first")
    with tenant_context(acme):
        comment.body = "edited"
        comment.save()
    assert [kind for _, kind, _ in stream(acme)] == ["order.created", "order.comment_added"]


@pytest.mark.django_db(transaction=True)
def test_a_bare_save_outside_any_transaction_still_commits_its_event_with_it(world):
    acme = world.acme.tenant
    with tenant_context(acme):
        order = Order.objects.create(store_id=1, external_id="from-a-shell", total=1)
    assert [(seq, kind) for seq, kind, _ in stream(acme)] == [(1, "order.created")]
    assert stream(acme)[0][2]["data"]["order"]["id"] == order.pk


@pytest.mark.django_db(transaction=True)
def test_when_the_event_cannot_be_written_the_change_is_not_saved_either(world):
    acme = world.acme.tenant
    with tenant_context(acme):
        with pytest.raises(Exception):  # noqa: B017 (whichever layer refuses it first)
            Order.objects.create(store_id=999, external_id="no-such-store", total=1)
        assert not Order.objects.filter(external_id="no-such-store").exists()


def pages_of(tenant, *, max_bytes, limit=500):
    """Every replay page of store 1 after seq 0, as a reconnect reads them."""
    from orders.selectors import stream_after

    pages, after, more = [], 0, True
    with tenant_context(tenant):
        while more:
            page, more = stream_after(store_id=1, after=after, limit=limit, max_bytes=max_bytes)
            pages.append(page)
            after = page[-1][0] if page else after
    return pages


def test_a_replay_page_holds_about_max_bytes_of_text_and_at_least_one_event(world):
    acme = world.acme.tenant
    for n in range(8):
        # Frames of different sizes, counted in bytes (é is two).
        create_order(acme, external_id=f"A-{n}", notes="é" * (280 * n))
    with tenant_context(acme):
        events = list(StoreEvent.objects.filter(store_id=1).order_by("seq").values_list("seq", "frame"))
    sizes = [len(frame.encode()) for _, frame in events]
    max_bytes = sizes[0] + sizes[1] + 1  # the first two fit, the third starts past the bound
    pages = pages_of(acme, max_bytes=max_bytes)
    assert [event for page in pages for event in page] == events  # all of them, once, in order
    for page in pages:
        page_sizes = [len(frame.encode()) for _, frame in page]
        # Each page stops once its text reaches the bound; one event alone may be over it.
        assert len(page) == 1 or sum(page_sizes[:-1]) < max_bytes
    assert len(pages[0]) == 3  # the first two, and the one that starts before the bound
    assert pages_of(acme, max_bytes=10**9, limit=3)[0] == events[:3]  # the row bound still holds
    assert pages_of(acme, max_bytes=0) == [[event] for event in events] + [[]]  # a bound of 0 loses nothing


def test_a_connect_s_first_page_is_bounded_as_the_replay_s_are(world):
    from orders.selectors import dashboard_opening
    from platform_core.plain_sql import run

    acme = world.acme.tenant
    for n in range(5):
        create_order(acme, external_id=f"A-{n}", notes="y" * 1_500)
    first = pages_of(acme, max_bytes=4_000)[0]
    with tenant_context(acme):
        opening = run(dashboard_opening(user_id=world.acme.staff1.pk, store_id=1, after=0, limit=500, max_bytes=4_000))
    assert opening[4] == (first, True)
