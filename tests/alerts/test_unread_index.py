"""The unread list a bell reads on connect stays fast at scale because it is
read from the partial index (counts come from counters, alerts/models.py).

(Timings are measured by `python -m tests.bench.measure_unread`, see docs/notifications.md;
this pins the property that makes them fast: the query can be answered from
`notification_unread_idx`, with no sort.)
"""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from alerts.models import Notification

pytestmark = pytest.mark.django_db


def test_the_connects_unread_list_is_read_from_the_partial_index(world):
    from django.utils import timezone

    with tenant_context(world.acme.tenant):
        # A user with mostly read notifications, as the statistics know them
        # (left to stale statistics, the planner's pick between two usable
        # indexes varied from run to run).
        now = timezone.now()
        # Enough read ones that reading the table backwards by id (the
        # primary key, which a plan with LIMIT may prefer on a few hundred
        # rows) costs far more than the partial index's five entries.
        Notification.objects.bulk_create(
            (
                Notification(
                    recipient=world.acme.customer, kind="system", title=f"n{i}", read_at=now if i >= 5 else None
                )
                for i in range(20_000)
            ),
            batch_size=5_000,
        )
        # What a bell's connect lists (alerts.selectors.unread_snapshot): the
        # newest unread, not archived, of the kinds not muted.
        query = (
            Notification.objects.filter(recipient=world.acme.customer, read_at__isnull=True, archived_at__isnull=True)
            .exclude(kind__in=["announcement"])
            .order_by("-id")[:50]
        )
        with connection.cursor() as cursor:
            # Which index the planner picks among several usable ones varies
            # with statistics (it did from run to run): leave it only this
            # one, and those of constraints, for the test's transaction, and no
            # sequential scan. A plan from it shows the query's conditions
            # are what the partial index holds.
            table = Notification._meta.db_table
            cursor.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = %s::regclass AND c.relname <> 'notification_unread_idx' "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
                [table],
            )
            for (index,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{index}"')  # rolled back with the test
            cursor.execute(f"ANALYZE {table}")
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = query.explain()
    assert "notification_unread_idx" in plan


def test_measure_unread_reports_figures_and_leaves_nothing_behind(world):
    from tests.bench import measure_unread

    lines = []
    measure_unread.measure(schema="acme", notifications=2000, users=20, runs=5, say=lines.append)
    report = "\n".join(lines)
    assert "unread_count (heavy user)" in report and "notification_unread_idx" in report
    assert "rolled back" in report
    with tenant_context(world.acme.tenant):
        assert not Notification.objects.exists()
