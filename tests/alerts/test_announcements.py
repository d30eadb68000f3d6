"""Announcements: audiences, who may, bad input, scheduling, expiry."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from alerts.announcements import announcement_create
from alerts.models import Announcement, Notification
from platform_core import jobs
from platform_core.errors import ApplicationError
from tenants.models import Job

pytestmark = pytest.mark.django_db


def admin_client(cast, who="admin") -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def announce(client, **body):
    return client.post(
        "/api/announcements",
        data=json.dumps({"title": "Hello", "audience": "everyone", **body}),
        content_type="application/json",
    )


def recipients(cast):
    with tenant_context(cast.tenant):
        return sorted(Notification.objects.filter(kind="announcement").values_list("recipient__username", flat=True))


def job_count():
    with schema_context(get_public_schema_name()):
        return Job.objects.count()


@pytest.mark.parametrize(
    "audience,expected",
    [
        ("everyone", ["admin", "customer", "manager1", "staff1", "staff2"]),
        ("staff", ["manager1", "staff1", "staff2"]),
        ("customers", ["customer"]),
        ({"stores": [1]}, ["manager1", "staff1"]),
        ({"stores": [2]}, ["staff2"]),
        ({"stores": [1, 2]}, ["manager1", "staff1", "staff2"]),
    ],
)
def test_each_audience_gets_exactly_its_recipients_and_no_other_tenant(world, audience, expected):
    response = announce(admin_client(world.acme), audience=audience)
    assert response.status_code == 201
    jobs.run_due()
    assert recipients(world.acme) == expected
    assert recipients(world.globex) == [], "globex has stores 1 and 2 and the same user ids"


def test_the_request_does_no_per_user_work_and_delivery_is_idempotent(world):
    response = announce(admin_client(world.acme))
    assert response.json()["status"] == "sending" and response.json()["recipients_count"] == 0
    assert recipients(world.acme) == []
    jobs.run_due()
    with tenant_context(world.acme.tenant):
        from alerts.announcements import announcement_deliver

        announcement_deliver(response.json()["id"])  # a retried job
        assert Notification.objects.filter(kind="announcement").count() == 5
        assert Announcement.objects.get().recipients_count == 5


@pytest.mark.parametrize("who,status", [("staff1", 403), ("customer", 403), ("manager1", 403), (None, 401)])
def test_only_tenant_admins_may_announce(world, who, status):
    client = admin_client(world.acme, who)
    assert announce(client).status_code == status
    assert client.get("/api/announcements").status_code == status
    assert job_count() == 0 and recipients(world.acme) == []


def test_the_service_refuses_non_admins_too(world):
    with tenant_context(world.acme.tenant), pytest.raises(ApplicationError) as refused:
        announcement_create(author=world.acme.staff1, title="x", audience="everyone")
    assert refused.value.code == "forbidden"


def test_an_admin_of_one_tenant_is_nobody_on_another(world):
    client = admin_client(world.acme)
    client.defaults["HTTP_HOST"] = "globex.localhost"
    assert announce(client).status_code == 401


BAD = [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": 5}, "title"),
    ({"body": "x" * 5001}, "body"),
    ({"audience": "nobody"}, "audience"),
    ({"audience": {"stores": [999]}}, "audience"),
    ({"audience": {"stores": []}}, "audience"),
    ({"audience": {"stores": ["1"]}}, "audience"),
    ({"audience": {"stores": [1], "everyone": True}}, "audience"),
    ({"audience": ["staff"]}, "audience"),
    ({"severity": "apocalyptic"}, "severity"),
    ({"publish_at": "tomorrow"}, "publish_at"),
    ({"publish_at": "2030-01-01T10:00:00"}, "publish_at"),  # no UTC offset
    ({"publish_at": "2026-13-45T00:00:00+00:00"}, "publish_at"),  # the right shape, an impossible date
    ({"expires_at": "2030-02-30T25:00:00+00:00"}, "expires_at"),
    ({"expires_at": "2000-01-01T00:00:00+00:00"}, "expires_at"),
    ({"publish_at": "2030-01-02T00:00:00+00:00", "expires_at": "2030-01-01T00:00:00+00:00"}, "expires_at"),
    ({"sender": "ceo"}, "sender"),
]


@pytest.mark.parametrize("body,field", BAD)
def test_bad_announcements_are_refused_with_the_field_named_and_nothing_is_sent(world, body, field):
    response = announce(admin_client(world.acme), **body)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]
    jobs.run_due()
    with tenant_context(world.acme.tenant):
        assert not Announcement.objects.exists()
    assert job_count() == 0 and recipients(world.acme) == []


def test_missing_fields_and_broken_json(world):
    client = admin_client(world.acme)
    missing = client.post("/api/announcements", data=json.dumps({"body": "x"}), content_type="application/json")
    assert missing.status_code == 422 and set(missing.json()["error"]["fields"]) == {"title", "audience"}
    assert client.post("/api/announcements", data="{", content_type="application/json").status_code == 400


def test_a_scheduled_announcement_waits_for_publish_at(world):
    publish_at = timezone.now() + timedelta(seconds=1.5)
    response = announce(admin_client(world.acme), publish_at=publish_at.isoformat())
    assert response.json()["status"] == "scheduled"
    jobs.run_due()
    assert recipients(world.acme) == []
    time.sleep(max(0, (publish_at - timezone.now()).total_seconds()) + 0.1)
    jobs.run_due()
    assert len(recipients(world.acme)) == 5


def test_an_expired_announcement_leaves_every_inbox_and_the_history_keeps_the_counts(world):
    expires_at = timezone.now() + timedelta(seconds=1.5)
    client = admin_client(world.acme)
    announce(client, expires_at=expires_at.isoformat())
    jobs.run_due()
    with tenant_context(world.acme.tenant):
        Notification.objects.filter(recipient=world.acme.customer).update(read_at=timezone.now())
    time.sleep(max(0, (expires_at - timezone.now()).total_seconds()) + 0.1)
    jobs.run_due()
    assert recipients(world.acme) == []
    (entry,) = client.get("/api/announcements").json()["results"]
    assert entry["status"] == "expired" and entry["recipients_count"] == 5 and entry["read_count"] == 1


def test_history_counts_received_and_read(world):
    client = admin_client(world.acme)
    announce(client, audience="staff")
    jobs.run_due()
    with tenant_context(world.acme.tenant):
        Notification.objects.filter(recipient=world.acme.staff1).update(read_at=timezone.now())
    (entry,) = client.get("/api/announcements").json()["results"]
    assert (entry["status"], entry["recipients_count"], entry["read_count"]) == ("delivered", 3, 1)
    assert entry["author"] == "admin" and entry["audience"] == "staff"


def test_a_failing_job_is_retried_and_recorded(world):
    with tenant_context(world.acme.tenant):
        jobs.schedule(kind="no.such.handler", object_id=1, due_at=timezone.now())
    jobs.run_due()
    with schema_context(get_public_schema_name()):
        job = Job.objects.get()
    assert job.done_at is None and "no.such.handler" in job.last_error and job.attempts == 1


@pytest.mark.parametrize("who,status", [("admin", 200), ("staff1", 403), ("customer", 403)])
def test_the_announcements_page_is_for_tenant_admins(world, who, status):
    assert admin_client(world.acme, who).get("/manage/announcements/").status_code == status


# Transactional: its teardown restarts the id sequences the measurement
# advanced (a rollback does not), so later tests' cast ids stay free.
@pytest.mark.django_db(transaction=True)
def test_measure_announcement_times_every_phase_and_leaves_nothing_behind(world):
    """The bench script runs the delivery job's own public steps, with simulated bells."""
    from alerts.models import Announcement
    from tests.bench import measure_announcement

    lines = []
    measure_announcement.measure(schema="acme", users=80, online=30, say=lines.append)  # ids below the cast's 101…
    report = "\n".join(lines)
    assert "recipients: 86, online: 30" in report  # 80 + the bench admin + the cast of five
    assert "pushes (30 group sends, 0 failed)" in report
    with tenant_context(world.acme.tenant):
        assert not Announcement.objects.exists() and not Notification.objects.exists()
