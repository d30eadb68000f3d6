"""The connect path's shortcuts keep every rule of the front door: the
worker's record of tenants by host follows Domain changes, one trip to the
database thread per dashboard connect, a signed-out session is refused
however warm the path is, and the sockets' DB threads replace a dead
connection instead of failing on it."""

import asyncio
import json
import tempfile

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection, connections
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from orders import consumers
from orders.consumers import StoreOrdersSocket
from platform_core.plain_sql import Each
from stores.models import Store
from tenants.models import Domain
from tests.factories import create_order, login_cookie, session_cookie
from tests.servers import uvicorn_server, websocket
from tests.sockets import closed, first_frames
from ws import close_codes, groups, middleware, reads
from ws import db as ws_db
from ws.access import access_watch
from ws.hub import hub

pytestmark = pytest.mark.django_db(transaction=True)
STORE = "/ws/stores/1/orders/"


@sync_to_async
def in_public(change):
    with schema_context("public"):
        return change()


async def test_a_domain_moved_to_another_tenant_is_honoured_at_the_next_connect(world, open_socket):
    acme_cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    globex_cookie = await login_cookie(world.globex.tenant, world.globex.staff1)
    board = await open_socket(STORE, cookie=acme_cookie)
    await first_frames(board, "stream.live")  # acme.localhost → acme is now on record

    def move():
        domain = Domain.objects.get(domain="acme.localhost")
        domain.tenant = world.globex.tenant
        domain.is_primary = False
        domain.save()

    await in_public(move)
    # The host now serves globex: acme's session is nobody there, globex's
    # staff see globex's store 1 (same id as acme's) and nothing of acme's.
    refused = await open_socket(STORE, cookie=acme_cookie)
    assert await refused.closed_with() == close_codes.NOT_SIGNED_IN
    moved = await open_socket(STORE, cookie=globex_cookie)
    await first_frames(moved, "stream.live")
    await sync_to_async(create_order)(world.acme.tenant, external_id="ACME-1")
    await sync_to_async(create_order)(world.globex.tenant, external_id="GLOBEX-1")
    frame = await moved.receive()
    while frame["type"] == "presence":
        frame = await moved.receive()
    assert (frame["type"], frame["data"]["order"]["external_id"]) == ("order.created", "GLOBEX-1")
    # Nothing of acme's follows (presence comes in the worker's batches, whenever).
    while (frame := await moved.next_or_none()) is not None:
        assert frame["type"] == "presence" and [u["id"] for u in frame["users"]] == [world.globex.staff1.pk], frame


async def test_a_deleted_domain_is_a_4404_at_the_next_connect(world, open_socket):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    await in_public(lambda: Domain.objects.get(domain="acme.localhost").delete())
    socket = await open_socket(STORE, cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_FOUND


async def test_a_change_no_signal_announces_is_honoured_within_tenant_cache_seconds(world, open_socket, settings):
    # As a change made by another process looks to this one: no receiver runs here.
    settings.TENANT_CACHE_SECONDS = 0.5
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    await in_public(lambda: Domain.objects.filter(domain="acme.localhost").update(domain="elsewhere.localhost"))
    await asyncio.sleep(0.6)
    socket = await open_socket(STORE, cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_FOUND


async def test_a_dashboard_connect_reads_on_the_event_loop_with_no_trip_to_a_thread(world, open_socket, monkeypatch):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")  # the host is on record
    trips = []
    real_trip = ws_db.on_db_thread

    async def counted_trip(func):
        trips.append(func)
        return await real_trip(func)

    monkeypatch.setattr(ws_db, "on_db_thread", counted_trip)
    monkeypatch.setattr(middleware, "on_db_thread", counted_trip)
    statements = CountedStatements(monkeypatch)
    await sync_to_async(create_order)(world.acme.tenant, external_id="ACME-1")
    socket = await open_socket(STORE + "?after=0", cookie=cookie)
    frames = [await socket.receive()]
    while frames[-1]["type"] != "stream.live":
        frames.append(await socket.receive())
    # The replay batch came with the connect's reads, all on the loop.
    assert [f["type"] for f in frames if f["type"] != "presence"] == ["order.created", "stream.live"]
    assert (trips, statements.count) == ([], 1)


async def test_a_signed_out_session_is_refused_even_on_a_warm_path(world, open_socket):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    # The same session connects twice: host on record, the DB thread's
    # connection in acme's schema, the store's presence seen by the hub.
    for _ in range(2):
        await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")

    @sync_to_async
    def sign_out():
        response = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie).post("/accounts/logout/")
        connection.set_schema_to_public()
        return response.status_code

    assert await sign_out() == 302
    socket = await open_socket(STORE, cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


# --- a reconnect: the session read with the rest, in one statement -------------------------
class CountedStatements:
    """Counts the statements the event loop's read connections execute."""

    def __init__(self, monkeypatch):
        self.count = 0
        self.sql: list[str] = []
        real = reads._rows

        async def counted(cursor, sql, params):
            self.count += 1
            self.sql.append(sql)
            return await real(cursor, sql, params)

        monkeypatch.setattr(reads, "_rows", counted)


@sync_to_async
def session_data_of(tenant, cookie: str) -> str:
    with tenant_context(tenant):
        return Session.objects.get(session_key=cookie.split("=", 1)[1]).session_data


@sync_to_async
def set_session_data(tenant, cookie: str, data: str) -> None:
    with tenant_context(tenant):
        Session.objects.filter(session_key=cookie.split("=", 1)[1]).update(session_data=data)


@sync_to_async
def end_session(tenant, cookie: str) -> None:
    with tenant_context(tenant):
        Session.objects.filter(session_key=cookie.split("=", 1)[1]).delete()


async def test_a_reconnect_reads_in_one_statement_and_a_first_connect_in_two(world, open_socket, monkeypatch):
    statements = CountedStatements(monkeypatch)
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    assert statements.count == 2  # the session, then the rest
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    assert statements.count == 3  # the session came with the rest


async def test_a_remembered_session_that_now_names_someone_else_is_read_again(world, open_socket, monkeypatch):
    staff_cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=staff_cookie), "stream.live")  # remembered: staff1
    # The same key now holds a session of the customer (no staff of any store).
    customer_cookie = await login_cookie(world.acme.tenant, world.acme.customer)
    await set_session_data(world.acme.tenant, staff_cookie, await session_data_of(world.acme.tenant, customer_cookie))
    socket = await open_socket(STORE, cookie=staff_cookie)
    assert await socket.closed_with() == close_codes.FORBIDDEN  # the customer's access, not staff1's


async def test_with_another_session_engine_a_reconnect_opens_too(world, open_socket, settings):
    # Its sessions have no row: the connect reads them through Django, on
    # the DB thread, and must not take a remembered user's shortcut that
    # reads the session from the database table.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    for _ in range(2):
        await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")


@pytest.mark.parametrize("change", ["tampered", "ended", "new password"])
async def test_a_remembered_session_is_judged_on_the_row_read_now(world, open_socket, change):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    if change == "tampered":
        data = await session_data_of(world.acme.tenant, cookie)
        await set_session_data(world.acme.tenant, cookie, data[:-3] + ("AAA" if data[-3:] != "AAA" else "BBB"))
    elif change == "ended":
        await end_session(world.acme.tenant, cookie)
    else:

        @sync_to_async
        def new_password():
            with tenant_context(world.acme.tenant):
                world.acme.staff1.set_password("another-long-passphrase")
                world.acme.staff1.save()

        await new_password()
    socket = await open_socket(STORE, cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


# --- the sockets' DB threads: a connection kept, checked on failure ---------------------------
@pytest.fixture
def one_db_thread(settings):
    """One socket DB thread, so that consecutive calls share its connection."""
    ws_db.close_connections()
    old = ws_db._executor, ws_db._threads
    settings.WS_DB_THREADS = 1
    ws_db._executor = None
    yield
    ws_db.close_connections()
    ws_db._executor.shutdown()
    ws_db._executor, ws_db._threads = old


def kill(backend_pid: int) -> None:
    """End a backend from outside, as a PostgreSQL restart does."""
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None, autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


async def test_a_dead_kept_connection_is_replaced_and_the_call_runs_on_a_fresh_one(world, one_db_thread):
    first = await ws_db.in_tenant(world.acme.tenant, backend_pid)
    assert await ws_db.in_tenant(world.acme.tenant, backend_pid) == first  # kept, not handed back
    attempts = []

    def killed_then_count():
        connection.ensure_connection()  # the kept one, or on the retry a fresh one
        attempts.append(connection.connection.info.backend_pid)
        if len(attempts) == 1:
            kill(attempts[0])
        return Store.objects.count()

    assert await ws_db.in_tenant(world.acme.tenant, killed_then_count) == 2
    assert len(attempts) == 2 and attempts[1] != first
    assert await ws_db.in_tenant(world.acme.tenant, backend_pid) == attempts[1]


async def test_a_call_that_did_part_of_its_work_is_not_run_again(world, one_db_thread):
    await ws_db.in_tenant(world.acme.tenant, backend_pid)
    attempts = []

    def write_then_die():
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # done: a retry would do it twice
            kill(connection.connection.info.backend_pid)
            cursor.execute("SELECT 1")

    with pytest.raises(OperationalError):
        await ws_db.in_tenant(world.acme.tenant, write_then_die)
    assert attempts == [1]
    # The thread takes a fresh connection for the next call.
    assert await ws_db.in_tenant(world.acme.tenant, lambda: Store.objects.count()) == 2


# --- the event loop's read connections (ws/reads.py) -----------------------------------------
@pytest.fixture
def one_read_connection(settings):
    """One read connection per loop, so that consecutive reads share it."""
    settings.WS_DB_READ_CONNECTIONS = 1


async def read_backend_pid() -> int:
    async def pid(cursor):
        await cursor.execute("SELECT pg_backend_pid()")
        return (await cursor.fetchone())[0]

    return await reads.read(pid)


async def test_a_dead_read_connection_is_replaced_and_the_dashboard_still_opens(
    world, open_socket, one_read_connection
):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    first = await read_backend_pid()
    assert await read_backend_pid() == first  # kept from read to read
    await asyncio.to_thread(kill, first)  # as a PostgreSQL restart does
    await first_frames(await open_socket(STORE, cookie=cookie), "stream.live")
    assert await read_backend_pid() != first


async def test_a_statement_that_fails_on_a_live_read_connection_is_not_run_again(world, one_read_connection, settings):
    settings.WS_DB_READ_TIMEOUT_SECONDS = 0.05
    ws_db.close_connections()  # the next read connects, with that timeout
    attempts = []

    async def too_slow(cursor):
        attempts.append(1)
        await cursor.execute("SELECT pg_sleep(1)")

    with pytest.raises(OperationalError):  # an outage to the socket: 1013
        await reads.read(too_slow)
    assert attempts == [1]
    assert await read_backend_pid() > 0  # the connection is still in use


async def test_one_tenants_locked_table_costs_its_connect_a_1013_and_the_other_tenant_a_free_connection(
    world, open_socket, settings
):
    settings.WS_DB_READ_TIMEOUT_SECONDS = 2
    ws_db.close_connections()
    acme = await login_cookie(world.acme.tenant, world.acme.staff1)
    globex = await login_cookie(world.globex.tenant, world.globex.staff1)
    db = connection.settings_dict
    locker = await psycopg.AsyncConnection.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or None
    )
    try:
        # As a migration of acme's schema holds it.
        await locker.execute("LOCK TABLE acme.stores_store IN ACCESS EXCLUSIVE MODE")
        locked = await open_socket(STORE, cookie=acme)
        await asyncio.sleep(0.2)  # its read waits on the lock, on one of the two read connections
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(3):
            await first_frames(await open_socket(STORE, host="globex.localhost", cookie=globex), "stream.live")
        assert loop.time() - started < 1.5  # no globex connect waited the 2 s of acme's lock
        assert await locked.closed_with(timeout=5) == close_codes.TRY_AGAIN_LATER  # after WS_DB_READ_TIMEOUT_SECONDS
    finally:
        await locker.rollback()
        await locker.close()
    await first_frames(await open_socket(STORE, cookie=acme), "stream.live")  # the lock gone, acme opens


async def test_a_connect_whose_read_fails_is_told_1013_and_lets_go_of_everything(
    world, open_socket, monkeypatch, caplog
):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)

    async def unavailable(reads_):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(consumers, "run_reads", unavailable)
    socket = await open_socket(STORE, cookie=cookie)
    assert await socket.closed_with() == close_codes.TRY_AGAIN_LATER
    await socket.communicator.send_input({"type": "websocket.disconnect", "code": close_codes.TRY_AGAIN_LATER})
    await asyncio.sleep(0.2)  # its disconnect has run, as the server would make it
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    assert not hub().members.get(groups.store_orders(world.acme.tenant, 1))  # left the store's stream


async def test_reads_load_timestamps_as_django_does_whatever_the_database_time_zone(world, one_read_connection):
    @sync_to_async
    def database_time_zone(zone: str | None):
        with connection.cursor() as cursor:
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(
                f"ALTER DATABASE {name} SET TimeZone = %s" if zone else f"ALTER DATABASE {name} RESET TimeZone",
                [zone] if zone else [],
            )

    async def date_joined(cursor):
        await cursor.execute("SELECT date_joined FROM acme.platform_core_user WHERE id = %s", [world.acme.staff1.pk])
        return (await cursor.fetchone())[0]

    await database_time_zone("America/Bogota")  # UTC-5: a read connection made now starts there
    try:
        ws_db.close_connections()
        assert await reads.read(date_joined) == world.acme.staff1.date_joined
    finally:
        await database_time_zone(None)


async def test_handshakes_in_flight_share_one_tenant_lookup(world, monkeypatch):
    middleware.tenants_by_host.forget()  # as when the entry expires in a storm
    lookups = []
    real = middleware.on_db_thread

    async def counted(func):
        lookups.append(func)
        await asyncio.sleep(0.05)  # a slow database: the others arrive meanwhile
        return await real(func)

    monkeypatch.setattr(middleware, "on_db_thread", counted)
    tenants = await asyncio.gather(*(middleware.tenants_by_host.get("acme.localhost") for _ in range(20)))
    assert len(lookups) == 1
    assert {tenant.pk for tenant in tenants} == {world.acme.tenant.pk}


async def test_a_sign_out_while_the_socket_is_let_in_closes_it_before_it_opens(world, open_socket, monkeypatch):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    key = ("acme", world.acme.staff1.pk)
    real_admit = StoreOrdersSocket.admit

    @sync_to_async
    def sign_out():
        Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie).post("/accounts/logout/")
        connection.set_schema_to_public()

    async def admit_then_sign_out(socket):
        # The credential was read and held; the sign-out lands before the
        # socket is registered, so no socket of the user hears it.
        refusal = await real_admit(socket)
        since = access_watch().generation
        await sign_out()
        for _ in range(100):
            if access_watch().changed_since(since, key):
                break
            await asyncio.sleep(0.02)
        return refusal

    monkeypatch.setattr(StoreOrdersSocket, "admit", admit_then_sign_out)
    socket = await open_socket(STORE, cookie=cookie)
    assert await closed(socket) == close_codes.NOT_SIGNED_IN


# --- the server around the path --------------------------------------------------------------
async def test_uvicorn_writes_no_line_per_socket_below_log_level(world):
    cookie = await sync_to_async(session_cookie)(world.acme.tenant, world.acme.customer)
    with tempfile.TemporaryFile("w+") as log:
        # uvicorn at its default level; LOG_LEVEL says warnings only.
        with uvicorn_server(output=log, log_level="info", extra_env={"LOG_LEVEL": "WARNING"}) as server:
            for _ in range(3):
                async with websocket(server, "/ws/notifications/", host="acme.localhost", cookie=cookie) as ws:
                    assert "notifications.unread" in await asyncio.wait_for(ws.recv(), 5)
        log.seek(0)
        text = log.read()
    await sync_to_async(connections.close_all)()
    assert "[accepted]" not in text and "connection open" not in text, text[-2000:]


# --- dashboards opening together read together (ws/reads.py `run_reads`) -------------------
def rows_of(sql: str, **params):
    """A read of one `Each` statement: this reader's rows."""
    rows = yield Each(sql, params)
    return rows


# Each reader's own rows: `v` of them, numbered.
SERIES = "SELECT i.n, i.v, g FROM json_to_recordset(%s::json) AS i(n int, v int), generate_series(1, i.v) g"


async def test_readers_waiting_together_share_one_statement_each_with_its_own_rows(world, monkeypatch):
    statements = CountedStatements(monkeypatch)
    count = reads.READERS_PER_STATEMENT + 6
    answers = await asyncio.gather(*(reads.run_reads(rows_of(SERIES, v=v % 4)) for v in range(count)))
    assert answers == [[(v % 4, g) for g in range(1, v % 4 + 1)] for v in range(count)]  # none for v = 0
    assert statements.count == 2  # READERS_PER_STATEMENT, then the 6 that waited for it


async def test_under_load_a_statement_s_next_execution_also_takes_the_readers_that_come_meanwhile(world, monkeypatch):
    served, release, real = [], asyncio.Event(), reads._rows

    async def held(cursor, sql, params):
        served.append([reader["v"] for reader in json.loads(params[0])])
        if len(served) == 1:
            await release.wait()
        return await real(cursor, sql, params)

    monkeypatch.setattr(reads, "_rows", held)
    first = asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=1)))  # alone: it goes at once
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=2)))  # waits: its statement is under way
    await asyncio.sleep(0)
    release.set()
    assert await first == [(1, 1)]
    third = asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=3)))  # comes as the statement gathers
    assert await asyncio.gather(second, third) == [[(2, 1), (2, 2)], [(3, 1), (3, 2), (3, 3)]]
    assert served == [[1], [2, 3]]


async def test_a_reader_gone_while_waiting_does_not_hold_back_the_others(world):
    waiting = [asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=v))) for v in (1, 2, 3)]
    await asyncio.sleep(0)  # all three asked
    waiting[1].cancel()
    answers = await asyncio.gather(*waiting, return_exceptions=True)
    assert answers[0] == [(1, 1)] and answers[2] == [(3, 1), (3, 2), (3, 3)]
    assert isinstance(answers[1], asyncio.CancelledError)


async def test_readers_past_a_statement_s_share_are_answered_even_when_all_before_them_are_gone(world, monkeypatch):
    release, real = asyncio.Event(), reads._rows

    async def held(cursor, sql, params):
        await release.wait()
        return await real(cursor, sql, params)

    monkeypatch.setattr(reads, "_rows", held)
    first = asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=1)))
    await asyncio.sleep(0.05)  # its statement is under way: the next readers wait for it
    gone = [asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=1))) for _ in range(reads.READERS_PER_STATEMENT)]
    last = [asyncio.ensure_future(reads.run_reads(rows_of(SERIES, v=v))) for v in (2, 3)]
    await asyncio.sleep(0)
    for reader in gone:
        reader.cancel()
    release.set()
    assert await asyncio.wait_for(asyncio.gather(first, *last), timeout=5) == [
        [(1, 1)],
        [(2, 1), (2, 2)],
        [(3, 1), (3, 2), (3, 3)],
    ]


async def test_a_statement_that_fails_fails_each_of_its_readers_as_an_outage_of_its_own(world, settings):
    settings.WS_DB_READ_TIMEOUT_SECONDS = 0.05
    ws_db.close_connections()  # the next read connects, with that timeout
    slow = "SELECT i.n, pg_sleep(1) FROM json_to_recordset(%s::json) AS i(n int, v int)"
    answers = await asyncio.gather(*(reads.run_reads(rows_of(slow, v=v)) for v in range(3)), return_exceptions=True)
    assert all(isinstance(answer, OperationalError) for answer in answers)  # 1013 to each socket
    assert len({id(answer) for answer in answers}) == 3
    assert await reads.run_reads(rows_of(SERIES, v=2)) == [(2, 1), (2, 2)]  # the next statement runs


@pytest.mark.parametrize(
    "key", ["quo\"te\\back'slash", "é" * 20, "\u2028\u2029" * 6, "🍕" * 8, "k" * 2000, "null" * 3, '[]{}":,12345']
)
async def test_a_hostile_session_key_read_with_a_real_one_is_refused_alone(world, open_socket, monkeypatch, key):
    # Sessions unknown to the worker: each connect reads its session first.
    first = await login_cookie(world.acme.tenant, world.acme.manager1)
    staff = await login_cookie(world.acme.tenant, world.acme.staff1)
    sessions_read, release, real = [], asyncio.Event(), reads._rows

    async def held(cursor, sql, params):
        if "django_session" in sql and '"user"' not in sql:  # the session's own statement
            sessions_read.append(len(json.loads(params[0])))
            if len(sessions_read) == 1:
                await release.wait()  # the next sessions queue behind this one
        return await real(cursor, sql, params)

    monkeypatch.setattr(reads, "_rows", held)
    holder = await open_socket(STORE, cookie=first)
    await asyncio.sleep(0.05)
    hostile = await open_socket(STORE, cookie=f"sessionid={key}")
    board = await open_socket(STORE, cookie=staff)
    await asyncio.sleep(0.05)
    release.set()
    assert await hostile.closed_with() == close_codes.NOT_SIGNED_IN
    await first_frames(board, "stream.live")
    await first_frames(holder, "stream.live")
    assert sessions_read == [1, 2]  # the hostile key and the real one, in one statement


async def test_dashboards_opening_together_share_a_statement_per_tenant_and_each_gets_its_own_answer(
    world, open_socket, monkeypatch
):
    staff = await login_cookie(world.acme.tenant, world.acme.staff1)
    customer = await login_cookie(world.acme.tenant, world.acme.customer)
    globex = await login_cookie(world.globex.tenant, world.globex.staff1)  # same user id, same store id
    for _ in range(3):
        await sync_to_async(create_order)(world.acme.tenant)
    await sync_to_async(create_order)(world.globex.tenant, external_id="GLOBEX-1")
    # Every session known to the worker: each opening is one statement.
    await first_frames(await open_socket(STORE, cookie=staff), "stream.live")
    await first_frames(await open_socket(STORE, host="globex.localhost", cookie=globex), "stream.live")
    assert await (await open_socket(STORE, cookie=customer)).closed_with() == close_codes.FORBIDDEN

    served, release, real = [], asyncio.Event(), reads._rows

    async def held(cursor, sql, params):
        served.append((sql, json.loads(params[0])))
        if len(served) == 1:
            await release.wait()  # acme's first opening waits: the next ones queue behind it
        return await real(cursor, sql, params)

    monkeypatch.setattr(reads, "_rows", held)
    first = await open_socket(STORE + "?after=0", cookie=staff)
    await asyncio.sleep(0.1)
    boards = [await open_socket(STORE + "?after=1", cookie=staff) for _ in range(2)]
    refused = await open_socket(STORE, cookie=customer)
    others = [await open_socket(STORE + "?after=0", host="globex.localhost", cookie=globex) for _ in range(2)]
    await asyncio.sleep(0.1)
    release.set()

    async def replayed(socket) -> tuple[list[int], int]:
        seqs = []
        while (frame := await socket.receive())["type"] != "stream.live":
            if "seq" in frame:
                seqs.append(frame["seq"])
        return seqs, frame["latest_seq"]

    assert await replayed(first) == ([1, 2, 3], 3)
    assert [await replayed(board) for board in boards] == [([2, 3], 3)] * 2
    assert await refused.closed_with() == close_codes.FORBIDDEN
    assert [await replayed(other) for other in others] == [([1], 1)] * 2  # globex's store 1, not acme's
    acme = [readers for sql, readers in served if '"acme".' in sql]
    assert [len(readers) for readers in acme] == [1, 3]  # the three that waited, in one statement
    assert all('"acme".' not in sql for sql, readers in served if '"globex".' in sql)
