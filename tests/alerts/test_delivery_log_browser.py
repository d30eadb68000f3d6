"""The delivery log in a real browser: a customer's history on the
preferences page (English and Spanish, older pages on request, only their
own), and a tenant admin's timing form and totals, whose new push delay
the next notification's push job then waits for."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser import DESK, PHONE, assert_accessible, browser, elsewhere, sign_in
from tests.factories import PASSWORD, notify

pytestmark = pytest.mark.django_db(transaction=True)


def outcome(notification, channel, status, reason="", detail=""):
    """What the senders would have recorded for this notification on `channel`."""
    from alerts.models import Delivery

    Delivery.objects.filter(notification=notification, channel=channel).update(
        status=status, reason=reason, detail=detail
    )


def a_history(world):
    """acme's customer (with an e-mail address): an order alert pushed,
    then read before its e-mail went; a comment whose push failed and whose
    e-mail waits for the digest. globex's customer (the same user id,
    and deliveries of the same ids) and acme's staff1 have their own."""
    acme, globex = world.acme, world.globex
    with tenant_context(acme.tenant):
        from alerts.models import Notification
        from alerts.services import notification_create

        type(acme.customer).objects.filter(pk=acme.customer.pk).update(email="ana@example.com")

        status = notification_create(
            recipient=acme.customer,
            kind=Notification.Kind.ORDER_STATUS,
            params={"ref": "WEB-1", "status": "accepted"},
            title="Order WEB-1 is now Accepted",
            url="/orders/1/",
        )
        outcome(status, "push", "sent", detail="1 device")
        outcome(status, "email", "skipped", "read")
        comment = notification_create(
            recipient=acme.customer, kind=Notification.Kind.ORDER_COMMENT, params={"ref": "WEB-1"}, title="c"
        )
        outcome(comment, "push", "failed", "error", "503 from the push service")
    notify(acme.tenant, acme.staff1, "staff1's own")
    for n in range(3):
        notify(globex.tenant, globex.customer, f"GLOBEX secret {n}")


def words(language: str) -> dict:
    """The page's words for channels, statuses and reasons, as the server
    translates them (the locale's catalogue, whatever it holds today)."""
    from alerts.views import delivery_words

    with translation.override(language):
        return delivery_words()


def said(w: dict, status: str, reason: str = "") -> str:
    if not reason:
        return w["statuses"][status]
    return w["with_reason"] % {"status": w["statuses"][status], "reason": w["reasons"][reason]}


def set_language(tenant, user, language):
    with tenant_context(tenant):
        type(user).objects.filter(pk=user.pk).update(language=language)


def test_the_customer_reads_their_own_history_in_english_and_spanish(product_server, world):
    elsewhere(a_history, world)
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.goto(f"{base}/notifications/preferences/")
        history = page.get_by_role("list", name="Delivery history")
        items = history.get_by_role("listitem")
        expect(items).to_have_count(4)  # the comment's e-mail is queued; nothing of staff1's or globex's
        expect(page.locator("#history")).not_to_contain_text("GLOBEX")
        expect(page.locator("#history")).not_to_contain_text("staff1")
        en = words("en")
        comment_email, comment_push, status_email, status_push = (items.nth(i) for i in range(4))
        expect(comment_push).to_contain_text("New comment on order WEB-1")
        expect(comment_push.locator(".status")).to_have_text(said(en, "failed", "error"))
        expect(comment_push.locator(".detail")).to_have_text("503 from the push service")
        expect(comment_email.locator(".status")).to_have_text(said(en, "queued"))
        expect(status_email.locator(".channel")).to_have_text(en["channels"]["email"])
        expect(status_email.locator(".status")).to_have_text("Skipped: Already read")
        expect(status_push.locator(".status")).to_have_text("Sent")
        expect(status_push.locator(".channel")).to_have_text("Push")
        expect(status_push.get_by_role("link", name="Order WEB-1 is now Accepted")).to_have_attribute(
            "href", "/orders/1/"
        )
        expect(status_push.locator("time")).to_have_text("now")
        expect(page.locator("#deliveries-more")).to_be_hidden()
        expect(page.locator("#deliveries-empty")).to_be_hidden()
        for viewport in (DESK, PHONE):
            page.set_viewport_size(viewport)
            assert_accessible(page, label=f"delivery history {viewport['width']}")
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

        # In Spanish: the titles, the words, the times.
        elsewhere(set_language, world.acme.tenant, world.acme.customer, "es")
        page.reload()
        es = words("es")
        history = page.locator("#deliveries")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        status_push = history.get_by_role("listitem").nth(3)
        expect(status_push.get_by_role("link")).to_have_text("El pedido WEB-1 ha pasado a: Aceptado")
        expect(status_push.locator(".status")).to_have_text(said(es, "sent"))
        expect(history.get_by_role("listitem").nth(2).locator(".status")).to_have_text(said(es, "skipped", "read"))
        expect(status_push.locator("time")).to_have_text("ahora")
        assert_accessible(page, label="delivery history, Spanish")

        # Another person of the same id in globex sees only theirs.
        other = sign_in(chromium.new_context(viewport=DESK), base.replace("acme", "globex"), "customer", PASSWORD)
        other.goto(f"{base.replace('acme', 'globex')}/notifications/preferences/")
        expect(other.locator("#deliveries li")).to_have_count(6)
        expect(other.locator("#deliveries")).not_to_contain_text("WEB-1")


def test_older_deliveries_on_request_and_an_empty_history(product_server, world):
    def many():
        for n in range(12):  # 24 deliveries: push and e-mail each
            notify(world.acme.tenant, world.acme.customer, f"alert {n:02}")

    elsewhere(many)
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.goto(f"{base}/notifications/preferences/")
        items = page.locator("#deliveries li")
        expect(items).to_have_count(20)
        expect(items.first).to_contain_text("alert 11")
        # One arrives while the page is open: the next page still continues where this one ended.
        elsewhere(notify, world.acme.tenant, world.acme.customer, "arrived later")
        more = page.get_by_role("button", name="Show older")
        more.click()
        expect(items).to_have_count(24)
        expect(more).to_be_hidden()
        expect(items.nth(20).locator(".title")).to_be_focused()
        expect(items.last).to_contain_text("alert 00")
        ids = [int(i) for i in items.evaluate_all("(all) => all.map((li) => li.dataset.id)")]
        assert ids == sorted(set(ids), reverse=True)  # no repeat, newest first
        expect(page.locator("#deliveries")).not_to_contain_text("arrived later")

        staff = sign_in(chromium.new_context(viewport=PHONE), base, "staff2", PASSWORD)
        staff.goto(f"{base}/notifications/preferences/")
        expect(staff.locator("#deliveries-empty")).to_be_visible()
        expect(staff.locator("#deliveries")).to_be_hidden()
        assert_accessible(staff, label="empty delivery history")


def push_job_delay(world) -> timedelta:
    """A notification for acme's customer (who has a push device), made as
    the product makes it, with the tenant row as it is now: how long after
    it its push job is due."""
    from alerts.models import Delivery, PushDevice
    from tenants.models import Job, Tenant

    tenant = Tenant.objects.get(pk=world.acme.tenant.pk)  # a request or a job reads it afresh too
    with tenant_context(tenant):
        PushDevice.objects.get_or_create(
            user=world.acme.customer,
            endpoint="https://push.invalid/acme-customer",
            defaults={"p256dh": "k", "auth": "a"},
        )
    before = timezone.now()
    notification = notify(tenant, world.acme.customer, "your order moved")
    with tenant_context(tenant):
        push = Delivery.objects.get(notification=notification, channel="push")
    assert push.status == "queued"
    return Job.objects.get(tenant_id=tenant.pk, kind="alerts.push", object_id=push.pk).due_at - before


def test_the_admin_sets_the_timing_and_the_next_push_waits_for_it(product_server, world):
    """The customer has the site open (a live bell: a socket on the
    server, in Redis); the admin sets the push delay to 120 s; the next
    notification's push job is due 120 s after it, not 30."""
    from tenants.models import Tenant

    def timing(tenant):
        row = Tenant.objects.get(pk=tenant.pk)
        return row.push_after_seconds, row.email_digest_minutes

    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        customer = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        expect(customer.locator("#bell")).to_have_attribute("data-state", "live", timeout=10_000)
        assert timedelta(seconds=25) < elsewhere(push_job_delay, world) <= timedelta(seconds=31)

        admin = sign_in(chromium.new_context(viewport=DESK), base, "admin", PASSWORD)
        admin.goto(f"{base}/manage/notifications/")
        push = admin.get_by_role("textbox", name="Push after (seconds)")
        digest = admin.get_by_role("textbox", name="Email digest after (minutes)")
        expect(push).to_have_value("30")
        expect(digest).to_have_value("10")
        save = admin.get_by_role("button", name="Save timing")

        # Refused: nothing saved, the reason next to the field.
        for typed, field in (("٥", push), ("3601", push), ("1.5", push), ("", push), ("0", digest)):
            push.fill("45")
            digest.fill("15")
            field.fill(typed)
            save.click()
            expect(admin.locator("#timing-saved")).to_contain_text("Not saved:")
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(field).to_be_focused()
            name = field.get_attribute("id")
            error, help_text = admin.locator(f"#{name}_error"), admin.locator(f"#{name}_help")
            expect(error).to_be_visible()
            expect(field).to_have_accessible_description(f"{error.inner_text()} {help_text.inner_text()}")
            assert elsewhere(timing, world.acme.tenant) == (30, 10)
        assert_accessible(admin, label="timing, refused")

        push.fill("120")
        digest.fill("15")
        save.click()
        expect(admin.locator("#timing-saved")).to_have_text("Saved.")
        expect(push).not_to_have_attribute("aria-invalid", "true")
        expect(admin.locator("#email_digest_minutes_error")).to_be_hidden()
        assert elsewhere(timing, world.acme.tenant) == (120, 15)
        assert elsewhere(timing, world.globex.tenant) == (30, 10)
        admin.reload()
        expect(push).to_have_value("120")
        expect(digest).to_have_value("15")

        # The customer's socket is still open: the next push waits the new delay.
        expect(customer.locator("#bell")).to_have_attribute("data-state", "live")
        assert timedelta(seconds=115) < elsewhere(push_job_delay, world) <= timedelta(seconds=121)
        # With no page open (once the server has left the socket's group), it goes at once.
        customer.context.close()
        deadline = time.monotonic() + 10
        while elsewhere(push_job_delay, world) > timedelta(seconds=1):
            assert time.monotonic() < deadline, "the push still waits with no page open"
            time.sleep(0.2)


def test_the_admin_sees_the_weeks_totals_of_their_tenant_only(product_server, world):
    def outcomes():
        from alerts.models import Delivery

        a_history(world)
        with tenant_context(world.acme.tenant):
            # Older than the week: not counted.
            old = notify(world.acme.tenant, world.acme.customer, "last month")
            Delivery.objects.filter(notification=old).update(created_at=timezone.now() - timedelta(days=8))
        with tenant_context(world.globex.tenant):
            Delivery.objects.update(status="failed", reason="gone")

    elsewhere(outcomes)
    base = f"http://acme.localhost:{product_server.port}"
    en = words("en")

    def cells(page, status, reason=""):
        row = page.locator(f'#totals tbody tr[data-status="{status}"][data-reason="{reason}"]')
        return [row.locator("th").inner_text(), *row.locator("td").all_inner_texts()]

    with browser() as chromium:
        admin = sign_in(chromium.new_context(viewport=PHONE), base, "admin", PASSWORD)
        admin.goto(f"{base}/manage/notifications/")
        expect(admin.locator("#totals")).not_to_have_attribute("aria-busy", "true")
        # acme: the customer's 2 notifications + staff1's 1, each on push and e-mail.
        assert cells(admin, "sent") == [said(en, "sent"), "1", "0"]
        assert cells(admin, "queued") == [said(en, "queued"), "0", "1"]  # the comment's e-mail waits
        assert cells(admin, "skipped", "read") == [said(en, "skipped", "read"), "0", "1"]
        assert cells(admin, "skipped", "no_device") == [said(en, "skipped", "no_device"), "1", "0"]  # staff1
        assert cells(admin, "skipped", "muted") == [said(en, "skipped", "muted"), "0", "1"]  # staff1: system
        assert cells(admin, "skipped", "no_address") == [said(en, "skipped", "no_address"), "0", "0"]
        assert cells(admin, "failed", "error") == [said(en, "failed", "error"), "1", "0"]
        assert admin.locator("#totals tbody tr[data-reason=gone]").count() == 0  # globex's
        assert admin.locator("#totals tfoot td").all_inner_texts() == ["3", "3"]
        assert_accessible(admin, label="delivery totals, phone")
        assert admin.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
