"""Plain statements written once, run on Django's cursor or on an async one.

A read that takes several statements, each depending on the one before,
is written as a generator (`Reads`): it yields a statement, `(sql, params)`
or `Each`, is sent back the statement's rows, and returns its result.
`run` drives it on Django's connection, in the active tenant's schema
(`search_path`); ws/reads.py drives it on the event loop's own
connections, where the statements must name their schema: readers take a
`schema` argument and name their tables with `table(model, schema)`.
"""

import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Each:
    """A statement that can read for many readers at once, as one of them
    asks it. `sql` takes one parameter, a JSON array of every reader's
    `params` (each with its place in the array as "n"), typically read
    with `json_to_recordset`, and returns each reader's rows with that
    place first. `run` reads it for one reader; on the event loop, the
    readers of the same statement that wait together share one execution
    (ws/reads.py). `params` must be JSON: numbers, text, None (a time as
    its ISO text)."""

    sql: str
    params: dict


def each_parameter(params: list[dict]) -> str:
    """The one parameter of an `Each` statement read for these readers."""
    return json.dumps([{**reader, "n": n} for n, reader in enumerate(params)])


Reads = Generator[tuple[str, list] | Each, list[tuple], T]


def run(reads: Reads[T]) -> T:
    """Drive `reads` on Django's connection (a cursor only if it asks)."""
    try:
        statement = next(reads)
    except StopIteration as done:
        return done.value
    with connection.cursor() as cursor:
        while True:
            if isinstance(statement, Each):
                cursor.execute(statement.sql, [each_parameter([statement.params])])
                rows = [row[1:] for row in cursor.fetchall()]
            else:
                cursor.execute(*statement)
                rows = cursor.fetchall()
            try:
                statement = reads.send(rows)
            except StopIteration as done:
                return done.value


def table(model, schema: str | None = None) -> str:
    """The model's table, quoted, in `schema` if one is given."""
    name = _quoted(model._meta.db_table)
    return f"{_quoted(schema)}.{name}" if schema else name


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
