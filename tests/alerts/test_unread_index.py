"""Unread counts stay fast at scale because they can use the partial index.

(Timings are measured by `manage.py measure_unread`, see docs/notifications.md;
this pins the property that makes them fast: the query the badge runs can be
answered from `notification_unread_idx`.)
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from alerts.models import Notification

pytestmark = pytest.mark.django_db


def test_the_unread_count_query_is_answered_from_the_partial_index(world):
    with tenant_context(world.acme.tenant):
        query = Notification.objects.filter(recipient=world.acme.customer, read_at__isnull=True).exclude(kind__in=["announcement"])
        with connection.cursor() as cursor:
            # Tiny tables are cheaper to scan; forbid that to see what the
            # planner can use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = query.explain()
    assert "notification_unread_idx" in plan


def test_measure_unread_reports_figures_and_leaves_nothing_behind(world):
    out = io.StringIO()
    call_command("measure_unread", schema="acme", notifications=2000, users=20, runs=5, stdout=out)
    report = out.getvalue()
    assert "unread_count (heavy user)" in report and "notification_unread_idx" in report
    assert "rolled back" in report
    with tenant_context(world.acme.tenant):
        assert not Notification.objects.exists()
