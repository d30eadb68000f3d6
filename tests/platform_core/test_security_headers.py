"""Production headers: HTTPS redirect, HSTS, Content-Security-Policy, and
`check --deploy` clean with the settings as deployed.

The suite runs on tests.settings (DEBUG on, so no redirect and no HSTS).
What production does is tested on production settings in a subprocess:
`manage.py check --deploy`, and the real server under uvicorn with the
Procfile's proxy options. The CSP is the same in DEBUG, so every page is
checked in process too.
"""

import http.client
import os
import secrets
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from tests.servers import ROOT, uvicorn_server

ONE_YEAR = 365 * 24 * 3600


def production_env(**overrides: str) -> dict[str, str]:
    """config.settings as deployed: DEBUG off, every required value set,
    and none of our optional security settings inherited from this shell
    (their defaults are what is under test)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SENTRY_", "PREGON_TEST_")) and key not in ("DEBUG", "CSRF_TRUSTED_ORIGINS")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS=".example.com",
        # Nothing listens on port 1: check --deploy must not need either.
        DATABASE_URL="postgres://pregon:unused@127.0.0.1:1/pregon",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- manage.py check --deploy --------------------------------------------------
def test_check_deploy_passes_with_production_settings_and_no_warning():
    result = check_deploy(production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output and "security.W" not in output, output


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [("SECURE_SSL_REDIRECT", "false", "security.W008"), ("SECURE_HSTS_SECONDS", "0", "security.W004")],
)
def test_check_deploy_fails_when_a_protection_is_turned_off(setting, value, check_id):
    """The same command is not vacuous: switching a protection off fails it."""
    result = check_deploy(production_env(**{setting: value}))
    assert result.returncode != 0
    assert check_id in result.stderr


def test_only_the_justified_checks_are_silenced():
    # Each silenced check is justified next to SILENCED_SYSTEM_CHECKS in
    # config/settings.py; a new one must be justified there and added here.
    assert settings.SILENCED_SYSTEM_CHECKS == ["security.W021"]


# --- the real server, production settings -------------------------------------
def _database_url() -> str:
    """The test database, as a URL for config.settings (a socket directory
    as host when the embedded PostgreSQL is in use)."""
    db = connection.settings_dict
    host = quote(db["HOST"] or "127.0.0.1", safe="")
    credentials = f"{quote(db['USER'] or '', safe='')}:{quote(db['PASSWORD'] or '', safe='')}@" if db["USER"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{host}{port}/{db['NAME']}"


def _server_env() -> dict[str, str]:
    return production_env(
        ALLOWED_HOSTS="localhost,.localhost",
        DATABASE_URL=_database_url(),
        # Redis is only needed here for /healthz's answer, not for the headers.
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        CHANNEL_LAYER_PREFIX=os.environ.get("PREGON_TEST_LAYER_PREFIX", "pregon-test"),
    )


def get(port: int, path: str, *, host: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def assert_strict_csp(value: str | None) -> None:
    assert value, "no Content-Security-Policy header"
    directives = {part.split()[0]: part.split()[1:] for part in value.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in value and "'unsafe-eval'" not in value


@pytest.mark.django_db(transaction=True)
def test_production_server_redirects_plain_http_and_sends_hsts_and_csp_over_https(world):
    """uvicorn with the Procfile's proxy options, on production settings: a
    TLS-terminating proxy on 127.0.0.1 says `X-Forwarded-Proto: https`."""
    trusted_proxy = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    with uvicorn_server(extra_env=_server_env(), extra_args=trusted_proxy) as server:
        acme = f"acme.localhost:{server.port}"

        plain = get(server.port, "/accounts/login/?next=/stores/1/", host=acme)
        assert plain.status == 301
        assert plain.headers["Location"] == f"https://{acme}/accounts/login/?next=/stores/1/"
        assert "Strict-Transport-Security" not in plain.headers  # never sent over plain HTTP

        secure = get(server.port, "/accounts/login/", host=acme, headers={"X-Forwarded-Proto": "https"})
        assert secure.status == 200
        assert secure.headers["Content-Type"].startswith("text/html")
        assert secure.headers["Strict-Transport-Security"] == f"max-age={ONE_YEAR}; includeSubDomains"
        assert_strict_csp(secure.headers["Content-Security-Policy"])
        assert secure.headers["X-Content-Type-Options"] == "nosniff"

        public = get(
            server.port, "/admin/login/", host=f"localhost:{server.port}", headers={"X-Forwarded-Proto": "https"}
        )
        assert public.status == 200
        assert_strict_csp(public.headers["Content-Security-Policy"])
        assert "Strict-Transport-Security" in public.headers

        # A load balancer probes over plain HTTP by address (no allowed host):
        # answered, not redirected. 503 only if this run has no Redis.
        probe = get(server.port, "/healthz", host=f"127.0.0.1:{server.port}")
        assert probe.status in (200, 503), probe.status
        assert probe.headers["Content-Type"] == "application/json"
        if os.environ.get("REDIS_URL"):
            assert probe.status == 200, probe.body
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_client_that_is_not_a_trusted_proxy_cannot_claim_https(world):
    """Only the proxies in --forwarded-allow-ips set the scheme: the same
    header from anyone else is ignored, so no SECURE_PROXY_SSL_HEADER."""
    elsewhere = ("--proxy-headers", "--forwarded-allow-ips", "10.255.255.1")
    with uvicorn_server(extra_env=_server_env(), extra_args=elsewhere) as server:
        spoofed = get(
            server.port,
            "/accounts/login/",
            host=f"acme.localhost:{server.port}",
            headers={"X-Forwarded-Proto": "https"},
        )
        assert spoofed.status == 301
        assert "Strict-Transport-Security" not in spoofed.headers
    connections.close_all()


# --- every page carries the CSP (tests.settings: the same policy) -----------------
TENANT_PAGES = {
    None: ["/accounts/login/", "/admin/login/"],
    "customer": ["/", "/notifications/", "/api/docs"],
    "staff1": ["/stores/", "/stores/1/"],
    "admin": ["/manage/", "/manage/stores/", "/manage/stores/1/", "/manage/announcements/", "/manage/integrations/"],
}


@pytest.mark.django_db
def test_every_html_page_carries_the_csp_without_unsafe_inline(world):
    checked = 0
    for username, paths in TENANT_PAGES.items():
        client = Client(HTTP_HOST="acme.localhost")
        if username:
            client.force_login(getattr(world.acme, username))
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (username, path, response.status_code)
            assert response["Content-Type"].startswith("text/html"), path
            assert_strict_csp(response.get("Content-Security-Policy"))
            checked += 1

    operator = world.operator
    public = Client(HTTP_HOST="localhost")
    for path in ("/", "/accounts/login/", "/admin/login/"):
        response = public.get(path, follow=path == "/")
        assert_strict_csp(response.get("Content-Security-Policy"))
        checked += 1
    public.force_login(operator)
    for path in ("/", "/admin/", "/admin/tenants/tenant/", "/admin/tenants/tenant/add/"):
        response = public.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert_strict_csp(response.get("Content-Security-Policy"))
        checked += 1
    assert checked == 19


@pytest.mark.django_db
def test_error_pages_carry_the_csp_too(tenants, settings):
    # With DEBUG on, django-csp leaves 404 and 500 alone (Django's debug
    # pages have inline script); deployed, they carry it like any page.
    settings.DEBUG = False
    response = Client(HTTP_HOST="acme.localhost").get("/no-such-page/")
    assert response.status_code == 404
    assert_strict_csp(response.get("Content-Security-Policy"))
