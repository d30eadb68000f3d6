"""Measure unread counts at scale, in a transaction that is rolled back.

    DEBUG=true .venv/bin/python -m tests.bench.measure_unread --schema acme --notifications 100000

Fills the tenant with users and notifications (most of them read, as a
real inbox is), times the queries the product runs per connect and per
notification, prints the query plan, and then rolls everything back, so
it can run against any database without leaving data behind.
"""

import argparse
import random
import statistics
import time

from tests.bench.rollback import django_setup

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from alerts import selectors, services  # noqa: E402
from alerts.models import Notification  # noqa: E402
from tests.bench.rollback import rolled_back_in  # noqa: E402


def measure(
    *,
    schema: str,
    notifications: int = 100_000,
    users: int = 1_000,
    unread_share: float = 0.1,
    runs: int = 300,
    say=print,
) -> None:
    """Fill, time and roll back; every line of the report goes to `say`."""
    with rolled_back_in(schema, say=say):
        _measure(notifications, users, unread_share, runs, say)


def _measure(total, user_count, unread_share, runs, say):
    started = time.perf_counter()
    User = get_user_model()
    people = User.objects.bulk_create(User(username=f"bench-{i}") for i in range(user_count))
    # One heavy user holds a tenth of everything; the rest is spread out.
    heavy = people[0]
    now = timezone.now()
    rng = random.Random(7)
    kinds = Notification.Kind.values
    batch = []
    for i in range(total):
        recipient = heavy if i % 10 == 0 else people[rng.randrange(1, user_count)]
        unread = rng.random() < unread_share
        batch.append(
            Notification(
                recipient=recipient,
                kind=rng.choice(kinds),
                title=f"n{i}",
                created_at=now,
                read_at=None if unread else now,
            )
        )
        if len(batch) == 10_000:
            Notification.objects.bulk_create(batch)
            batch = []
    Notification.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Notification._meta.db_table}")
    say(f"filled {total} notifications for {user_count} users in {time.perf_counter() - started:.1f}s")

    typical = people[1]
    cases = {
        "unread_count (heavy user)": lambda: selectors.unread_count(user=heavy),
        "unread_count (typical user)": lambda: selectors.unread_count(user=typical),
        "connect snapshot, 50 newest (heavy user)": lambda: selectors.unread_snapshot(user=heavy, limit=50),
        "missed since an id (typical user)": lambda: selectors.missed_since(user=typical, after=0, limit=200),
    }
    say(f"{'query':45} {'p50 ms':>8} {'p99 ms':>8}  (runs={runs})")
    for name, call in cases.items():
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        say(f"{name:45} {statistics.median(timings):8.3f} {p99:8.3f}")

    t0 = time.perf_counter()
    result = services.notifications_mark_all_read(user=heavy)
    say(f"mark_all_read (heavy user, {len(result.ids)}+ rows): {(time.perf_counter() - t0) * 1000:.1f} ms")

    muted = selectors.muted_kinds(user=heavy)
    query = Notification.objects.filter(recipient=typical, read_at__isnull=True).exclude(kind__in=muted or ["-"])
    say("plan of the unread count:")
    say(query.explain())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schema", required=True)
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--unread-share", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    measure(
        schema=args.schema,
        notifications=args.notifications,
        users=args.users,
        unread_share=args.unread_share,
        runs=args.runs,
    )
