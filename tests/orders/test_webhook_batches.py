"""Webhooks applied many to a transaction (orders/integrations/batch.py) and
answered at the ASGI edge (edge.py): one bad request fails alone, copies in
one batch apply once, a failed transaction answers every request of it and
writes nothing, tenants with colliding ids stay apart, a 2xx means
committed, and dashboards still get every event in seq order."""

import asyncio
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from orders.integrations import batch
from orders.integrations.services import integration_create, integration_secret_add
from orders.models import Integration, Order, OrderComment, StoreEvent, WebhookDelivery
from orders.stream import StreamBatch
from stores.models import Store
from tests.factories import login_cookie
from tests.orders.webhook_client import payload, sign
from tests.servers import websocket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(world):
    with tenant_context(world.acme.tenant):
        return integration_create(name="shop")


def signed(integration_id: int, secret: str, body, *, msg_id: str | None = None) -> batch.WebhookRequest:
    text = body if isinstance(body, str) else json.dumps(body)
    headers = {name.lower(): value for name, value in sign(secret, text, msg_id=msg_id).items()}
    return batch.WebhookRequest(
        integration_id=integration_id, address="127.0.0.1", headers=headers, body=text.encode()
    ).prepare()


def written(tenant):
    """Everything a webhook writes, to compare before and after."""
    with tenant_context(tenant):
        return (
            list(Order.objects.order_by("id").values_list("store_id", "external_id", "status", "notes")),
            OrderComment.objects.count(),
            list(StoreEvent.objects.order_by("store_id", "seq").values_list("store_id", "seq", "type")),
            list(WebhookDelivery.objects.order_by("id").values_list("webhook_id", "accepted", "status_code")),
            list(Store.objects.order_by("id").values_list("id", "last_seq")),
        )


# --- one batch, several outcomes -----------------------------------------------------------
def test_one_bad_request_in_a_batch_fails_alone_and_the_others_commit(world, integration, published):
    integ, secret = integration
    requests = [
        signed(integ.pk, secret, payload(external_id="A", total="5")),
        # Refused after its delivery row was written (a forbidden transition):
        # its savepoint takes that row back.
        signed(integ.pk, secret, payload("order.status_changed", external_id="A", status="completed"), msg_id="bad"),
        signed(integ.pk, secret, payload(external_id="B", total="5", store_id=999)),  # no such store
        signed(integ.pk, secret, payload("order.comment_added", external_id="A", body="¿Con hielo?")),
        signed(integ.pk, secret, payload(external_id="C", total="7", store_id=2)),
        signed(integ.pk, secret, '{"type": "order.created"'),  # not JSON
    ]
    answers = batch.apply_batch([("acme.localhost", r) for r in requests])

    assert [a.status for a in answers] == [200, 422, 422, 200, 200, 400]
    assert answers[1].body["error"]["code"] == "invalid_transition"
    assert answers[2].body["error"]["fields"] == {"data.store_id": "no such store"}
    assert answers[0].body["order"]["external_id"] == "A" and answers[4].body["order"]["store_id"] == 2
    orders, comments, events, deliveries, _ = written(world.acme.tenant)
    assert [(store, external_id) for store, external_id, *_ in orders] == [(1, "A"), (2, "C")]
    assert comments == 1
    assert events == [(1, 1, "order.created"), (1, 2, "order.comment_added"), (2, 1, "order.created")]
    assert sorted(accepted for _, accepted, _ in deliveries) == [False, False, False, True, True, True]
    assert ("bad", False, 422) in deliveries, "a refusal is logged, never applied"
    # Published after the commit, each store's frames in seq order.
    assert [(p.group.rsplit("_", 1)[1], p.seq) for p in published] == [("1", 1), ("1", 2), ("2", 1)]


def test_copies_of_one_webhook_id_in_one_batch_apply_once(world, integration):
    integ, secret = integration
    body = json.dumps(payload(external_id="D", total="9.90", notes="first"))
    other = json.dumps(payload(external_id="D", total="9.90", notes="another body"))
    requests = [
        signed(integ.pk, secret, body, msg_id="msg_same"),
        signed(integ.pk, secret, body, msg_id="msg_same"),
        signed(integ.pk, secret, other, msg_id="msg_same"),
    ]
    answers = batch.apply_batch([("acme.localhost", r) for r in requests])

    assert [a.status for a in answers] == [200, 200, 409]
    assert [answers[0].body["status"], answers[1].body["status"]] == ["processed", "duplicate"]
    assert answers[2].body["error"]["fields"] == {
        "webhook-id": "already used for another body: a new event needs a new id"
    }
    orders, _, events, deliveries, _ = written(world.acme.tenant)
    assert orders == [(1, "D", "new", "first")], "the other body changed nothing"
    assert events == [(1, 1, "order.created")]
    assert [accepted for _, accepted, _ in deliveries].count(True) == 1


def test_a_batch_of_new_orders_costs_the_same_few_statements_whatever_its_size(world, integration, published):
    # The fast path (issue 15): the orders looked up once, inserted in one
    # statement and their delivery rows in another; the stores locked, the
    # stream events and the stores' last seq written once for the batch;
    # the unattended-board checks armed in one. The rest is per batch (the
    # tenant, integrations, secrets, rate counters, stores). One request at
    # a time in savepoints cost about ten statements each, and one INSERT
    # per order and per delivery row, two each.
    integ, secret = integration

    def apply(first: int, count: int):
        requests = [
            signed(integ.pk, secret, payload(external_id=f"N{n}", total="1", store_id=1 + n % 2))
            for n in range(first, first + count)
        ]
        with tenant_context(world.acme.tenant), CaptureQueriesContext(connection) as statements:
            answers = batch.apply_in_tenant(requests)
        return answers, [q["sql"] for q in statements.captured_queries]

    few, few_statements = apply(100, 4)
    published.clear()
    answers, statements = apply(0, 32)

    assert [a.status for a in few] == [200] * 4
    assert len(statements) == len(few_statements) <= 16, [sql[:80] for sql in statements]
    assert [a.status for a in answers] == [200] * 32
    assert len(statements) <= 2 * 32 + 16, [q["sql"][:80] for q in statements.captured_queries]
    assert [a.body["order"]["external_id"] for a in answers] == [f"N{n}" for n in range(32)]
    orders, _, events, deliveries, last_seq = written(world.acme.tenant)
    assert len(orders) == 36
    assert [seq for store, seq, _ in events if store == 1] == list(range(1, 19))
    assert [seq for store, seq, _ in events if store == 2] == list(range(1, 19))
    assert last_seq[:2] == [(1, 18), (2, 18)]
    with tenant_context(world.acme.tenant):
        linked = dict(WebhookDelivery.objects.values_list("webhook_id", "order__external_id"))
        frames = {e.seq: json.loads(e.frame) for e in StoreEvent.objects.filter(store_id=1)}
        ids = dict(Order.objects.values_list("external_id", "id"))
    assert sorted(linked.values()) == sorted(ids), "each delivery names its order"
    assert frames[3]["data"]["order"]["external_id"] == "N0" and frames[18]["data"]["order"]["external_id"] == "N30"
    assert frames[3]["data"]["order"]["id"] == ids["N0"], "the frame carries the order as inserted"
    assert [a.body["order"]["id"] for a in answers] == [ids[f"N{n}"] for n in range(32)]
    assert [(p.group.rsplit("_", 1)[1], p.seq) for p in published if p.group.endswith("_1")] == [
        ("1", seq) for seq in range(3, 19)
    ]


def test_a_batch_stores_each_frame_exactly_as_it_was_published(world, integration, published):
    """The batch writes its events as one JSON text (orders/stream.py): what
    replay sends later must be, character for character, what went live,
    whatever the order's text holds."""
    integ, secret = integration
    texts = [
        'dijo "sin cebolla", ni \\ ni \\"',
        "\\u0000 \\n is not a newline, \\\\ two",
        "Añadir jalapeños 🌶️ y ñoquis; 'comillas' \u2028 fin",
        '{"nested": [1, "x"]}',
    ]
    requests = [
        signed(integ.pk, secret, payload(external_id=f"Q{n}", total="1", notes=text, store_id=1))
        for n, text in enumerate(texts)
    ]
    with tenant_context(world.acme.tenant):
        answers = batch.apply_in_tenant(requests)
        stored = dict(StoreEvent.objects.filter(store_id=1).values_list("seq", "frame"))

    assert [a.status for a in answers] == [200] * len(texts)
    live = {p.seq: p.text for p in published if p.group.endswith("_1")}
    assert sorted(stored) == sorted(live) and len(stored) >= len(texts)
    assert stored == live
    assert [json.loads(stored[seq])["data"]["order"]["notes"] for seq in sorted(stored)][-len(texts) :] == texts


def test_one_webhook_id_on_two_new_orders_in_a_batch_applies_the_first_and_refuses_the_second(world, integration):
    # Both look new, so the batch takes the fast path; their delivery rows
    # collide, and the batch goes again one request at a time. Another
    # integration may use the same id: ids are per integration.
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        other, other_secret = integration_create(name="another shop")
    requests = [
        signed(integ.pk, secret, payload(external_id="F1", total="1"), msg_id="msg_twice"),
        signed(integ.pk, secret, payload(external_id="F2", total="2"), msg_id="msg_twice"),
        signed(other.pk, other_secret, payload(external_id="F3", total="3"), msg_id="msg_twice"),
    ]
    answers = batch.apply_batch([("acme.localhost", r) for r in requests])

    assert [a.status for a in answers] == [200, 409, 200]
    orders, _, events, deliveries, last_seq = written(world.acme.tenant)
    assert [external_id for _, external_id, *_ in orders] == ["F1", "F3"]
    assert events == [(1, 1, "order.created"), (1, 2, "order.created")], "the rolled-back attempt left no gap"
    assert last_seq[0] == (1, 2)
    assert sorted((webhook_id, accepted) for webhook_id, accepted, _ in deliveries) == [
        ("msg_twice", False),
        ("msg_twice", True),
        ("msg_twice", True),
    ]


def test_a_webhook_id_reused_for_a_new_order_is_a_conflict_and_the_batch_keeps_its_seqs(world, integration, published):
    integ, secret = integration
    batch.apply_batch(
        [("acme.localhost", signed(integ.pk, secret, payload(external_id="E1", total="1"), msg_id="msg_x"))]
    )
    published.clear()
    answers = batch.apply_batch(
        [
            ("acme.localhost", signed(integ.pk, secret, payload(external_id="E2", total="2"), msg_id="msg_x")),
            ("acme.localhost", signed(integ.pk, secret, payload(external_id="E3", total="3"), msg_id="msg_y")),
        ]
    )

    assert [a.status for a in answers] == [409, 200]
    orders, _, events, _, last_seq = written(world.acme.tenant)
    assert [external_id for _, external_id, *_ in orders] == ["E1", "E3"]
    assert events == [(1, 1, "order.created"), (1, 2, "order.created")], "the rolled-back attempt left no gap"
    assert last_seq[0] == (1, 2)
    assert [p.seq for p in published] == [2], "nothing of the rolled-back attempt was published"


def test_tenants_with_the_same_integration_store_and_order_ids_stay_apart(world):
    secrets = {}
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant):
            integ = Integration.objects.create(id=7, name="shop")  # the same id in both schemas
            secrets[cast.tenant.schema_name] = integration_secret_add(integration=integ)
    body = json.dumps(payload(external_id="SAME-1", total="3"))  # store 1 exists in both
    acme, globex = secrets[world.acme.tenant.schema_name], secrets[world.globex.tenant.schema_name]
    answers = batch.apply_batch(
        [
            ("acme.localhost", signed(7, acme, body, msg_id="msg_1")),
            ("globex.localhost", signed(7, globex, body, msg_id="msg_1")),  # the same webhook-id
            ("globex.localhost", signed(7, acme, body, msg_id="msg_2")),  # acme's secret, on globex
            ("nowhere.localhost", signed(7, acme, body, msg_id="msg_3")),  # no tenant: left to Django
        ]
    )
    assert [a.status if a else None for a in answers[:3]] == [200, 200, 401] and answers[3] is None
    assert answers[0].body["status"] == answers[1].body["status"] == "processed"
    for cast in (world.acme, world.globex):
        orders, _, events, deliveries, _ = written(cast.tenant)
        assert [(store, external_id) for store, external_id, *_ in orders] == [(1, "SAME-1")]
        assert events == [(1, 1, "order.created")]
        assert deliveries == [("msg_1", True, 200)]


def test_batches_of_one_tenant_set_its_schema_once_and_another_tenant_s_batch_lands_in_its_own(world):
    """The batch thread stays in a tenant between batches (ws/db.py use_tenant):
    `SET search_path` only when the tenant changes, and a batch of the
    other tenant, with the same integration, store and order ids, still
    writes to its own schema, before and after."""
    secrets = {}
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant):
            integ = Integration.objects.create(id=7, name="shop")
            secrets[cast.tenant.schema_name] = integration_secret_add(integration=integ)
    connection.set_schema_to_public()
    sent = []

    def one_batch(cast, n: int) -> list[str]:
        secret = secrets[cast.tenant.schema_name]
        request = signed(7, secret, payload(external_id=f"B{n}", total="1"))
        with CaptureQueriesContext(connection) as statements:
            (answer,) = batch.apply_batch([(cast.tenant, request)])
        assert answer.status == 200, answer.body
        sent.append((cast.tenant.schema_name, f"B{n}"))
        return [q["sql"] for q in statements.captured_queries if q["sql"].startswith("SET search_path")]

    sets = [one_batch(cast, n) for n, cast in enumerate([world.acme, world.acme, world.globex, world.acme])]

    assert sets == [
        ['SET search_path = "acme","public"'],
        [],
        ['SET search_path = "globex","public"'],
        ['SET search_path = "acme","public"'],
    ]
    for cast in (world.acme, world.globex):
        orders, _, events, _, _ = written(cast.tenant)
        mine = [external_id for schema, external_id in sent if schema == cast.tenant.schema_name]
        assert [external_id for _, external_id, *_ in orders] == mine
        assert [seq for _, seq, _ in events] == list(range(1, len(mine) + 1))


# --- a transaction that fails: every request of it is answered, nothing written ------------
@pytest.fixture
def trigger_on_orders(world):
    """Install a trigger on acme's orders table for one test."""
    schema = world.acme.tenant.schema_name
    installed = []

    def install(*, body: str, deferred: bool):
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE FUNCTION {schema}.webhook_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body} RETURN NEW; END $$"
            )
            timing = (
                "CONSTRAINT TRIGGER webhook_test_fault AFTER INSERT"
                if deferred
                else ("TRIGGER webhook_test_fault BEFORE INSERT")
            )
            cursor.execute(
                f"CREATE {timing} ON {schema}.orders_order "
                + ("DEFERRABLE INITIALLY DEFERRED " if deferred else "")
                + f"FOR EACH ROW EXECUTE FUNCTION {schema}.webhook_test_fault()"
            )
        installed.append(schema)

    yield install
    for schema in installed:
        with connections["default"].cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS webhook_test_fault ON {schema}.orders_order")
            cursor.execute(f"DROP FUNCTION IF EXISTS {schema}.webhook_test_fault()")


def test_two_workers_batches_of_the_same_new_orders_in_opposite_order_do_not_deadlock(
    world, integration, trigger_on_orders, caplog
):
    """Found by an outside test with two workers: batches inserting some of
    the same orders in arrival order waited on each other's rows of the
    unique index in a cycle (a deadlock: a second lost, then retried). The
    orders are inserted sorted, so the second batch waits for the first."""
    integ, secret = integration
    trigger_on_orders(body="IF NEW.external_id = 'DL-A' THEN PERFORM pg_sleep(0.5); END IF;", deferred=False)
    first = [signed(integ.pk, secret, payload(external_id=x, total="1")) for x in ("DL-A", "DL-B")]
    second = [signed(integ.pk, secret, payload(external_id=x, total="1")) for x in ("DL-B", "DL-A")]
    answers = {}

    def apply(name, requests):
        try:
            answers[name] = batch.apply_batch([("acme.localhost", r) for r in requests])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply, args=("first", first))]
    threads.append(threading.Thread(target=apply, args=("second", second)))
    threads[0].start()
    time.sleep(0.2)  # the first sleeps in DL-A's insert; the second inserts DL-B, then sleeps in DL-A's
    threads[1].start()
    for thread in threads:
        thread.join(20)

    assert [a.status for a in answers["first"] + answers["second"]] == [200] * 4
    assert "deadlocked" not in caplog.text
    orders, _, events, deliveries, _ = written(world.acme.tenant)
    assert sorted(external_id for _, external_id, *_ in orders) == ["DL-A", "DL-B"]
    assert [seq for _, seq, _ in events] == [1, 2], "the second batch's creations were applied as updates"
    assert sum(accepted for _, accepted, _ in deliveries) == 4


def test_a_commit_that_fails_answers_every_request_of_the_batch_and_writes_nothing(
    world, integration, trigger_on_orders, published
):
    integ, secret = integration
    # Checked only at COMMIT, after every request of the batch was applied.
    trigger_on_orders(
        body="IF NEW.external_id = 'FAIL-AT-COMMIT' THEN RAISE EXCEPTION 'refused at commit'; END IF;",
        deferred=True,
    )
    before = written(world.acme.tenant)
    requests = [
        signed(integ.pk, secret, payload(external_id="E", total="1")),
        signed(integ.pk, secret, payload(external_id="FAIL-AT-COMMIT", total="1", store_id=2)),
        signed(integ.pk, secret, payload(external_id="F", total="1")),
    ]
    answers = batch.apply_batch([("acme.localhost", r) for r in requests])

    assert [a.status for a in answers] == [500, 500, 500], "no 2xx for anything the commit did not keep"
    assert written(world.acme.tenant) == before
    assert published == []

    # The batcher's connection is usable again: the same requests, resent, apply.
    retried = batch.apply_batch([("acme.localhost", signed(integ.pk, secret, payload(external_id="E", total="1")))])
    assert retried[0].status == 200


def test_a_connection_lost_mid_batch_answers_503_and_writes_nothing(world, integration, trigger_on_orders, published):
    integ, secret = integration
    # PostgreSQL ends this session while it inserts the second order (as a
    # restart would): the transaction is gone with it.
    trigger_on_orders(
        body="IF NEW.external_id = 'KILL' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;",
        deferred=False,
    )
    before = written(world.acme.tenant)
    requests = [
        signed(integ.pk, secret, payload(external_id="G", total="1")),
        signed(integ.pk, secret, payload(external_id="KILL", total="1", store_id=2)),
    ]
    answers = batch.apply_batch([("acme.localhost", r) for r in requests])

    assert [a.status for a in answers] == [503, 503]
    assert answers[0].body["error"]["code"] == "unavailable" and answers[0].headers["Retry-After"]
    assert written(world.acme.tenant) == before
    assert published == []
    retried = batch.apply_batch([("acme.localhost", requests[0])])
    assert retried[0].status == 200, retried[0].body


# --- through the server: the edge and its batcher ------------------------------------------
def _post(port: int, integration_id: int, secret: str, body: dict, host: str = "acme.localhost"):
    text = json.dumps(body)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            f"/api/integrations/{integration_id}/webhook",
            body=text.encode(),
            headers={"Host": f"{host}:{port}", "Content-Type": "application/json", **sign(secret, text)},
        )
        response = conn.getresponse()
        headers, body = {k.lower(): v for k, v in response.getheaders()}, response.read()
        return response.status, headers, json.loads(body) if "json" in headers.get("content-type", "") else body
    finally:
        conn.close()


def test_through_the_edge_tenants_with_the_same_ids_stay_apart_and_a_removed_host_stops_at_once(world):
    """The edge takes each host's tenant from the worker's record (no query
    per batch). Integration 1, store 1 and order H-1 exist in both
    tenants; a secret of one is nothing on the other. A Domain removed in
    the server's process is forgotten there at once (the record's
    receivers); one removed elsewhere, within TENANT_CACHE_SECONDS."""
    from tenants.models import Domain
    from tests.servers import uvicorn_server

    twins = {}
    for name in ("acme", "globex"):
        with tenant_context(getattr(world, name).tenant):
            twins[name] = integration_create(name=f"{name} shop")
    assert twins["acme"][0].pk == twins["globex"][0].pk
    with uvicorn_server(extra_env={"TENANT_CACHE_SECONDS": "1"}) as server:
        answers = {
            name: _post(server.port, integ.pk, secret, payload(external_id="H-1", total="3"), host=f"{name}.localhost")
            for name, (integ, secret) in twins.items()
        }
        (acme_integ, acme_secret), (globex_integ, globex_secret) = twins["acme"], twins["globex"]
        crossed = _post(
            server.port, acme_integ.pk, acme_secret, payload(external_id="H-2", total="4"), "globex.localhost"
        )
        Domain.objects.filter(domain="globex.localhost").delete()  # in this process, not the server's
        time.sleep(1.2)
        gone = _post(
            server.port, globex_integ.pk, globex_secret, payload(external_id="H-3", total="5"), "globex.localhost"
        )
    connections.close_all()

    assert [status for status, _, _ in answers.values()] == [200, 200]
    assert crossed[0] == 401, crossed
    assert gone[0] == 404, gone
    for name in ("acme", "globex"):
        with tenant_context(getattr(world, name).tenant):
            assert list(Order.objects.values_list("store_id", "external_id", "total")) == [(1, "H-1", Decimal("3.00"))]
            assert StoreEvent.objects.count() == 1


def test_every_2xx_is_answered_after_its_order_is_committed(world, integration, product_server):
    integ, secret = integration

    def deliver(n: int):
        try:
            status, headers, body = _post(
                product_server.port, integ.pk, secret, payload(external_id=f"H-{n}", total="2")
            )
            # Read at once, on another connection than the server's.
            with tenant_context(world.acme.tenant):
                visible = Order.objects.filter(store_id=1, external_id=f"H-{n}").exists()
            return status, headers, body, visible
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(deliver, range(60)))

    assert {status for status, *_ in results} == {200}
    assert all(body["status"] == "processed" for _, _, body, _ in results)
    assert all(visible for *_, visible in results), "a 2xx arrived before its order was committed"
    assert all(headers.get("x-content-type-options") == "nosniff" for _, headers, _, _ in results)


async def test_a_dashboard_gets_every_batched_order_once_in_seq_order(world, integration, product_server):
    integ, secret = integration
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    async with websocket(product_server, "/ws/stores/1/orders/", host="acme.localhost", cookie=cookie) as socket:
        while json.loads(await socket.recv())["type"] != "stream.live":
            pass

        def deliver_all():
            try:
                with ThreadPoolExecutor(max_workers=16) as pool:
                    return list(
                        pool.map(
                            lambda n: _post(
                                product_server.port, integ.pk, secret, payload(external_id=f"I-{n}", total="1")
                            )[0],
                            range(50),
                        )
                    )
            finally:
                connections.close_all()

        statuses = await sync_to_async(deliver_all, thread_sensitive=False)()
        assert set(statuses) == {200}
        seqs, names = [], set()
        while len(seqs) < 50:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
            if frame["type"] == "order.created":
                seqs.append(frame["seq"])
                names.add(frame["data"]["order"]["external_id"])
    assert seqs == list(range(1, 51)), "gap-free, in order, once each"
    assert names == {f"I-{n}" for n in range(50)}


def test_two_workers_batches_of_new_orders_on_the_same_stores_neither_deadlock_nor_leave_gaps(
    world, integration, caplog, monkeypatch
):
    # Late locking (StreamBatch, lock_now=False): both batches insert their
    # orders, and only then lock the stores for their seqs, held here until
    # both have inserted. The second waits for the first's commit; neither
    # deadlocks (Django's foreign keys are DEFERRABLE, so their KEY SHARE
    # locks on the stores come at the commit, after the seq lock) and the
    # seqs stay gap-free and in commit order.
    integ, secret = integration
    both_inserted = threading.Barrier(2)
    held = set()
    lock = StreamBatch._lock

    def lock_when_both_have_inserted(self):
        if threading.current_thread().name not in held:
            held.add(threading.current_thread().name)
            both_inserted.wait(timeout=10)
        return lock(self)

    monkeypatch.setattr(StreamBatch, "_lock", lock_when_both_have_inserted)
    answers = []

    def worker(name):
        requests = [
            signed(integ.pk, secret, payload(external_id=f"{name}{n}", total="1", store_id=1 + n % 2)) for n in range(8)
        ]
        try:
            answers.extend(a.status for a in batch.apply_batch([("acme.localhost", r) for r in requests]))
        finally:
            connections.close_all()

    with caplog.at_level("WARNING"):
        threads = [threading.Thread(target=worker, args=(name,), name=name) for name in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert answers == [200] * 16
    assert "deadlocked" not in caplog.text
    _, _, events, _, last_seq = written(world.acme.tenant)
    for store_id in (1, 2):
        assert [seq for store, seq, _ in events if store == store_id] == list(range(1, 9))
    assert last_seq[:2] == [(1, 8), (2, 8)]
