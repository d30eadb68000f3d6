"""The unread counters (alerts.models.UnreadCounter, kept by triggers on the
notification table) always equal a count of the unread rows: after bulk and
single creates, every way of marking read, deletions (announcement expiry,
retention, a user deleted), concurrent writers on real PostgreSQL, and in
each tenant on its own though ids collide."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone
from django_tenants.utils import tenant_context

from alerts import selectors, services
from alerts.announcements import announcement_create, announcement_deliver, announcement_expire
from alerts.models import Notification, UnreadCounter
from platform_core.errors import ApplicationError


def counters(tenant) -> dict[tuple[int, str], int]:
    with tenant_context(tenant):
        rows = UnreadCounter.objects.values_list("user_id", "kind", "unread")  # columns of every migration
        return {(user_id, kind): unread for user_id, kind, unread in rows if unread != 0}


def counted(tenant) -> dict[tuple[int, str], int]:
    """The truth: unread rows, counted."""
    with tenant_context(tenant):
        rows = Notification.objects.filter(read_at__isnull=True).values("recipient_id", "kind").annotate(n=Count("id"))
        return {(row["recipient_id"], row["kind"]): row["n"] for row in rows}


def assert_exact(*tenants):
    for tenant in tenants:
        assert counters(tenant) == counted(tenant)


@pytest.mark.django_db
class TestEveryWriteKeepsTheCountersExact:
    def test_bulk_create_counts_each_recipient_once(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            created = services.notifications_create_many(
                recipients=[cast.customer, cast.staff1, cast.customer, cast.staff2],
                kind="system",
                title="hello",
            )
            services.notification_create(recipient=cast.customer, kind="mention", title="you")
        assert sorted(n.recipient_id for n in created) == sorted({cast.customer.pk, cast.staff1.pk, cast.staff2.pk})
        assert counters(cast.tenant) == {
            (cast.customer.pk, "system"): 1,
            (cast.staff1.pk, "system"): 1,
            (cast.staff2.pk, "system"): 1,
            (cast.customer.pk, "mention"): 1,
        }
        assert_exact(cast.tenant)

    def test_an_unknown_kind_is_refused_and_nothing_is_written(self, world):
        with tenant_context(world.acme.tenant), pytest.raises(ApplicationError) as refused:
            services.notifications_create_many(recipients=[world.acme.customer], kind="gossip", title="x")
        assert "kind" in refused.value.fields
        assert counted(world.acme.tenant) == {} and counters(world.acme.tenant) == {}

    def test_mark_read_with_read_foreign_duplicate_and_unknown_ids(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            mine = [
                services.notification_create(recipient=cast.customer, kind="system", title=f"n{i}") for i in range(4)
            ]
            theirs = services.notification_create(recipient=cast.staff1, kind="system", title="not yours")
            services.notifications_mark_read(user=cast.customer, ids=[mine[0].pk])
            result = services.notifications_mark_read(
                user=cast.customer, ids=[mine[0].pk, mine[1].pk, mine[1].pk, theirs.pk, 999_999]
            )
            assert result.unread_count == 2 == selectors.unread_count(user=cast.customer)
            assert result.unknown_ids == [theirs.pk, 999_999]
            assert selectors.unread_count(user=cast.staff1) == 1  # another user's id changed nothing
        assert_exact(cast.tenant)

    def test_mark_all_read_and_marking_unread_again(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            for kind in ("system", "mention", "order_status"):
                services.notifications_create_many(recipients=[cast.customer, cast.staff1], kind=kind, title=kind)
            assert services.notifications_mark_all_read(user=cast.customer).unread_count == 0
            assert selectors.unread_count(user=cast.staff1) == 3
            # Nothing in the product marks unread, but the counters follow any UPDATE.
            Notification.objects.filter(recipient=cast.customer, kind="mention").update(read_at=None)
            assert selectors.unread_count(user=cast.customer) == 1
        assert_exact(cast.tenant)

    def test_muted_kinds_leave_the_badge_and_come_back_when_unmuted(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            services.notification_create(recipient=cast.customer, kind="system", title="a")
            services.notification_create(recipient=cast.customer, kind="mention", title="b")
            services.preferences_update(user=cast.customer, muted_kinds=["mention"])
            assert selectors.unread_count(user=cast.customer) == 1
            assert selectors.unread_counts(user_ids=[cast.customer.pk, cast.staff1.pk]) == {
                cast.customer.pk: 1,
                cast.staff1.pk: 0,
            }
            assert selectors.push_badges(user_ids=[cast.customer.pk, cast.staff1.pk], kind="mention") == {
                cast.staff1.pk: (0, 0)  # (unread, unseen)
            }
            services.preferences_update(user=cast.customer, muted_kinds=[])
            assert selectors.unread_count(user=cast.customer) == 2

    def test_retention_and_announcement_expiry(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            old = services.notification_create(recipient=cast.customer, kind="system", title="old")
            services.notification_create(recipient=cast.customer, kind="system", title="unread, old")
            Notification.objects.update(created_at=timezone.now() - timedelta(days=400))
            services.notifications_mark_read(user=cast.customer, ids=[old.pk])
            assert services.notifications_prune(older_than=timedelta(days=30)) == 1
            announcement = announcement_create(author=cast.admin, title="Closed", audience="everyone")
            announcement_deliver(announcement.pk)
            read_copy = Notification.objects.get(announcement=announcement, recipient=cast.staff1)
            services.notifications_mark_read(user=cast.staff1, ids=[read_copy.pk])
            assert selectors.unread_count(user=cast.customer) == 2
            announcement_expire(announcement.pk)
            assert selectors.unread_count(user=cast.customer) == 1
            assert selectors.unread_count(user=cast.staff1) == 0
        assert_exact(cast.tenant)

    def test_deleting_a_user_deletes_their_notifications_and_counters(self, world):
        cast = world.acme
        with tenant_context(cast.tenant):
            services.notifications_create_many(recipients=[cast.customer, cast.staff1], kind="system", title="x")
            with transaction.atomic():  # the deferred foreign keys are checked at this commit
                get_user_model().objects.filter(pk=cast.customer.pk).delete()
            assert not UnreadCounter.objects.filter(user_id=cast.customer.pk).exists()
        assert counters(cast.tenant) == {(cast.staff1.pk, "system"): 1}
        assert_exact(cast.tenant)


@pytest.mark.django_db
def test_counters_are_per_tenant_though_user_ids_collide(world):
    acme, globex = world.acme, world.globex
    assert acme.customer.pk == globex.customer.pk
    with tenant_context(acme.tenant):
        services.notifications_create_many(recipients=[acme.customer, acme.staff1], kind="system", title="acme")
    with tenant_context(globex.tenant):
        services.notification_create(recipient=globex.customer, kind="system", title="globex")
        assert selectors.unread_count(user=globex.customer) == 1
        assert selectors.unread_count(user=globex.staff1) == 0
    with tenant_context(acme.tenant):
        services.notifications_mark_all_read(user=acme.customer)
    with tenant_context(globex.tenant):
        assert selectors.unread_count(user=globex.customer) == 1
    assert counters(acme.tenant) == {(acme.staff1.pk, "system"): 1}
    assert counters(globex.tenant) == {(globex.customer.pk, "system"): 1}


@pytest.mark.django_db
def test_a_write_to_one_tenants_table_counts_there_whatever_the_sessions_schema(world):
    """The trigger function carries its schema's search_path: a schema-qualified
    write made while another tenant's schema is active counts in its own."""
    acme, globex = world.acme, world.globex
    with tenant_context(globex.tenant), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {acme.tenant.schema_name}.alerts_notification "
            "(recipient_id, kind, title, body, url, created_at) VALUES (%s, 'system', 'x', '', '', now())",
            [acme.customer.pk],
        )
    assert counters(acme.tenant) == {(acme.customer.pk, "system"): 1}
    assert counters(globex.tenant) == {}


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_and_reads_for_the_same_users_keep_exact_counts(world):
    """Four threads, each on its own connection: bulk creates over the same
    users (in different orders), single creates, mark read and mark all read,
    all at once. No deadlock, no lost update: the counters equal the rows."""
    cast = world.acme
    people = [cast.customer, cast.staff1, cast.staff2, cast.manager1, cast.admin]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run(work):
        try:
            start.wait()
            with tenant_context(cast.tenant):
                for round_ in range(25):
                    work(round_)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    def create_many(round_):
        services.notifications_create_many(
            recipients=people[round_ % 5 :] + people[: round_ % 5], kind="system", title="m"
        )

    def create_one(round_):
        services.notification_create(recipient=people[round_ % 5], kind="mention", title="one")

    def mark_some(round_):
        user = people[round_ % 5]
        ids = list(Notification.objects.filter(recipient=user).values_list("pk", flat=True)[:3])
        if ids:
            services.notifications_mark_read(user=user, ids=ids + ids[:1])

    def mark_all(round_):
        services.notifications_mark_all_read(user=people[(round_ + 2) % 5])

    threads = [threading.Thread(target=run, args=(work,)) for work in (create_many, create_one, mark_some, mark_all)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert_exact(cast.tenant)
    with tenant_context(cast.tenant):
        for user in people:
            assert (
                selectors.unread_count(user=user)
                == Notification.objects.filter(recipient=user, read_at__isnull=True).count()
            )


@pytest.mark.django_db
def test_the_migration_counts_the_notifications_already_there(world):
    """Migration 0004 creates the counters of every unread row written
    before it (here: rows written with the triggers not yet there)."""
    from django.db.migrations.executor import MigrationExecutor

    cast = world.acme
    with tenant_context(cast.tenant):
        executor = MigrationExecutor(connection)
        executor.migrate([("alerts", "0003_announcement_notification_announcement_and_more")])
        with connection.cursor() as cursor:
            for kind, read in (("system", False), ("system", False), ("mention", False), ("system", True)):
                cursor.execute(
                    "INSERT INTO alerts_notification (recipient_id, kind, title, body, url, created_at, read_at) "
                    "VALUES (%s, %s, 'before', '', '', now(), CASE WHEN %s THEN now() END)",
                    [cast.customer.pk, kind, read],
                )
        executor = MigrationExecutor(connection)
        executor.migrate([("alerts", "0004_unread_counter")])
    assert counters(cast.tenant) == {(cast.customer.pk, "system"): 2, (cast.customer.pk, "mention"): 1}
    # 0006: what was read was seen when it was read; unseen starts as unread.
    with tenant_context(cast.tenant):
        with connection.cursor() as cursor:
            # The rows' deferred key checks, now: this test runs every
            # migration in one transaction, and 0006 alters the table.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("alerts"))
        assert {(c.kind, c.unread, c.unseen) for c in UnreadCounter.objects.all()} == {
            ("system", 2, 2),
            ("mention", 1, 1),
        }
        read = Notification.objects.get(read_at__isnull=False)
        assert read.seen_at == read.read_at
        assert Notification.objects.filter(read_at__isnull=True, seen_at__isnull=True).count() == 3
        # The counters follow the new columns from here on.
        Notification.objects.filter(kind="mention").update(seen_at=timezone.now())
        assert UnreadCounter.objects.get(kind="mention").unseen == 0
