"""Plain statements written once, run on Django's cursor or on an async one.

A read that takes several statements, each depending on the one before,
is written as a generator (`Reads`): it yields `(sql, params)`, is sent
back the statement's rows, and returns its result. `run` drives it on
Django's connection, in the active tenant's schema (`search_path`);
`run_async` drives it on an async psycopg cursor (ws/reads.py), where the
statements must name their schema: readers take a `schema` argument and
name their tables with `table(model, schema)`.
"""

from collections.abc import Generator
from typing import TypeVar

from django.db import connection

T = TypeVar("T")

Reads = Generator[tuple[str, list], list[tuple], T]


def run(reads: Reads[T]) -> T:
    """Drive `reads` on Django's connection (a cursor only if it asks)."""
    try:
        statement = next(reads)
    except StopIteration as done:
        return done.value
    with connection.cursor() as cursor:
        while True:
            cursor.execute(*statement)
            try:
                statement = reads.send(cursor.fetchall())
            except StopIteration as done:
                return done.value


async def run_async(reads: Reads[T], cursor) -> T:
    """Drive `reads` on an async psycopg cursor."""
    try:
        statement = next(reads)
        while True:
            await cursor.execute(*statement)
            statement = reads.send(await cursor.fetchall())
    except StopIteration as done:
        return done.value


def table(model, schema: str | None = None) -> str:
    """The model's table, quoted, in `schema` if one is given."""
    name = _quoted(model._meta.db_table)
    return f"{_quoted(schema)}.{name}" if schema else name


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
