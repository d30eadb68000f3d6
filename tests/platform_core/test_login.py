"""Users and sessions live in each tenant's schema."""

import pytest
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_only_user(acme, make_user):
    return make_user(acme, "alice")


def login(host: str, username: str, password: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    client.login_status = response.status_code
    return client


def test_login_page_has_the_contract_fields(acme):
    body = Client(HTTP_HOST="acme.localhost").get("/accounts/login/").content.decode()
    assert 'name="username"' in body and 'name="password"' in body and "csrfmiddlewaretoken" in body


def test_user_signs_in_on_their_tenant_and_sees_the_home_page(acme_only_user):
    client = login("acme.localhost", "alice", PASSWORD)
    assert client.login_status == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"alice" in home.content


def test_user_of_one_tenant_cannot_sign_in_on_another(acme_only_user, globex):
    client = login("globex.localhost", "alice", PASSWORD)
    assert client.login_status == 200  # the form again, with an error
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(acme_only_user):
    client = login("acme.localhost", "alice", "wrong")
    assert client.login_status == 200
    assert client.get("/").status_code == 302


def test_session_cookie_of_one_tenant_is_anonymous_on_another(acme_only_user, globex, make_user):
    make_user(globex, "bob", id=acme_only_user.pk)  # the same id, another person
    acme_client = login("acme.localhost", "alice", PASSWORD)
    globex_client = Client(HTTP_HOST="globex.localhost")
    globex_client.cookies = acme_client.cookies
    response = globex_client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_home_needs_sign_in(acme):
    response = Client(HTTP_HOST="acme.localhost").get("/")
    assert response.status_code == 302
