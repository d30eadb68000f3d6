"""Reads on the event loop: a dashboard's connect without a thread hop.

A dashboard signed in by a session cookie reads, to open: the session, its
user, the user's access to the store with the store's latest seq, and with
`?after=` the first replay batch. On a socket DB thread (ws/db.py) those
reads cost 0.55–0.6 ms of CPU per connect, most of it the hop there and
back and the thread's fight with the event loop for the GIL; on an async
psycopg connection of the worker's own event loop, 0.13–0.16 ms (measured
with 100 connects in flight, docs/performance.md). So they run here.

Dashboards that open together read together (`run_reads`): their
statements are `Each` statements (platform_core/plain_sql.py), executed
one at a time each. The openings that ask for a statement while it is
being executed share its next execution, up to READERS_PER_STATEMENT of
them, which waits GATHER_SECONDS for more. A reader alone waits for
nothing: its statement goes out at the loop's next turn. In a connect
storm a statement and its round trip served one connect each, and cost
the worker as much CPU as the rest of the connect (tests/bench/notes.md,
"The connect's reads, together").

Each event loop keeps WS_DB_READ_CONNECTIONS autocommit connections, made
on first use, and hands each read to the one with the fewest queued
(psycopg runs one statement at a time per connection; the others queue).
A statement runs at most WS_DB_READ_TIMEOUT_SECONDS: one tenant's table
locked (a migration, a VACUUM FULL) costs its own connects a 1013, or,
for those queued behind a blocked execution, a wait of up to a few of
those timeouts; the others a bounded wait at worst (a statement's readers
are all of one tenant: the statement names its schema). They serve every tenant, so
the statements name the tenant's schema themselves and never rely on a
`search_path`. They only read.

Their statements are prepared (DB_READ_PREPARE). A read that fails
because its connection died (PostgreSQL restarted, an
idle connection cut) drops the connection and runs once more on a new one:
it only reads, so nothing is done twice. A failure to connect, a second
dead connection or a cancelled statement is raised as Django's
`OperationalError`, an outage to the sockets (1013, try again later); to
every reader of the statement.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import OperationalError, connections

from platform_core.plain_sql import Each, Reads, each_parameter
from ws.loops import per_event_loop

T = TypeVar("T")

# Under load (readers waited for a statement's last execution), the
# statement runs again this long after that execution ended, with the
# readers that came meanwhile too. A reader alone never waits for it.
# Measured in the connect storm (tests/bench/notes.md): 0, 2 and 5 ms gave
# 0.64, 0.60 and 0.47 ms of the worker's CPU per connect.
GATHER_SECONDS = 0.005

# Readers served by one execution of an `Each` statement at most. A
# dashboard's opening reads a first replay page of at most
# STREAM_REPLAY_PAGE_BYTES / READERS_PER_STATEMENT (orders/consumers.py),
# so that one execution holds no more than STREAM_REPLAY_PAGE_BYTES of
# events in all.
READERS_PER_STATEMENT = 64

# Every read connection of the process, whatever its loop: closed together
# by `close_connections` (tests, before the test database is emptied or dropped).
_all: weakref.WeakSet = weakref.WeakSet()


async def read(func: Callable[[psycopg.AsyncCursor], Awaitable[T]]) -> T:
    """`await func(cursor)` on one of this event loop's read connections."""
    return await _readers().read(func)


async def run_reads(reads: Reads[T]) -> T:
    """Drive `reads` (platform_core/plain_sql.py) on this event loop's read
    connections: each `Each` statement with the other readers waiting for
    the same one, any other statement on its own."""
    readers = _readers()
    try:
        statement = next(reads)
        while True:
            if isinstance(statement, Each):
                rows = await readers.each(statement)
            else:
                rows = await readers.read(lambda cursor, statement=statement: _rows(cursor, *statement))
            statement = reads.send(rows)
    except StopIteration as done:
        return done.value


async def _rows(cursor: psycopg.AsyncCursor, sql: str, params) -> list[tuple]:
    await cursor.execute(sql, params)
    return await cursor.fetchall()


class Readers:
    def __init__(self):
        count = max(1, settings.WS_DB_READ_CONNECTIONS)
        self.slots: list[asyncio.Future | None] = [None] * count
        self.in_flight = [0] * count
        self.turn = 0
        # `Each` statements: the readers waiting for each one (by its text),
        # and those being executed (one execution of each at a time, and one
        # per connection at most).
        self.waiting: dict[str, list[tuple[dict, asyncio.Future]]] = {}
        self.executing: set[str] = set()
        self.gathering: set[str] = set()  # executed a moment ago: more readers may come
        self.next_turn_asked = False
        self.executions: set[asyncio.Task] = set()

    async def each(self, statement: Each) -> list[tuple]:
        """This reader's rows of `statement`, read with those of the readers
        waiting for the same statement."""
        loop = asyncio.get_running_loop()
        rows = loop.create_future()
        self.waiting.setdefault(statement.sql, []).append((statement.params, rows))
        if not self.next_turn_asked and statement.sql not in self.gathering:
            # At the loop's next turn: the readers that ask in this one go together.
            self.next_turn_asked = True
            loop.call_soon(self._execute_waiting)
        return await rows

    def _execute_waiting(self) -> None:
        """Start an execution of each statement with readers waiting (not
        one being executed or gathering), while a connection is free; the
        rest wait for the next free one."""
        self.next_turn_asked = False
        for sql in list(self.waiting):
            if len(self.executing) >= len(self.slots):
                return
            if sql in self.executing or sql in self.gathering:
                continue  # its readers go with its next execution
            readers = [(params, rows) for params, rows in self.waiting.pop(sql) if not rows.done()]  # not gone
            if len(readers) > READERS_PER_STATEMENT:
                # Next time, after the other statements' readers: tenants take turns.
                self.waiting[sql] = readers[READERS_PER_STATEMENT:]
                readers = readers[:READERS_PER_STATEMENT]
            if readers:
                self.executing.add(sql)
                execution = asyncio.get_running_loop().create_task(self._execute(sql, readers))
                self.executions.add(execution)
                execution.add_done_callback(self.executions.discard)

    async def _execute(self, sql: str, readers: list[tuple[dict, asyncio.Future]]) -> None:
        try:
            parameter = [each_parameter([params for params, _ in readers])]
            rows = await self.read(lambda cursor: _rows(cursor, sql, parameter))
        except asyncio.CancelledError:  # the loop is closing
            for _, answer in readers:
                answer.cancel()
            raise
        except Exception as error:
            for _, answer in readers:
                if not answer.done():
                    # An outage (1013) as an error of each reader's own; a
                    # bug (1011) is the same for all.
                    answer.set_exception(OperationalError(str(error)) if isinstance(error, OperationalError) else error)
        else:
            by_reader: list[list[tuple]] = [[] for _ in readers]
            for row in rows:
                by_reader[row[0]].append(row[1:])
            for (_, answer), own in zip(readers, by_reader, strict=True):
                if not answer.done():
                    answer.set_result(own)
        finally:
            self.executing.discard(sql)
            if sql in self.waiting:  # under load: the next execution takes those who come meanwhile too
                self.gathering.add(sql)
                asyncio.get_running_loop().call_later(GATHER_SECONDS, self._gathered, sql)
            self._execute_waiting()

    def _gathered(self, sql: str) -> None:
        self.gathering.discard(sql)
        self._execute_waiting()

    async def read(self, func):
        index = self._least_busy()
        self.in_flight[index] += 1
        try:
            return await self._read(index, func)
        finally:
            self.in_flight[index] -= 1

    def _least_busy(self) -> int:
        """The connection with the fewest reads queued (ties in turn): a
        read stuck on one tenant's lock does not hold up the others."""
        count = len(self.slots)
        self.turn = (self.turn + 1) % count
        return min(range(count), key=lambda i: (self.in_flight[i], (i - self.turn) % count))

    async def _read(self, index: int, func):
        for attempt in (1, 2):
            conn = await self._connection(index)
            try:
                async with conn.cursor() as cursor:
                    return await func(cursor)
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if not (conn.closed or conn.broken):  # a cancelled or timed-out statement
                    raise OperationalError(str(error)) from error
                self._drop(index, conn)
                if attempt == 2:
                    raise OperationalError(str(error)) from error
        raise AssertionError("unreachable")

    async def _connection(self, index: int) -> psycopg.AsyncConnection:
        """The slot's connection; the reads that find it empty wait for one
        connect together (a storm at start must not open hundreds)."""
        slot = self.slots[index]
        if slot is None or (slot.done() and (slot.cancelled() or slot.exception() is not None)):
            slot = self.slots[index] = asyncio.ensure_future(_connect())
        try:
            return await asyncio.shield(slot)
        except psycopg.Error as error:
            raise OperationalError(str(error)) from error

    def _drop(self, index: int, conn: psycopg.AsyncConnection) -> None:
        slot = self.slots[index]
        if (
            slot is not None
            and slot.done()
            and not slot.cancelled()
            and slot.exception() is None
            and slot.result() is conn
        ):
            self.slots[index] = None
        conn.pgconn.finish()


_readers = per_event_loop(Readers)


async def _connect() -> psycopg.AsyncConnection:
    """A connection with Django's adapters, set up by `_set_up`."""
    django = connections["default"]
    params = django.get_connection_params()
    params.pop("cursor_factory", None)  # Django's is a sync cursor
    params.setdefault("connect_timeout", 5)
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    _all.add(conn)
    try:
        await _set_up(conn, django)
    except BaseException:
        conn.pgconn.finish()
        raise
    return conn


async def _set_up(conn: psycopg.AsyncConnection, django) -> None:
    """The session's time zone, as Django sets its own (Django's timestamp
    loader labels what it reads with it, it does not convert), prepared
    statements and the read's time limit."""
    await conn.execute(django.ops.set_time_zone_sql(), [django.timezone_name])
    # Prepared on first use: PostgreSQL plans a connect's statement once per
    # connection and tenant instead of at every connect (measured: 1.3×
    # the opens per second, docs/performance.md). Off for a pooler that
    # cannot keep prepared statements (PgBouncer before 1.21 in
    # transaction mode).
    conn.prepare_threshold = 0 if settings.DB_READ_PREPARE else None
    # A read waits at most this long (a lock held on one tenant's table by a
    # migration or a VACUUM FULL): then the socket is told 1013, and the
    # reads queued behind it on this connection go on.
    await conn.execute(
        "SELECT set_config('statement_timeout', %s, false)", [f"{int(settings.WS_DB_READ_TIMEOUT_SECONDS * 1000)}"]
    )


def close_connections() -> None:
    """Close every read connection of the process (any loop's). A loop that
    reads again finds its connection dead and makes a new one."""
    for conn in list(_all):
        conn.pgconn.finish()
    _all.clear()
