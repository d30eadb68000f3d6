"""Rate limits that hold across worker processes (counted in PostgreSQL).

Fixed windows: a key gets `limit` hits per `window` seconds, counted in
the active schema (a tenant's, or public for operators), so tenants never
share a budget. One upsert per counted request: the count and the check are
one statement, so concurrent requests can never all see room for one more.
A hit can be taken back (`uncount`) in the window that counted it. The
per-socket message limit lives in the consumer (ws/consumers.py): it needs
no sharing.
"""

import dataclasses
import math
import time
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F

from platform_core.models import RateCounter

_HIT = f"""
INSERT INTO {RateCounter._meta.db_table} (key, window_start, hits) VALUES (%s, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN {RateCounter._meta.db_table}.window_start = EXCLUDED.window_start
                THEN {RateCounter._meta.db_table}.hits + EXCLUDED.hits ELSE EXCLUDED.hits END,
    window_start = EXCLUDED.window_start
RETURNING hits
"""


def _window(window: int) -> tuple[datetime, int]:
    """The current window's start, and the seconds until the next one."""
    now = time.time()
    start = math.floor(now / window) * window
    return datetime.fromtimestamp(start, tz=UTC), max(1, math.ceil(start + window - now))


@dataclasses.dataclass(frozen=True)
class Counted:
    """One hit on `key`, counted in the window that starts at `window_start`."""

    key: str
    window_start: datetime
    wait: int | None  # None within the limit, else seconds until the window ends


def count(key: str, *, limit: int, window: int) -> Counted:
    """Count one hit, atomically (one upsert), and say whether it is over `limit`."""
    start, remaining = _window(window)
    with connection.cursor() as cursor:
        cursor.execute(_HIT, [key, start, 1])
        hits = cursor.fetchone()[0]
    return Counted(key=key, window_start=start, wait=None if hits <= limit else remaining)


def hit_many(key: str, *, n: int, limit: int, window: int) -> tuple[int, int | None]:
    """Count `n` hits at once (one upsert, as `n` calls of hit() would in a
    row): how many of them are within `limit`, and, if not all, the seconds
    until the window ends. (The webhook batcher counts a batch's requests
    of one integration this way.)"""
    start, remaining = _window(window)
    with connection.cursor() as cursor:
        cursor.execute(_HIT, [key, start, n])
        hits = cursor.fetchone()[0]
    allowed = max(0, min(n, limit - (hits - n)))
    return allowed, None if allowed == n else remaining


def uncount(counted: Counted) -> None:
    """Take one hit back, if its window is still the current one (a new
    window never counted it)."""
    RateCounter.objects.filter(key=counted.key, window_start=counted.window_start, hits__gt=0).update(
        hits=F("hits") - 1
    )


def hit(key: str, *, limit: int, window: int) -> int | None:
    """Count one hit. None if within the limit, else seconds until it resets."""
    return count(key, limit=limit, window=window).wait


def exceeded(key: str, *, limit: int, window: int) -> int | None:
    """Like hit(), without counting: is `key` already at its limit? (The
    webhook view asks this per address before any signature work.)"""
    start, remaining = _window(window)
    hits = RateCounter.objects.filter(key=key, window_start=start).values_list("hits", flat=True).first() or 0
    return None if hits < limit else remaining
