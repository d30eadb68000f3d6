"""A person's language: chosen on /accounts/language/ or over
`PUT /api/account/language`, else their tenant's default, else their
browser's; mail goes out in the recipient's; API error codes stay English
while their message follows the reader. Ids collide on purpose: acme's
user 1 choosing a language leaves globex's user 1 as they were."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.models import Tenant
from tests.factories import TENANT_HOSTS, session_cookie

pytestmark = pytest.mark.django_db


def client_of(tenant, user=None, **extra) -> Client:
    client = Client(HTTP_HOST=TENANT_HOSTS[tenant.schema_name], **extra)
    if user is not None:
        name, value = session_cookie(tenant, user).split("=", 1)
        client.cookies[name] = value
    return client


def language_of(tenant, user) -> str:
    with tenant_context(tenant):
        return get_user_model().objects.get(pk=user.pk).language


def set_tenant(tenant, **fields):
    Tenant.objects.filter(pk=tenant.pk).update(**fields)
    tenant.refresh_from_db()


def put(client, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.put("/api/account/language", data, content_type="application/json", **extra)


# --- the page ----------------------------------------------------------------------
def test_the_language_page_saves_a_choice_of_one_tenants_user_only(world):
    acme, globex = world.acme, world.globex
    assert acme.customer.pk == globex.customer.pk, "the same id in both tenants, on purpose"
    page = client_of(acme.tenant, acme.customer)

    shown = page.get("/accounts/language/")
    assert shown.status_code == 200
    html = shown.content.decode()
    assert (
        '<html lang="en"' in html
        and 'value="es"' in html
        and "Español" in html
        and "My browser&#x27;s language" in html
    )

    saved = page.post("/accounts/language/", {"language": "es"}, follow=True)
    assert saved.redirect_chain == [("/accounts/language/", 302)]
    html = saved.content.decode()
    assert '<html lang="es"' in html
    assert "Guardado. Las páginas se muestran ahora en Español." in html and "Idioma" in html
    assert language_of(acme.tenant, acme.customer) == "es"
    assert language_of(globex.tenant, globex.customer) == "", "globex's user 1 is someone else"
    assert '<html lang="en"' in client_of(globex.tenant, globex.customer).get("/").content.decode()

    back = page.post("/accounts/language/", {"language": ""}, follow=True)
    assert '<html lang="en"' in back.content.decode() and language_of(acme.tenant, acme.customer) == ""


def test_the_page_names_the_tenants_default_when_it_has_one(world):
    set_tenant(world.acme.tenant, language="es", time_zone="Europe/Madrid")
    html = client_of(world.acme.tenant, world.acme.staff1).get("/accounts/language/").content.decode()
    assert '<html lang="es" data-time-zone="Europe/Madrid"' in html
    assert "El predeterminado de Acme (Español)" in html


@pytest.mark.parametrize(
    "value",
    ["ES", "es-MX", "fr", "١٢", " es", "es\x00", "x" * 10_000, "<script>alert(1)</script>"],
)
def test_the_page_refuses_what_is_not_a_language_and_writes_nothing(world, value):
    page = client_of(world.acme.tenant, world.acme.customer)
    refused = page.post("/accounts/language/", {"language": value})
    assert refused.status_code in (400, 422)
    if refused.status_code == 422:
        assert "one of es, en, or empty for the default" in refused.content.decode()
        assert "<script>alert(1)</script>" not in refused.content.decode()
    assert language_of(world.acme.tenant, world.acme.customer) == ""


def test_the_page_refuses_a_missing_choice_and_needs_sign_in_and_csrf(world):
    page = client_of(world.acme.tenant, world.acme.customer)
    assert page.post("/accounts/language/", {}).status_code == 422
    anonymous = client_of(world.acme.tenant).get("/accounts/language/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    strict = client_of(world.acme.tenant, world.acme.customer, enforce_csrf_checks=True)
    assert strict.post("/accounts/language/", {"language": "es"}).status_code == 403
    assert language_of(world.acme.tenant, world.acme.customer) == ""


# --- the API -----------------------------------------------------------------------
def test_the_api_reads_and_sets_the_language_of_one_tenants_user_only(world):
    acme, globex = world.acme, world.globex
    api = client_of(acme.tenant, acme.customer)
    assert api.get("/api/account/language").json() == {"language": "", "effective": "en"}
    answer = put(api, {"language": "es"})
    assert answer.status_code == 200 and answer.json() == {"language": "es", "effective": "es"}
    assert language_of(acme.tenant, acme.customer) == "es"
    assert language_of(globex.tenant, globex.customer) == ""
    assert client_of(globex.tenant, globex.customer).get("/api/account/language").json()["language"] == ""
    # "" follows the tenant's default, then the browser's.
    set_tenant(acme.tenant, language="es")
    assert put(api, {"language": ""}).json() == {"language": "", "effective": "es"}
    set_tenant(acme.tenant, language="")
    assert put(api, {"language": ""}, HTTP_ACCEPT_LANGUAGE="es-AR,es;q=0.9").json()["effective"] == "es"


@pytest.mark.parametrize(
    "body, status",
    [
        ({"language": 12}, 422),
        ({"language": None}, 422),
        ({"language": True}, 422),
        ({"language": ["es"]}, 422),
        ({"language": {"code": "es"}}, 422),
        ({"language": "١٢"}, 422),
        ({"language": "ES"}, 422),
        ({"language": "es-MX"}, 422),
        ({"language": "xx" * 50_000}, 413),
        ({}, 422),
        ({"language": "es", "extra": 1}, 422),
        ([{"language": "es"}], 400),
        ("not json", 400),
        ('{"language": "es"', 400),
    ],
)
def test_the_api_refuses_hostile_input_with_json_and_writes_nothing(world, body, status):
    api = client_of(world.acme.tenant, world.acme.customer)
    answer = put(api, body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] in ("invalid", "invalid_json", "too_large")
    assert language_of(world.acme.tenant, world.acme.customer) == ""


def test_the_api_needs_a_signed_in_user_and_csrf_from_a_browser(world):
    assert put(client_of(world.acme.tenant), {"language": "es"}).status_code == 401
    strict = client_of(world.acme.tenant, world.acme.customer, enforce_csrf_checks=True)
    assert put(strict, {"language": "es"}).status_code == 403
    assert language_of(world.acme.tenant, world.acme.customer) == ""


def test_error_codes_stay_english_and_their_message_follows_the_reader(world):
    with tenant_context(world.acme.tenant):
        get_user_model().objects.filter(pk=world.acme.customer.pk).update(language="es")
    answer = put(client_of(world.acme.tenant, world.acme.customer), {"language": "fr"})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid",
        "message": "idioma desconocido",
        "fields": {"language": "uno de es, en, o vacío para el predeterminado"},
    }


def test_the_openapi_document_is_served_in_the_readers_language(world):
    spanish = client_of(world.acme.tenant).get("/api/openapi.json", HTTP_ACCEPT_LANGUAGE="es").json()
    english = client_of(world.acme.tenant).get("/api/openapi.json").json()
    assert spanish["info"]["description"].startswith("JSON sobre HTTPS")
    assert english["info"]["description"].startswith("JSON over HTTPS")
    assert spanish["paths"].keys() == english["paths"].keys()
    assert spanish["paths"]["/api/account/language"]["put"]["summary"].startswith("Elige mi idioma")


# --- mail in the recipient's language ----------------------------------------------
@pytest.mark.parametrize(
    "tenant_language, admin_language, subject",
    [
        ("es", "en", "Te han añadido a acme two en Pregón (Acme)"),
        ("en", "es", "You have been added to acme two on Pregón (Acme)"),
    ],
)
def test_an_invitation_is_mailed_in_the_invitees_language_not_the_admins(
    world, settings, mailoutbox, django_capture_on_commit_callbacks, tenant_language, admin_language, subject
):
    settings.EMAIL_CONFIGURED = True
    set_tenant(world.acme.tenant, language=tenant_language)
    with tenant_context(world.acme.tenant):
        get_user_model().objects.filter(pk=world.acme.admin.pk).update(language=admin_language)
    admin = client_of(world.acme.tenant, world.acme.admin)
    with django_capture_on_commit_callbacks(execute=True):
        added = admin.post("/manage/stores/2/staff/", {"staff-email": "cook@acme.example", "staff-role": "staff"})
    assert added.status_code == 302
    [mail] = mailoutbox
    assert mail.subject == subject
    words = "Elige tu contraseña aquí:" if tenant_language == "es" else "Choose your password here:"
    assert words in mail.body
