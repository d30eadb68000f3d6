"""Tenant admins manage stores and staff at /manage/: who may, what bad
input gets, and that acme's admin never reaches globex's rows (both hold
stores 1 and 2, users 101–105 and memberships 1–3, on purpose)."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from stores.models import StaffMembership, Store
from tests.factories import TENANT_HOSTS, session_cookie
from tests.smtp import point_django_at, smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store_ids_after_the_cast(world):
    """The cast's stores have explicit ids (1, 2), which do not move the
    sequence; a store created here must get 3, as after `seed_demo`."""
    from django.core.management.color import no_style
    from django.db import connection

    for tenant in (world.acme.tenant, world.globex.tenant):
        with tenant_context(tenant), connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Store, StaffMembership]):
                cursor.execute(sql)


def client_of(tenant, user=None, **extra) -> Client:
    """A browser on the tenant's host, signed in as `user` (its session in
    that tenant's schema); it keeps cookies, so messages survive redirects."""
    client = Client(HTTP_HOST=TENANT_HOSTS[tenant.schema_name], **extra)
    if user is not None:
        with tenant_context(tenant):
            client.force_login(user)
    return client


def store_row(tenant, store_id):
    with tenant_context(tenant):
        return Store.objects.get(pk=store_id)


def members(tenant, store_id) -> dict[str, str]:
    with tenant_context(tenant):
        return dict(StaffMembership.objects.filter(store_id=store_id).values_list("user__username", "role"))


SETTINGS = {
    "name": "Centro",
    "sound_enabled": "on",
    "sound_repeat_seconds": "30",
    "sla_warn_minutes": "6",
    "sla_late_minutes": "12",
    "unattended_alert_seconds": "90",
}

PAGES = ["/manage/", "/manage/stores/", "/manage/stores/1/", "/manage/integrations/", "/manage/announcements/"]


@pytest.mark.parametrize("path", PAGES)
def test_only_tenant_admins_open_the_pages(world, path):
    acme = world.acme
    assert client_of(acme.tenant).get(path).status_code == 302  # to sign in
    assert client_of(acme.tenant).get(path)["Location"].startswith("/accounts/login/")
    for person in (acme.staff1, acme.manager1, acme.customer):
        assert client_of(acme.tenant, person).get(path).status_code == 403
    # globex's admin (the same user id) is nobody on acme's host.
    cookie = session_cookie(world.globex.tenant, world.globex.admin)
    assert Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=cookie).get(path).status_code == 302
    response = client_of(acme.tenant, acme.admin).get(path)
    assert response.status_code == 200
    assert "globex" not in response.content.decode().lower()


def test_the_old_addresses_lead_to_the_new_pages(world):
    admin = client_of(world.acme.tenant, world.acme.admin)
    assert admin.get("/integrations/")["Location"] == "/manage/integrations/"
    assert admin.get("/announcements/")["Location"] == "/manage/announcements/"


def test_admin_creates_a_store_with_default_board_settings(world):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/", {"name": "  Puerto  "})
    with tenant_context(world.acme.tenant):
        store = Store.objects.get(name="Puerto")
    assert response.status_code == 302 and response["Location"] == f"/manage/stores/{store.pk}/"
    assert (store.sound_enabled, store.sla_warn_minutes, store.sla_late_minutes) == (True, 5, 8)
    with tenant_context(world.globex.tenant):
        assert not Store.objects.filter(name="Puerto").exists()


@pytest.mark.parametrize(
    "name, why", [("", "required"), ("   ", "required"), ("x" * 121, "at most 120"), ("bad\x00name", "Null")]
)
def test_a_bad_store_name_is_shown_next_to_the_field_and_nothing_is_created(world, name, why):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/", {"name": name})
    assert response.status_code == 422
    assert re.search(r'id="id_name_error"[^>]*>[^<]*' + why, response.content.decode(), re.I)
    assert 'aria-invalid="true"' in response.content.decode()
    with tenant_context(world.acme.tenant):
        assert Store.objects.count() == 2


def test_admin_renames_and_sets_the_board_of_their_store_1_not_globexs(world):
    admin = client_of(world.acme.tenant, world.acme.admin)
    with tenant_context(world.acme.tenant):
        Store.objects.filter(pk=1).update(last_seq=41)  # the stream moved on while the page was open
    response = admin.post("/manage/stores/1/", SETTINGS)
    assert response.status_code == 302
    store = store_row(world.acme.tenant, 1)
    assert (store.name, store.sound_enabled, store.sound_repeat_seconds) == ("Centro", True, 30)
    assert (store.sla_warn_minutes, store.sla_late_minutes, store.unattended_alert_seconds) == (6, 12, 90)
    assert store.last_seq == 41, "settings never write the stream's counter"
    other = store_row(world.globex.tenant, 1)
    assert (other.name, other.sla_warn_minutes) == ("globex one", 5)

    # An unchecked box is "off".
    admin.post("/manage/stores/1/", {**SETTINGS, "sound_enabled": ""})
    assert store_row(world.acme.tenant, 1).sound_enabled is False


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sla_late_minutes", "6", "more than the amber"),  # red must come after amber
        ("sla_late_minutes", "3", "more than the amber"),
        ("sound_repeat_seconds", "4", "greater than or equal to 5"),
        ("sound_repeat_seconds", "601", "less than or equal to 600"),
        ("sla_warn_minutes", "٥", "whole number"),  # Unicode digits are not a number here
        ("sla_warn_minutes", "", "required"),
        ("unattended_alert_seconds", "-1", "greater than or equal to 0"),
        ("unattended_alert_seconds", "99999999999999999999", "less than or equal to"),
        ("name", "x" * 5000, "at most 120"),
    ],
)
def test_bad_board_settings_are_named_next_to_their_field_and_nothing_changes(world, field, value, message):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/1/", {**SETTINGS, field: value})
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(rf'id="id_{field}_error"[^>]*>[^<]*{message}', html, re.I), html[:3000]
    store = store_row(world.acme.tenant, 1)
    assert (store.name, store.sla_warn_minutes, store.sla_late_minutes) == ("acme one", 5, 8)


def test_the_services_keep_red_after_amber_for_every_caller(world):
    from platform_core.errors import ApplicationError
    from stores.services import store_update

    with tenant_context(world.acme.tenant), pytest.raises(ApplicationError) as refused:
        store_update(store_id=1, sla_warn_minutes=10, sla_late_minutes=10)
    assert set(refused.value.fields) == {"sla_late_minutes"}


def test_an_admin_never_reaches_another_tenants_store(world):
    with tenant_context(world.globex.tenant):
        Store.objects.create(id=3, name="globex three")
    admin = client_of(world.acme.tenant, world.acme.admin)
    assert admin.get("/manage/stores/3/").status_code == 404
    assert admin.post("/manage/stores/3/", SETTINGS).status_code == 404
    assert (
        admin.post("/manage/stores/3/staff/", {"staff-email": "x@example.com", "staff-role": "staff"}).status_code
        == 404
    )
    assert store_row(world.globex.tenant, 3).name == "globex three"


# --- staff ------------------------------------------------------------------------------
def test_admin_adds_an_existing_person_by_email_as_a_manager(world):
    with tenant_context(world.acme.tenant):
        get_user_model().objects.filter(pk=world.acme.staff2.pk).update(email="Staff2@Acme.Example")
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/1/staff/", {"staff-email": " staff2@acme.example ", "staff-role": "manager"})
    assert response.status_code == 302
    assert members(world.acme.tenant, 1) == {"staff1": "staff", "manager1": "manager", "staff2": "manager"}
    assert "staff2" not in members(world.globex.tenant, 1)
    with tenant_context(world.acme.tenant):
        assert get_user_model().objects.count() == 5, "no new account"

    again = admin.post("/manage/stores/1/staff/", {"staff-email": "staff2@acme.example", "staff-role": "staff"})
    assert again.status_code == 422
    assert "already staff of this store" in again.content.decode()


def test_an_unknown_email_gets_an_account_and_a_one_time_sign_in_link_by_mail(
    world, settings, django_capture_on_commit_callbacks
):
    with smtp_server() as inbox:
        point_django_at(settings, inbox.email_url)
        settings.EMAIL_CONFIGURED = True
        admin = client_of(world.acme.tenant, world.acme.admin)
        with django_capture_on_commit_callbacks(execute=True):
            response = admin.post(
                "/manage/stores/2/staff/", {"staff-email": "Cook@Acme.Example", "staff-role": "staff"}
            )
        assert response.status_code == 302
        [mail] = inbox.received
    assert mail.recipients == ["cook@acme.example"]
    assert "acme two" in mail.message["Subject"]
    [link] = mail.links()
    assert urlsplit(link).netloc == "acme.localhost"
    assert members(world.acme.tenant, 2) == {"staff2": "staff", "cook@acme.example": "staff"}
    with tenant_context(world.acme.tenant):
        cook = get_user_model().objects.get(username="cook@acme.example")
        assert not cook.has_usable_password() and not cook.is_tenant_admin
    with tenant_context(world.globex.tenant):
        assert not get_user_model().objects.filter(email__iexact="cook@acme.example").exists()

    # The link works once, on acme's host: they choose a password and sign in.
    person = Client(HTTP_HOST="acme.localhost")
    form_page = person.get(urlsplit(link).path)["Location"]
    chosen = person.post(form_page, {"new_password1": "kitchen-pass-42", "new_password2": "kitchen-pass-42"})
    assert chosen["Location"] == "/accounts/reset/done/"
    assert Client(HTTP_HOST="acme.localhost").login(username="cook@acme.example", password="kitchen-pass-42")
    reused = Client(HTTP_HOST="acme.localhost").get(urlsplit(link).path, follow=True)
    assert b"new_password1" not in reused.content, "a used link does not work again"


def test_without_mail_the_admin_is_shown_the_link_to_pass_on(world, settings):
    settings.EMAIL_CONFIGURED = False
    admin = client_of(world.acme.tenant, world.acme.admin)
    page = admin.post(
        "/manage/stores/1/staff/", {"staff-email": "new@acme.example", "staff-role": "staff"}, follow=True
    ).content.decode()
    assert re.search(r'value="http://acme\.localhost[^"]*/accounts/reset/[^"]+"', page)


@pytest.mark.parametrize(
    "email, role, field",
    [
        ("", "staff", "email"),
        ("not-an-email", "staff", "email"),
        ("a@b.example, c@d.example", "staff", "email"),
        ("pépe@acme.example", "staff", "email"),  # non-ASCII: a lookalike of someone else
        ("ana\u200b@acme.example", "staff", "email"),  # a zero-width space
        ("x" * 300 + "@acme.example", "staff", "email"),
        ("ok@acme.example", "owner", "role"),
        ("ok@acme.example", "", "role"),
    ],
)
def test_bad_staff_input_is_named_and_nothing_is_written(world, email, role, field):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/1/staff/", {"staff-email": email, "staff-role": role})
    assert response.status_code == 422
    assert f'id="id_staff-{field}_error"' in response.content.decode()
    with tenant_context(world.acme.tenant):
        assert get_user_model().objects.count() == 5
    assert members(world.acme.tenant, 1) == {"staff1": "staff", "manager1": "manager"}


def test_a_deactivated_account_is_not_added(world):
    with tenant_context(world.acme.tenant):
        get_user_model().objects.filter(pk=world.acme.staff2.pk).update(email="gone@acme.example", is_active=False)
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.post("/manage/stores/1/staff/", {"staff-email": "gone@acme.example", "staff-role": "staff"})
    assert response.status_code == 422 and "deactivated" in response.content.decode()


def test_admin_changes_a_role_and_removes_a_membership_of_their_tenant_only(world):
    with tenant_context(world.acme.tenant):
        staff1 = StaffMembership.objects.get(user=world.acme.staff1, store_id=1)
    admin = client_of(world.acme.tenant, world.acme.admin)
    assert admin.post(f"/manage/stores/1/staff/{staff1.pk}/role", {"role": "manager"}).status_code == 302
    assert members(world.acme.tenant, 1)["staff1"] == "manager"
    assert members(world.globex.tenant, 1)["staff1"] == "staff"

    assert admin.post(f"/manage/stores/1/staff/{staff1.pk}/remove").status_code == 302
    assert "staff1" not in members(world.acme.tenant, 1)
    assert "staff1" in members(world.globex.tenant, 1), "globex's membership with the same id stays"

    # A membership id of another store, or one acme does not have (globex's 4): 404, nothing removed.
    with tenant_context(world.globex.tenant):
        StaffMembership.objects.create(user=world.globex.customer, store_id=1)  # globex membership 4
    assert admin.post("/manage/stores/2/staff/3/remove").status_code == 404  # manager1's is on store 1
    assert admin.post("/manage/stores/1/staff/4/remove").status_code == 404
    assert admin.post("/manage/stores/1/staff/١/remove").status_code == 404  # not a route
    assert members(world.globex.tenant, 1) == {"staff1": "staff", "manager1": "manager", "customer": "staff"}
    assert admin.get(f"/manage/stores/1/staff/{staff1.pk}/remove").status_code == 405


def test_staff_cannot_add_remove_or_change_anything(world):
    for person in (world.acme.staff1, world.acme.manager1, world.acme.customer):
        client = client_of(world.acme.tenant, person)
        assert client.post("/manage/stores/", {"name": "Mine"}).status_code == 403
        assert client.post("/manage/stores/1/", SETTINGS).status_code == 403
        assert (
            client.post("/manage/stores/1/staff/", {"staff-email": "x@acme.example", "staff-role": "staff"}).status_code
            == 403
        )
        assert client.post("/manage/stores/1/staff/1/remove").status_code == 403
    assert members(world.acme.tenant, 1) == {"staff1": "staff", "manager1": "manager"}
    assert store_row(world.acme.tenant, 1).name == "acme one"


def test_the_pages_need_the_csrf_token(world):
    admin = client_of(world.acme.tenant, world.acme.admin, enforce_csrf_checks=True)
    assert admin.post("/manage/stores/1/staff/1/remove").status_code == 403
    assert admin.post("/manage/stores/", {"name": "x"}).status_code == 403
    assert "staff1" in members(world.acme.tenant, 1)


def test_huge_and_nested_bodies_are_refused_without_a_500(world):
    admin = client_of(world.acme.tenant, world.acme.admin)
    nested = admin.post("/manage/stores/", data='{"name": {"a": {"b": []}}}', content_type="application/json")
    assert nested.status_code == 422  # a form post with no name field
    huge = admin.post("/manage/stores/", {"name": "x" * 3_000_000})
    assert huge.status_code in (400, 413, 422)
    with tenant_context(world.acme.tenant):
        assert Store.objects.count() == 2
