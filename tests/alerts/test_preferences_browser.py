"""The notification preferences page and the admins' alert kinds page in a
real browser: switches saved as they change, critical kinds locked with the
reason, a refused change switched back, each tenant its own."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser import DESK, assert_accessible, browser, elsewhere, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def preferences_of(tenant, user) -> dict:
    from alerts.selectors import preferences

    with tenant_context(tenant):
        return preferences(user=user)


def make_critical(tenant, admin, kind) -> None:
    from alerts.services import kind_policies_update

    with tenant_context(tenant):
        kind_policies_update(actor=admin, policies={kind: {"critical": True}})


def switch(page, kind: str, channel: str):
    return page.locator(f'fieldset[data-kind="{kind}"] input[name="{channel}"]')


def test_a_switch_is_saved_as_it_changes_in_its_own_tenant(product_server, world):
    acme, globex = world.acme, world.globex
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.goto(f"{base}/notifications/")
        page.get_by_role("link", name="Preferences").click()
        page.wait_for_url(f"{base}/notifications/preferences/")
        group = page.get_by_role("group", name="Order comment")
        in_app = group.get_by_role("switch", name="In the app")
        expect(in_app).to_be_checked()
        email = group.get_by_role("switch", name="Email")
        expect(email).to_be_checked()  # news of their own orders is mailed unless they say no

        in_app.uncheck()
        expect(page.locator("#saved")).to_have_text("Saved.")
        email.uncheck()
        expect(page.locator("#saved")).to_have_text("Saved.")
        expect(email).to_be_focused()  # the list was drawn again; the focus stayed

        stored = elsewhere(preferences_of, acme.tenant, acme.customer)["order_comment"]["channels"]
        assert stored == {"in_app": False, "push": stored["push"], "email": False}
        # globex's customer 104 is another person.
        assert elsewhere(preferences_of, globex.tenant, globex.customer)["order_comment"]["channels"]["in_app"] is True

        page.reload()
        expect(switch(page, "order_comment", "in_app")).not_to_be_checked()
        expect(switch(page, "order_comment", "email")).not_to_be_checked()
        assert_accessible(page, label="preferences, after changes")


def test_a_kind_the_admin_makes_critical_is_locked_for_customers(product_server, world):
    acme = world.acme
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        admin = sign_in(chromium.new_context(viewport=DESK), base, "admin", PASSWORD)
        admin.get_by_role("link", name="Alert kinds").first.click()
        admin.wait_for_url(f"{base}/manage/notifications/")
        critical = admin.get_by_role("switch", name="Order status")
        expect(critical).not_to_be_checked()
        critical.check()
        admin.get_by_role("button", name="Save", exact=True).click()  # not "Save timing"
        expect(admin.locator("#saved")).to_have_text("Saved.")
        assert elsewhere(preferences_of, acme.tenant, acme.customer)["order_status"]["critical"] is True
        admin.reload()
        expect(admin.get_by_role("switch", name="Order status")).to_be_checked()
        assert_accessible(admin, label="alert kinds")

        customer = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        customer.goto(f"{base}/notifications/preferences/")
        group = customer.get_by_role("group", name="Order status")
        for channel in ("In the app", "Push", "Email"):
            expect(group.get_by_role("switch", name=channel)).to_be_disabled()
            expect(group.get_by_role("switch", name=channel)).to_be_checked()
        expect(group.locator(".locked")).to_contain_text("cannot be turned off")
        expect(switch(customer, "order_status", "in_app")).to_have_accessible_description(
            "Critical: your shop needs you to get these, so they cannot be turned off."
        )
        expect(customer.get_by_role("group", name="Mention").get_by_role("switch", name="In the app")).to_be_enabled()

    # globex's kinds are globex's: nothing critical there.
    assert not any(
        k["critical"] for k in elsewhere(preferences_of, world.globex.tenant, world.globex.customer).values()
    )


def test_a_refused_change_is_switched_back_with_the_reason(product_server, world):
    """The admin makes a kind critical while the customer's page is open:
    turning it off is refused (422 critical_kind), the switch goes back on."""
    acme = world.acme
    base = f"http://acme.localhost:{product_server.port}"
    with browser() as chromium:
        page = sign_in(chromium.new_context(viewport=DESK), base, "customer", PASSWORD)
        page.goto(f"{base}/notifications/preferences/")
        in_app = switch(page, "announcement", "in_app")
        expect(in_app).to_be_enabled()
        elsewhere(make_critical, acme.tenant, acme.admin, "announcement")
        # A click, not uncheck(): the refusal may switch it back before
        # Playwright looks, which uncheck() would take for a failed click.
        in_app.click()
        # The server's reason, not only that it failed.
        expect(page.locator("#saved")).to_have_text(
            "Not saved: the tenant made these kinds critical: they cannot be muted"
        )
        expect(page.locator("#saved")).to_have_class("error")
        expect(in_app).to_be_checked()
        assert elsewhere(preferences_of, acme.tenant, acme.customer)["announcement"]["channels"]["in_app"] is True
        assert_accessible(page, label="preferences, a refused change")
