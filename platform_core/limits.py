"""Rate limits that hold across worker processes (counted in PostgreSQL).

Fixed windows: a key gets `limit` hits per `window` seconds, counted in
the active schema (a tenant's, or public for operators), so tenants never
share a budget. One upsert per counted request. The per-socket message
limit lives in the consumer (ws/consumers.py): it needs no sharing.
"""

import math
import time
from datetime import UTC, datetime

from django.db import connection

from platform_core.models import RateCounter

_HIT = f"""
INSERT INTO {RateCounter._meta.db_table} (key, window_start, hits) VALUES (%s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN {RateCounter._meta.db_table}.window_start = EXCLUDED.window_start
                THEN {RateCounter._meta.db_table}.hits + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING hits
"""


def _window(window: int) -> tuple[datetime, int]:
    """The current window's start, and the seconds until the next one."""
    now = time.time()
    start = math.floor(now / window) * window
    return datetime.fromtimestamp(start, tz=UTC), max(1, math.ceil(start + window - now))


def hit(key: str, *, limit: int, window: int) -> int | None:
    """Count one hit. None if within the limit, else seconds until it resets."""
    start, remaining = _window(window)
    with connection.cursor() as cursor:
        cursor.execute(_HIT, [key, start])
        hits = cursor.fetchone()[0]
    return None if hits <= limit else remaining


def exceeded(key: str, *, limit: int, window: int) -> int | None:
    """Like hit(), without counting: is `key` already over its limit?"""
    start, remaining = _window(window)
    hits = RateCounter.objects.filter(key=key, window_start=start).values_list("hits", flat=True).first() or 0
    return None if hits < limit else remaining


def clear(key: str) -> None:
    RateCounter.objects.filter(key=key).delete()
