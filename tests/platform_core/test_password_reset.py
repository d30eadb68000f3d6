"""Forgot-password, end to end, through a real SMTP server: the mail goes to
the right person of the right tenant, its link is on that tenant's host,
and it works once. Users of acme and globex share an email address and an
id on purpose."""

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client

from tests.clock import clear_of_window_edge
from tests.factories import PASSWORD
from tests.servers import ROOT

pytestmark = pytest.mark.django_db

EMAIL = "alice@example.com"
NEW_PASSWORD = "a-new-and-long-passphrase"


@pytest.fixture
def alice(acme, make_user):
    return make_user(acme, "alice", email=EMAIL)


@pytest.fixture
def globex_alice(globex, alice, make_user):
    """Another person, in globex: the same email address and the same id."""
    return make_user(globex, "alice-at-globex", email=EMAIL, id=alice.pk)


def ask_for_reset(host: str, email: str, **extra) -> Client:
    client = Client(HTTP_HOST=host, **extra)
    response = client.post("/accounts/password_reset/", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    return client


def signs_in(host: str, username: str, password: str) -> bool:
    response = Client(HTTP_HOST=host).post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def choose_password(client: Client, link: str, password: str):
    """Open a reset link as a browser does, and submit `password` on it."""
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302, "a valid link hides its token behind a redirect"
    form_page = response["Location"]
    assert client.get(form_page).status_code == 200
    return client.post(form_page, {"new_password1": password, "new_password2": password})


def test_reset_mail_links_to_the_tenant_host_and_sets_a_new_password(alice, globex_alice, inbox):
    client = ask_for_reset("acme.localhost", EMAIL)

    [mail] = inbox.received
    assert mail.recipients == [EMAIL] and mail.message["To"] == EMAIL
    assert "Pregón" in str(mail.message["From"])
    [link] = mail.links()
    assert link.startswith("http://acme.localhost/accounts/reset/")
    assert "alice" in mail.body  # the username, not globex's "alice-at-globex"
    assert "alice-at-globex" not in mail.body

    done = choose_password(client, link, NEW_PASSWORD)
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert client.get(done["Location"]).status_code == 200

    assert signs_in("acme.localhost", "alice", NEW_PASSWORD)
    assert not signs_in("acme.localhost", "alice", PASSWORD)
    # globex's user with the same email and id is untouched.
    assert signs_in("globex.localhost", "alice-at-globex", PASSWORD)

    again = Client(HTTP_HOST="acme.localhost").get(urlsplit(link).path)
    assert again.status_code == 200 and not again.context["validlink"], "a link works once"


def test_unknown_email_gets_the_same_answer_and_no_mail(alice, inbox):
    client = ask_for_reset("acme.localhost", "nobody@example.com")
    page = client.get("/accounts/password_reset/done/")
    assert page.status_code == 200
    assert inbox.received == []


def test_a_globex_user_gets_nothing_from_acme_and_a_globex_link_from_globex(acme, globex, make_user, inbox):
    make_user(globex, "bob", email="bob@example.com")

    ask_for_reset("acme.localhost", "bob@example.com")
    assert inbox.received == []

    ask_for_reset("globex.localhost", "bob@example.com")
    [mail] = inbox.received
    assert mail.links()[0].startswith("http://globex.localhost/accounts/reset/")


def test_a_link_of_acme_does_not_work_on_globex(alice, globex_alice, inbox):
    ask_for_reset("acme.localhost", EMAIL)
    [link] = inbox.received[0].links()

    response = Client(HTTP_HOST="globex.localhost").get(urlsplit(link).path)
    assert response.status_code == 200 and not response.context["validlink"]
    assert signs_in("globex.localhost", "alice-at-globex", PASSWORD)


def test_the_link_keeps_the_host_and_port_the_request_came_to(alice, inbox):
    ask_for_reset("acme.localhost:8000", EMAIL)
    assert inbox.received[0].links()[0].startswith("http://acme.localhost:8000/accounts/reset/")


def test_operators_reset_on_the_public_host(tenants, inbox, django_user_model):
    connection.set_schema_to_public()
    django_user_model.objects.create_user(username="operator", email="ops@example.com", password=PASSWORD)

    ask_for_reset("localhost", "ops@example.com")
    [mail] = inbox.received
    assert mail.links()[0].startswith("http://localhost/accounts/reset/")
    choose_password(Client(HTTP_HOST="localhost"), mail.links()[0], NEW_PASSWORD)
    assert signs_in("localhost", "operator", NEW_PASSWORD)


def test_sign_in_page_links_to_the_reset_form(acme):
    page = Client(HTTP_HOST="acme.localhost").get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in page


def test_reset_pages_have_no_inline_script(alice, inbox):
    """A Content-Security-Policy without 'unsafe-inline' must not break them."""
    client = ask_for_reset("acme.localhost", EMAIL)
    link_path = urlsplit(inbox.received[0].links()[0]).path
    form_page = client.get(link_path)["Location"]
    pages = [
        client.get(path).content.decode()
        for path in (
            "/accounts/login/",
            "/accounts/password_reset/",
            "/accounts/password_reset/done/",
            form_page,
            "/accounts/reset/done/",
            "/accounts/reset/MQ/bad-token/",
        )
    ]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"


# --- limits -------------------------------------------------------------------------
def test_requests_per_email_are_limited_and_answered_the_same(alice, globex_alice, mailoutbox, settings):
    clear_of_window_edge(settings.PASSWORD_RESET_WINDOW_SECONDS)
    for n in range(settings.PASSWORD_RESETS_PER_EMAIL + 2):
        ask_for_reset("acme.localhost", EMAIL, REMOTE_ADDR=f"10.0.0.{n}")
    assert len(mailoutbox) == settings.PASSWORD_RESETS_PER_EMAIL == 5

    # Counted per tenant: globex's user with the same address still gets one.
    ask_for_reset("globex.localhost", EMAIL)
    assert len(mailoutbox) == 6 and "globex.localhost" in mailoutbox[-1].body


def test_requests_per_client_address_are_limited(acme, make_user, mailoutbox, settings):
    clear_of_window_edge(settings.PASSWORD_RESET_WINDOW_SECONDS)
    settings.PASSWORD_RESETS_PER_ADDRESS = 3
    for n in range(5):
        make_user(acme, f"user{n}", email=f"user{n}@example.com")
    for n in range(4):
        ask_for_reset("acme.localhost", f"user{n}@example.com", REMOTE_ADDR="192.0.2.7")
    assert [m.to for m in mailoutbox] == [["user0@example.com"], ["user1@example.com"], ["user2@example.com"]]

    ask_for_reset("acme.localhost", "user4@example.com", REMOTE_ADDR="192.0.2.8")  # another address
    assert mailoutbox[-1].to == ["user4@example.com"]


# --- routing follows the configuration ------------------------------------------------
ROUTES_AND_LINK = """
import json, django
django.setup()
from django.conf import settings
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import Resolver404, resolve

def routed(path, urlconf):
    try:
        resolve(path, urlconf=urlconf)
        return True
    except Resolver404:
        return False

paths = ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/set-password/",
         "/accounts/reset/done/", "/accounts/logout/", "/accounts/password_change/"]
login = render_to_string("registration/login.html", {}, request=RequestFactory().get("/accounts/login/"))
print(json.dumps({
    "configured": settings.EMAIL_CONFIGURED,
    "backend": settings.EMAIL_BACKEND,
    "smtp": [settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD,
             settings.EMAIL_USE_TLS],
    "routes": {
        urlconf: [path for path in paths if routed(path, urlconf)] for urlconf in ("config.urls", "config.urls_public")
    },
    "login_links_to_reset": "password_reset" in login,
}))
"""


def production_process(**env) -> dict:
    """The real settings and urlconfs, in a fresh process with DEBUG off."""
    environ = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "DJANGO_SETTINGS_MODULE"}}
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="test-only",
        # Only parsed: nothing here connects to them.
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:1/0",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", ROUTES_AND_LINK],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


ALWAYS = [
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
    "/accounts/logout/",
    "/accounts/password_change/",
]


@pytest.mark.django_db(False)
def test_without_email_in_production_the_reset_form_is_not_routed():
    seen = production_process()
    assert seen["configured"] is False
    assert seen["backend"] == "django.core.mail.backends.dummy.EmailBackend"
    # The set-password page stays: a new tenant's one-time sign-in link needs it.
    assert seen["routes"] == {"config.urls": ALWAYS, "config.urls_public": ALWAYS}
    assert seen["login_links_to_reset"] is False


@pytest.mark.django_db(False)
def test_with_email_url_in_production_the_reset_form_is_routed():
    seen = production_process(EMAIL_URL="smtp+tls://mailer%40example.com:p%40ss@smtp.example.com:587")
    assert seen["configured"] is True
    assert seen["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert seen["smtp"] == ["smtp.example.com", 587, "mailer@example.com", "p@ss", True]
    every = ["/accounts/password_reset/", "/accounts/password_reset/done/", *ALWAYS]
    assert seen["routes"] == {"config.urls": every, "config.urls_public": every}
    assert seen["login_links_to_reset"] is True
