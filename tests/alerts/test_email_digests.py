"""E-mail digests (alerts/digest.py), through a real SMTP server (aiosmtpd):
what a customer whose order moved finds in their mailbox, when, in which
language; what is never sent; a mail server that is down, refuses or
hangs up; two sweeps at once; two tenants whose customers share an id.

Time is moved with platform_core.clock (the digest is due the tenant's
email_digest_minutes, 10, after the first notification)."""

import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import dateformat, timezone, translation
from django.utils.formats import get_format
from django_tenants.utils import tenant_context

from alerts import digest
from alerts.models import Delivery, Notification
from alerts.services import notifications_archive, notifications_mark_read, preferences_update
from platform_core import clock, jobs
from platform_core.provisioning import site_url
from tenants.models import Tenant
from tests.digests import DUE, MINUTES, give_address, sweep, text
from tests.factories import add_comment, change_status, create_order
from tests.servers import free_port
from tests.smtp import PASSWORD, USER, Inbox, point_django_at, smtp_server

ANA, BOB = "ana@example.com", "bob@example.org"


@pytest.fixture
def ana(world):
    """acme's customer, with an address; globex's customer (the same id) with another."""
    give_address(world.acme, ANA)
    give_address(world.globex, BOB)
    return world.acme.customer


def deliveries(cast, channel="email"):
    with tenant_context(cast.tenant):
        return list(
            Delivery.objects.filter(channel=channel)
            .order_by("notification_id")
            .values_list("notification__title", "status", "reason")
        )


def delivery(cast, notification_id):
    with tenant_context(cast.tenant):
        return Delivery.objects.get(channel="email", notification_id=notification_id)


def notifications(cast):
    with tenant_context(cast.tenant):
        return list(Notification.objects.filter(recipient=cast.customer).order_by("id"))


def url(path, host="acme.localhost"):
    return site_url(domain=host, path=path)


# --- the story --------------------------------------------------------------------------
pytestmark = pytest.mark.django_db


def test_a_status_change_is_mailed_once_the_digest_minutes_after_it(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-7", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    assert deliveries(world.acme) == [("Order WEB-7 is now Accepted", "queued", "")]
    jobs.ensure_periodic()

    with clock.travel(0):
        jobs.run_due(kinds=[digest.DIGEST_JOB])
    with clock.travel(MINUTES * 60 - 60):
        jobs.run_due(kinds=[digest.DIGEST_JOB])
    assert inbox.received == [], "nothing before the tenant's digest minutes"

    with clock.travel(DUE):
        assert jobs.run_due(kinds=[digest.DIGEST_JOB]) == 1
    [mail] = inbox.received
    assert mail.recipients == [ANA] and mail.message["To"] == ANA
    assert mail.message["Subject"] == "Order WEB-7 is now Accepted"
    assert mail.message["Content-Language"] == "en"
    order_page = url(f"/orders/{order.pk}/")
    assert "Order WEB-7 is now Accepted" in text(mail) and order_page in mail.links()
    assert url("/notifications/") in mail.links() and url("/notifications/preferences/") in mail.links()
    assert f'href="{order_page}"' in mail.html and "Order WEB-7 is now Accepted" in mail.html
    assert '<html lang="en">' in mail.html
    # Folded onto its own line (RFC 5322): the parser keeps the fold's space.
    unsubscribe = str(mail.message["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith(f"<{url('/notifications/unsubscribe/')}") and unsubscribe.endswith("/>")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The body's per-kind link is the header's, for this digest's only kind.
    assert unsubscribe.strip("<>") in mail.links()
    assert deliveries(world.acme) == [("Order WEB-7 is now Accepted", "sent", "")]

    with clock.travel(DUE + 120):
        jobs.run_due(kinds=[digest.DIGEST_JOB])
    assert len(inbox.received) == 1, "no second mail on the next sweep"


def test_several_notifications_make_one_mail_without_the_one_read_meanwhile(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-8", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "Ten minutes,\nthe oven is full")
    change_status(world.acme.tenant, order, "preparing")
    accepted, comment, preparing = notifications(world.acme)
    with tenant_context(world.acme.tenant):
        notifications_mark_read(user=ana, ids=[accepted.pk])

    assert sweep(DUE, world.acme.tenant) == 1
    [mail] = inbox.received
    assert mail.message["Subject"] == "2 unread notifications on Acme"
    assert "Order WEB-8 is now Preparing" in text(mail) and "New comment on order WEB-8" in text(mail)
    assert "  Ten minutes,\n  the oven is full" in text(mail), "the comment, indented under its title"
    assert "Accepted" not in text(mail) and "Accepted" not in mail.html, "the one read is not in it"
    assert text(mail).index("Preparing") < text(mail).index("New comment"), "newest first"
    assert mail.html.count(f'href="{url(f"/orders/{order.pk}/")}"') == 2
    # One unsubscribe link per kind in the body; the header's covers both.
    status_link, comment_link = (
        line.rsplit(" ", 1)[1] for line in text(mail).splitlines() if line.startswith("Stop emails about")
    )
    assert str(mail.message["List-Unsubscribe"]).strip().strip("<>") not in (status_link, comment_link)
    assert delivery(world.acme, accepted.pk).status == "skipped" and delivery(world.acme, accepted.pk).reason == "read"
    assert {delivery(world.acme, n.pk).status for n in (comment, preparing)} == {"sent"}

    change_status(world.acme.tenant, order, "ready")
    # (Notifications are stamped with the real time; the sweeps' clock is moved from it.)
    assert sweep(MINUTES * 60 - 30, world.acme.tenant) == 0, "a new one waits its own minutes"
    assert sweep(DUE, world.acme.tenant) == 1
    assert inbox.received[1].message["Subject"] == "Order WEB-8 is now Ready"


def test_nothing_is_mailed_when_everything_was_read_or_archived(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-9", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "Thanks!")
    accepted, comment = notifications(world.acme)
    with tenant_context(world.acme.tenant):
        notifications_mark_read(user=ana, ids=[accepted.pk])
        notifications_archive(user=ana, ids=[comment.pk])

    assert sweep(DUE, world.acme.tenant) == 0
    assert inbox.received == []
    assert [(status, reason) for _, status, reason in deliveries(world.acme)] == [("skipped", "read")] * 2


def test_a_kind_turned_off_meanwhile_and_an_address_removed_meanwhile_are_skipped(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-10", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "On it")
    with tenant_context(world.acme.tenant):
        preferences_update(user=ana, kinds_channels={"order_status": {"email": False}})
    assert sweep(DUE, world.acme.tenant) == 1
    assert inbox.received[0].message["Subject"] == "New comment on order WEB-10"
    assert [reason for _, status, reason in deliveries(world.acme) if status == "skipped"] == ["muted"]

    add_comment(world.acme.tenant, order, world.acme.staff1, "Almost")
    give_address(world.acme, "")
    assert sweep(2 * DUE, world.acme.tenant) == 0
    assert deliveries(world.acme)[-1] == ("New comment on order WEB-10", "skipped", "no_address")
    assert len(inbox.received) == 1


def test_a_deactivated_customer_is_not_mailed(world, ana, inbox):
    change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
    give_address(world.acme, ANA, is_active=False)
    assert sweep(DUE, world.acme.tenant) == 0
    [row] = notifications(world.acme)
    assert (delivery(world.acme, row.pk).reason, delivery(world.acme, row.pk).detail) == (
        "no_address",
        "account deactivated",
    )


def test_without_an_email_service_nothing_is_sent_and_the_rows_say_why(world, ana, inbox, settings):
    settings.EMAIL_CONFIGURED = False
    change_status(world.acme.tenant, create_order(world.acme.tenant, external_id="WEB-11", customer=ana), "accepted")
    assert sweep(MINUTES * 60 - 30, world.acme.tenant) == 0
    assert deliveries(world.acme) == [("Order WEB-11 is now Accepted", "queued", "")], "not before they are due"
    assert sweep(DUE, world.acme.tenant) == 0
    assert inbox.received == []
    assert deliveries(world.acme) == [("Order WEB-11 is now Accepted", "skipped", "no_email_service")]
    settings.EMAIL_CONFIGURED = True
    assert sweep(2 * DUE, world.acme.tenant) == 0, "skipped for good: configuring mail later sends no old news"


def test_the_tenants_digest_minutes_decide_when(world, ana, inbox):
    Tenant.objects.filter(pk=world.acme.tenant.pk).update(email_digest_minutes=2)
    change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
    tenant = Tenant.objects.get(pk=world.acme.tenant.pk)
    assert sweep(110, tenant) == 0
    assert sweep(121, tenant) == 1


def test_a_spanish_customer_gets_a_spanish_mail_from_an_english_staff_members_action(world, ana, inbox):
    Tenant.objects.filter(pk=world.acme.tenant.pk).update(time_zone="Europe/Madrid")
    with tenant_context(world.acme.tenant):
        get_user_model().objects.filter(pk=ana.pk).update(language="es")
    order = create_order(world.acme.tenant, external_id="WEB-12", customer=ana)
    staff = Client(HTTP_HOST="acme.localhost", HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(world.acme.tenant):
        staff.force_login(world.acme.staff1)
    answer = staff.post(f"/api/orders/{order.pk}/status", {"status": "accepted"}, content_type="application/json")
    assert answer.status_code == 200 and answer["Content-Language"] == "en"

    assert sweep(DUE, Tenant.objects.get(pk=world.acme.tenant.pk)) == 1
    [mail] = inbox.received
    assert mail.message["Subject"] == "El pedido WEB-12 ha pasado a: Aceptado"
    assert mail.message["Content-Language"] == "es" and '<html lang="es">' in mail.html
    assert (
        "El pedido WEB-12 ha pasado a: Aceptado" in text(mail) and "El pedido WEB-12 ha pasado a: Aceptado" in mail.html
    )
    [notification] = notifications(world.acme)
    with translation.override("es"):
        madrid = timezone.localtime(notification.created_at, ZoneInfo("Europe/Madrid"))
        shown = dateformat.format(madrid, get_format("DATETIME_FORMAT"))
    assert shown in text(mail) and shown in mail.html, "the time in Madrid, written in Spanish"
    assert " de " in shown


def test_each_tenants_customer_with_the_same_id_gets_only_their_own_digest(world, ana, inbox):
    bob = world.globex.customer
    assert bob.pk == ana.pk
    acme_order = create_order(world.acme.tenant, external_id="ACME-1", customer=ana)
    globex_order = create_order(world.globex.tenant, external_id="GLOBEX-1", customer=bob)
    change_status(world.acme.tenant, acme_order, "accepted")
    change_status(world.globex.tenant, globex_order, "cancelled")

    sweep(DUE)  # every tenant, as the periodic job does
    mails = {mail.recipients[0]: mail for mail in inbox.received}
    assert sorted(mails) == [ANA, BOB] and len(inbox.received) == 2
    assert "ACME-1" in text(mails[ANA]) and "GLOBEX" not in text(mails[ANA]) + mails[ANA].html
    assert "GLOBEX-1" in text(mails[BOB]) and "ACME" not in text(mails[BOB]) + mails[BOB].html
    assert all("globex.localhost" not in link for link in mails[ANA].links())
    assert url(f"/orders/{globex_order.pk}/", "globex.localhost") in mails[BOB].links()
    assert mails[ANA].message["List-Unsubscribe"] != mails[BOB].message["List-Unsubscribe"]


def test_a_long_inbox_lists_the_newest_and_counts_the_rest(world, ana, inbox):
    with tenant_context(world.acme.tenant):
        from alerts.services import notification_create

        for number in range(digest.MAX_ITEMS + 3):
            notification_create(recipient=ana, kind="order_comment", params={"ref": f"R-{number}"}, body="x")
    assert sweep(DUE, world.acme.tenant) == 1
    [mail] = inbox.received
    assert "New comment on order R-52" in text(mail) and "New comment on order R-3\n" in text(mail)
    assert "New comment on order R-2\n" not in text(mail) and "And 3 more." in text(mail)
    assert {status for _, status, _ in deliveries(world.acme)} == {"sent"}


# --- the mail server down, refusing, hanging up ------------------------------------------
def test_mail_server_down_loses_nothing_and_the_digest_goes_once_it_is_back(world, ana, settings):
    with smtp_server() as first:
        point_django_at(settings, first.email_url)
        port = int(first.email_url.rsplit(":", 1)[1])
    # Stopped: nothing listens on its port now.
    change_status(world.acme.tenant, create_order(world.acme.tenant, external_id="WEB-13", customer=ana), "accepted")
    assert sweep(DUE, world.acme.tenant) == 0
    [row] = notifications(world.acme)
    queued = delivery(world.acme, row.pk)
    assert (queued.status, queued.attempts) == ("queued", 1) and "Connection" in queued.detail
    assert sweep(DUE + 30, world.acme.tenant) == 0, "waits EMAIL_DIGEST_RETRY_SECONDS before trying again"
    assert delivery(world.acme, row.pk).attempts == 1

    with smtp_server(port=port) as back:
        assert sweep(DUE + settings.EMAIL_DIGEST_RETRY_SECONDS + 5, world.acme.tenant) == 1
        [mail] = back.received
        assert mail.message["Subject"] == "Order WEB-13 is now Accepted"
        assert sweep(DUE + 600, world.acme.tenant) == 0
        assert len(back.received) == 1
    sent = delivery(world.acme, row.pk)
    assert (sent.status, sent.attempts, sent.retry_at) == ("sent", 1, None)


def test_a_server_down_for_good_gives_up_after_the_attempts(world, ana, settings):
    settings.EMAIL_DIGEST_MAX_ATTEMPTS, settings.EMAIL_DIGEST_RETRY_SECONDS = 3, 60
    port = free_port()
    point_django_at(settings, f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}")
    change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
    [row] = notifications(world.acme)
    waited = DUE
    for attempt, wait in ((1, 60), (2, 120), (3, None)):
        assert sweep(waited, world.acme.tenant) == 0
        tried = delivery(world.acme, row.pk)
        assert tried.attempts == attempt
        if wait is not None:
            assert tried.status == "queued"
            assert sweep(waited + wait - 5, world.acme.tenant) == 0 and delivery(world.acme, row.pk).attempts == attempt
            waited += wait + 1
    assert (tried.status, tried.reason, tried.retry_at) == ("failed", "error", None)
    with smtp_server(port=port) as back:
        assert sweep(waited + 3600, world.acme.tenant) == 0
        assert back.received == []


class RefusesRecipients(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


class HangsUpAfterTheMessage(Inbox):
    """Takes the whole message, then drops the connection before answering:
    the sender cannot tell whether it was accepted."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        server.transport.close()
        return "250 never heard"


def test_a_refused_mail_is_tried_again_later(world, ana, settings):
    with smtp_server(inbox=RefusesRecipients()) as refusing:
        point_django_at(settings, refusing.email_url)
        change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
        assert sweep(DUE, world.acme.tenant) == 0
    [row] = notifications(world.acme)
    refused = delivery(world.acme, row.pk)
    assert (refused.status, refused.attempts) == ("queued", 1) and "550" in refused.detail


def test_an_address_that_would_inject_a_header_is_refused_before_connecting(world, ana, inbox):
    give_address(world.acme, "ana@example.com\nBcc: eve@example.com")
    change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
    assert sweep(DUE, world.acme.tenant) == 0
    assert inbox.received == []
    [row] = notifications(world.acme)
    refused = delivery(world.acme, row.pk)
    assert (refused.status, refused.attempts) == ("queued", 1) and "Invalid address" in refused.detail


def test_a_connection_lost_after_the_message_is_never_sent_again(world, ana, settings):
    """At most once: the server may have taken it (here it did)."""
    with smtp_server(inbox=HangsUpAfterTheMessage()) as server:
        point_django_at(settings, server.email_url)
        change_status(world.acme.tenant, create_order(world.acme.tenant, customer=ana), "accepted")
        assert sweep(DUE, world.acme.tenant) == 0
        assert sweep(DUE + 3600, world.acme.tenant) == 0
        assert len(server.received) == 1
    [row] = notifications(world.acme)
    lost = delivery(world.acme, row.pk)
    assert (lost.status, lost.reason) == ("failed", "error") and "connection lost" in lost.detail


def test_a_round_stops_at_a_server_that_cannot_be_reached(world, ana, settings):
    """Each next user would wait for their own timeout: they are left
    queued, their attempts untouched."""
    point_django_at(settings, f"smtp://{USER}:{PASSWORD}@127.0.0.1:{free_port()}")
    for who in ("staff1", "staff2"):
        with tenant_context(world.acme.tenant):
            get_user_model().objects.filter(username=who).update(email=f"{who}@example.com")
            from alerts.services import notification_create

            notification_create(recipient=getattr(world.acme, who), kind="order_comment", params={"ref": "X"})
    sweep(DUE, world.acme.tenant)
    with tenant_context(world.acme.tenant):
        attempts = sorted(Delivery.objects.filter(channel="email").values_list("attempts", flat=True))
    assert attempts == [0, 1]


# --- two sweeps at once ----------------------------------------------------------------
def waiting_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0]


class Sweeps:
    """`count` sweeps of `tenant`'s digests, each on a thread (and database
    connection) of its own, let go at the same moment."""

    def __init__(self, tenant, count: int):
        self.tenant, self.results, self.errors = tenant, [], []
        self.barrier = threading.Barrier(count)
        self.threads = [threading.Thread(target=self._run) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self):
        try:
            self.barrier.wait()
            with tenant_context(self.tenant):
                self.results.append(digest.send_due_digests())
        except Exception as error:  # reported by finish()
            self.errors.append(error)
        finally:
            connections.close_all()

    def finish(self) -> list[int]:
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)
        assert not self.errors, self.errors
        return sorted(self.results)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_waiting_on_the_same_recipient_send_one_mail(world, ana, inbox):
    """Both sweeps found the user due; the recipient's lock makes the one
    that comes second find nothing left to send."""
    order = create_order(world.acme.tenant, customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "hi")
    with clock.travel(DUE):
        with transaction.atomic(), tenant_context(world.acme.tenant):
            digest._lock_recipient(ana.pk)  # held by the test until this block commits
            sweeps = Sweeps(world.acme.tenant, 2)
            deadline = time.monotonic() + 20
            while waiting_advisory_locks() < 2:
                assert time.monotonic() < deadline, "both sweeps should be waiting for the recipient's lock"
                time.sleep(0.02)
        assert sweeps.finish() == [0, 1]
    [mail] = inbox.received
    assert mail.message["Subject"] == "2 unread notifications on Acme"
    assert [status for _, status, _ in deliveries(world.acme)] == ["sent", "sent"]


@pytest.mark.django_db(transaction=True)
def test_sweeps_racing_over_many_recipients_mail_each_once(world, inbox):
    from alerts.services import notification_create

    with tenant_context(world.acme.tenant):
        for number in range(8):
            person = get_user_model().objects.create_user(username=f"c{number}", email=f"c{number}@example.com")
            notification_create(recipient=person, kind="order_status", params={"ref": f"N-{number}", "status": "new"})
    with clock.travel(DUE):
        assert sum(Sweeps(world.acme.tenant, 3).finish()) == 8
    assert sorted(mail.recipients[0] for mail in inbox.received) == sorted(f"c{n}@example.com" for n in range(8))
    assert {status for _, status, _ in deliveries(world.acme)} == {"sent"}


def test_a_notification_made_after_the_first_waits_its_own_minutes(world, inbox, ana):
    """One overdue notification does not carry a brand-new one into the mail:
    the new one may yet be read on the site."""
    cast = world.acme
    order = create_order(cast.tenant, external_id="OLD-1", customer=cast.customer)
    change_status(cast.tenant, order, "accepted")
    add_comment(cast.tenant, order, cast.staff1, "Made seconds before the sweep")
    with tenant_context(cast.tenant):
        young = Notification.objects.filter(recipient=cast.customer).latest("pk")
        # Made 5 s before the sweep below: the accepted one has waited its minutes, this one not.
        Notification.objects.filter(pk=young.pk).update(created_at=timezone.now() + timedelta(seconds=DUE - 5))
    sweep(DUE, cast.tenant)
    [first] = inbox.received
    assert "OLD-1" in text(first) and "Made seconds before the sweep" not in text(first)
    with tenant_context(cast.tenant):
        assert Delivery.objects.get(notification=young, channel="email").status == "queued"
        notifications_mark_read(user=cast.customer, ids=[young.pk])  # read on the site meanwhile
    sweep(2 * DUE, cast.tenant)
    assert len(inbox.received) == 1
    with tenant_context(cast.tenant):
        assert Delivery.objects.get(notification=young, channel="email").reason == "read"
