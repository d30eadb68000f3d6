"""`create_tenant`: a new tenant its first admin can sign in to, from one
command, and nothing at all from bad input.

Creating a schema migrates it (seconds), so one test creates `initech` and
walks through everything; the fixture drops it before and after, whatever
happened in between.
"""

import io
import json
import logging
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from platform_core.provisioning import sign_in_link, tenant_provision
from tenants.models import Domain, Tenant
from tests.servers import ROOT, free_port

NEW_PASSWORD = "initech-tps-reports-2"


def drop_initech() -> None:
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        # Inside a test's transaction, foreign keys checked at commit would
        # hold the tables: check them now. (The rollback would drop the
        # schema anyway; a transactional test needs the DROP.)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DROP SCHEMA IF EXISTS initech CASCADE")
    Domain.objects.filter(tenant__schema_name="initech").delete()
    Tenant.objects.filter(schema_name="initech").delete()


@pytest.fixture
def no_initech(tenants):
    drop_initech()
    yield
    drop_initech()


def create_tenant(*args: str) -> dict:
    out = io.StringIO()
    call_command("create_tenant", *args, stdout=out)
    [line] = out.getvalue().splitlines()  # one JSON line, nothing else
    return json.loads(line)


def choose_password(host: str, link: str, password: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302, "a valid link hides its token behind a redirect"
    form_page = response["Location"]
    response = client.post(form_page, {"new_password1": password, "new_password2": password})
    assert response.status_code == 302 and response["Location"] == "/accounts/reset/done/"
    return client


def test_the_product_command_is_the_one_named_create_tenant():
    assert get_commands()["create_tenant"] == "platform_core"  # not django-tenants' interactive one


# Transactional: as an operator runs it, outside any transaction, so the
# schema's migration commits (django-tenants then closes the connection) and
# the mail goes out after the commit.
@pytest.mark.django_db(transaction=True)
def test_create_tenant_makes_a_tenant_its_admin_can_sign_in_to(no_initech, settings, mailoutbox):
    settings.SITE_URL_SCHEME, settings.SITE_URL_PORT = "http", 8000
    printed = create_tenant(
        "--schema", "initech", "--domain", "Initech.localhost", "--admin-email", "Bill@Initech.example",
        "--language", "es", "--time-zone", "Europe/Madrid",
    )  # fmt: skip

    link = printed.pop("sign_in_link")
    assert printed == {
        "schema": "initech",
        "domain": "initech.localhost",
        "admin": "bill@initech.example",
        "language": "es",
        "time_zone": "Europe/Madrid",
    }
    assert link.startswith("http://initech.localhost:8000/accounts/reset/")

    tenant = Tenant.objects.get(schema_name="initech")
    assert tenant.name == "Initech"
    assert (tenant.language, tenant.time_zone) == ("es", "Europe/Madrid")
    assert tenant.get_primary_domain().domain == "initech.localhost"
    with tenant_context(tenant):
        [admin] = get_user_model().objects.all()
        assert (admin.username, admin.email) == ("bill@initech.example", "bill@initech.example")
        assert admin.is_tenant_admin and admin.is_staff and admin.is_active
        assert not admin.is_superuser, "tenant admins are not platform superusers"
        assert not admin.has_usable_password(), "no password until the admin chooses one"

    [mail] = mailoutbox
    assert mail.to == ["bill@initech.example"] and link in mail.body and "Initech" in mail.subject
    # In the admin's language: theirs is not chosen yet, so their tenant's (Spanish).
    assert mail.subject == "Tu cuenta de Pregón para Initech"
    assert "Elige tu contraseña aquí:" in mail.body

    # The sign-in page, before: no way in without the link.
    client = Client(HTTP_HOST="initech.localhost")
    assert client.post("/accounts/login/", {"username": "bill@initech.example", "password": ""}).status_code == 200

    page = Client(HTTP_HOST="initech.localhost").get(urlsplit(link).path, follow=True)
    assert b"bill@initech.example" in page.content  # the page tells the admin their username
    choose_password("initech.localhost", link, NEW_PASSWORD)
    client = Client(HTTP_HOST="initech.localhost")
    assert (
        client.post("/accounts/login/", {"username": "bill@initech.example", "password": NEW_PASSWORD}).status_code
        == 302
    )
    home = client.get("/")
    assert home.status_code == 200 and b"bill@initech.example" in home.content

    used = Client(HTTP_HOST="initech.localhost").get(urlsplit(link).path)
    assert used.status_code == 200 and not used.context["validlink"], "the link works once"
    # Another tenant's host does not know the link (nor the user).
    elsewhere = Client(HTTP_HOST="acme.localhost").get(urlsplit(link).path)
    assert elsewhere.status_code == 200 and not elsewhere.context["validlink"]


@pytest.mark.django_db
def test_a_mail_that_cannot_be_sent_is_logged_and_the_tenant_is_made(
    no_initech,
    settings,
    caplog,
    django_capture_on_commit_callbacks,
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        provisioned = tenant_provision(
            schema="initech", name="Initech", domain="initech.localhost", admin_email="bill@initech.example"
        )
    assert provisioned.sign_in_link and schema_exists("initech")
    assert "could not email the sign-in link" in caplog.text


# --- bad input: a clear refusal, and nothing created ----------------------------------
GOOD = {"--schema": "initech", "--domain": "initech.localhost", "--admin-email": "bill@initech.example"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad, field",
    [
        ({"--schema": "acme"}, "schema: already exists"),
        ({"--schema": "public"}, "schema: reserved"),
        ({"--schema": "Initech"}, "schema: 1 to 63 lowercase"),
        ({"--schema": "pg_initech"}, "schema: 1 to 63 lowercase"),
        ({"--schema": "init-tech"}, "schema: 1 to 63 lowercase"),
        ({"--schema": "x" * 64}, "schema: 1 to 63 lowercase"),
        ({"--domain": "acme.localhost"}, "domain: already used"),
        ({"--domain": "ACME.localhost"}, "domain: already used"),
        ({"--domain": "http://initech.localhost"}, "domain: a host name"),
        ({"--domain": "initech.localhost:8000"}, "domain: a host name"),
        ({"--domain": "-initech.localhost"}, "domain: a host name"),
        ({"--domain": "initech..localhost"}, "domain: a host name"),
        ({"--domain": "initech.example.org"}, "domain: not in ALLOWED_HOSTS"),
        ({"--admin-email": "bill"}, "admin_email: a valid email"),
        (
            {"--admin-email": "o'brien@initech.example"},
            "admin_email: a valid email",
        ),  # valid email, not a valid username
        ({"--name": " "}, "name: 1 to 100"),
        ({"--language": "fr"}, "language: one of es, en"),
        ({"--language": "ES"}, "language: one of es, en"),
        ({"--language": "es-MX"}, "language: one of es, en"),
        ({"--language": "١٢"}, "language: one of es, en"),
        ({"--time-zone": "Mars/Olympus"}, "time_zone: an IANA time zone"),
        ({"--time-zone": "europe/madrid"}, "time_zone: an IANA time zone"),
        ({"--time-zone": ""}, "time_zone: an IANA time zone"),
        ({"--time-zone": "Europe/Madrid\x00"}, "time_zone: an IANA time zone"),
        ({"--time-zone": "../../etc/passwd"}, "time_zone: an IANA time zone"),
        ({"--time-zone": "A" * 10_000}, "time_zone: an IANA time zone"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(tenants, bad, field):
    before = (Tenant.objects.count(), Domain.objects.count())
    out = io.StringIO()
    args = [f"{option}={value}" for option, value in {**GOOD, **bad}.items()]
    with pytest.raises(CommandError, match=field.replace("(", r"\(")):
        call_command("create_tenant", *args, stdout=out)
    assert out.getvalue() == ""
    assert (Tenant.objects.count(), Domain.objects.count()) == before
    assert not schema_exists("initech")


@pytest.mark.django_db
def test_every_bad_field_is_named_at_once(tenants):
    with pytest.raises(CommandError) as refused:
        call_command("create_tenant", "--schema", "public", "--domain", "acme.localhost", "--admin-email", "x")
    assert all(f"{field}:" in str(refused.value) for field in ("schema", "domain", "admin_email"))


@pytest.mark.django_db
def test_create_tenant_refuses_to_run_inside_a_tenant(acme):
    with tenant_context(acme), pytest.raises(CommandError, match="public schema"):
        call_command("create_tenant", *[item for pair in GOOD.items() for item in pair])


def manage_py(*args: str) -> subprocess.CompletedProcess:
    """`python manage.py …` on the test database, as a local run (DEBUG, console mail)."""
    environ = {k: v for k, v in os.environ.items() if k != "EMAIL_URL"}
    environ.update(DJANGO_SETTINGS_MODULE="tests.settings", PREGON_TEST_DATABASE_NAME=connection.settings_dict["NAME"])
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


# Transactional: the command's process commits; the fixture drops what it made.
@pytest.mark.django_db(transaction=True)
def test_on_the_command_line_stdout_is_the_json_line_alone(no_initech):
    result = manage_py(
        "create_tenant", "--schema", "initech", "--domain", "initech.localhost", "--admin-email", "bill@initech.example"
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    link = json.loads(line)["sign_in_link"]
    # A local run prints mail to the console: on stderr, so scripts can read stdout.
    assert "To: bill@initech.example" in result.stderr and link in result.stderr


@pytest.mark.django_db
def test_on_the_command_line_bad_input_exits_non_zero_with_a_message(tenants):
    result = manage_py(
        "create_tenant", "--schema", "public", "--domain", "initech.localhost", "--admin-email", "bill@initech.example"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "CommandError: cannot create the tenant: schema: reserved for the operators' site" in result.stderr


# --- the link itself --------------------------------------------------------------
@pytest.mark.django_db
def test_sign_in_link_uses_the_configured_scheme_and_port(acme, make_user, settings):
    user = make_user(acme, "bill")
    settings.SITE_URL_SCHEME, settings.SITE_URL_PORT = "https", None
    assert sign_in_link(user=user, domain="acme.example.com").startswith("https://acme.example.com/accounts/reset/")
    settings.SITE_URL_SCHEME, settings.SITE_URL_PORT = "http", 8123
    assert sign_in_link(user=user, domain="acme.localhost").startswith("http://acme.localhost:8123/accounts/reset/")


def test_operators_create_a_usable_tenant_from_their_admin(no_initech, world):
    from tests.factories import session_cookie

    operator = Client(HTTP_HOST="localhost")
    name, value = session_cookie(world.public, world.operator).split("=", 1)
    operator.cookies[name] = value  # in the jar, beside the messages cookie the admin sets
    form = {
        "name": "Initech",
        "schema_name": "initech",
        "domain": "initech.localhost",
        "admin_email": "bill@initech.example",
        "language": "en",
        "time_zone": "America/New_York",
    }

    refused = operator.post("/admin/tenants/tenant/add/", {**form, "domain": "acme.localhost", "admin_email": "x"})
    assert refused.status_code == 200  # the form again, with its errors
    assert set(refused.context["adminform"].form.errors) == {"domain", "admin_email"}
    assert not Tenant.objects.filter(schema_name="initech").exists()

    response = operator.post("/admin/tenants/tenant/add/", form, follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors
    page = response.content.decode()
    assert "signs in once with" in page, (response.redirect_chain, page[:3000])
    link = re.search(r"signs in once with: (\S+?)<", page).group(1)
    tenant = Tenant.objects.get(schema_name="initech")
    assert (tenant.language, tenant.time_zone) == ("en", "America/New_York")
    assert list(tenant.domains.values_list("domain", "is_primary")) == [("initech.localhost", True)]
    with tenant_context(tenant):
        admin = get_user_model().objects.get()
        assert (admin.username, admin.is_tenant_admin, admin.is_superuser) == ("bill@initech.example", True, False)
    client = choose_password("initech.localhost", link, NEW_PASSWORD)
    assert client.login(username="bill@initech.example", password=NEW_PASSWORD)
