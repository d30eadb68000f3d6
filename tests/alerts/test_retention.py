import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import tenant_context

from alerts.models import Notification

pytestmark = pytest.mark.django_db


def make(cast, title, *, age_days, read):
    now = timezone.now()
    with tenant_context(cast.tenant):
        return Notification.objects.create(
            recipient=cast.customer,
            kind="system",
            title=title,
            created_at=now - timedelta(days=age_days),
            read_at=now if read else None,
        )


def titles(cast):
    with tenant_context(cast.tenant):
        return sorted(Notification.objects.values_list("title", flat=True))


def test_prune_deletes_old_read_notifications_in_every_tenant_and_keeps_unread_ones(world):
    for cast in (world.acme, world.globex):
        make(cast, "old read", age_days=40, read=True)
        make(cast, "old unread", age_days=400, read=False)
        make(cast, "recent read", age_days=5, read=True)
    out = io.StringIO()
    call_command("prune_notifications", older_than_days=30, stdout=out)
    for cast in (world.acme, world.globex):
        assert titles(cast) == ["old unread", "recent read"]
    assert "acme: 1" in out.getvalue() and "globex: 1" in out.getvalue()


def test_prune_one_schema_only(world):
    for cast in (world.acme, world.globex):
        make(cast, "old read", age_days=40, read=True)
    call_command("prune_notifications", older_than_days=30, schema="acme", stdout=io.StringIO())
    assert titles(world.acme) == [] and titles(world.globex) == ["old read"]


@pytest.mark.parametrize("kwargs", [{"schema": "nope"}, {"older_than_days": -1}])
def test_prune_refuses_bad_arguments(world, kwargs):
    with pytest.raises(CommandError):
        call_command("prune_notifications", stdout=io.StringIO(), **kwargs)
