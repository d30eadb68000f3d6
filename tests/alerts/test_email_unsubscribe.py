"""The unsubscribe link of an e-mail digest, /notifications/unsubscribe/<token>/:
GET asks, POST (a mail client's RFC 8058 one-click, or the page's button)
turns e-mail off for the token's kinds, with no session and no CSRF token.
Tampered, expired, malformed and other tenants' tokens are a 400 page and
change nothing; critical kinds are explained, not turned off."""

import json
import time

import pytest
from django.core import signing
from django.test import Client
from django_tenants.utils import tenant_context

from alerts import digest, selectors
from alerts.models import Delivery, Notification, NotificationPreference
from alerts.services import kind_policies_update
from config.asgi import application
from tests.digests import DUE, give_address, sweep, text
from tests.factories import add_comment, change_status, create_order

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"  # the body RFC 8058 has mail clients post


@pytest.fixture
def ana(world):
    give_address(world.acme, "ana@example.com")
    give_address(world.globex, "bob@example.org")
    return world.acme.customer


def browser(host="acme.localhost", **headers) -> Client:
    # As a mail client or a signed-out browser: no session, CSRF enforced.
    return Client(HTTP_HOST=host, enforce_csrf_checks=True, **headers)


def path(token: str) -> str:
    return f"/notifications/unsubscribe/{token}/"


def token_for(cast, kinds, user_id=None) -> str:
    with tenant_context(cast.tenant):
        return digest.unsubscribe_token(user_id or cast.customer.pk, kinds)


def one_click(token: str, host="acme.localhost"):
    return browser(host).post(path(token), ONE_CLICK, content_type="application/x-www-form-urlencoded")


def emails(cast, who="customer") -> dict[str, bool]:
    with tenant_context(cast.tenant):
        chosen = selectors.preferences(user=getattr(cast, who))
    return {kind: entry["channels"]["email"] for kind, entry in chosen.items()}


def stored(cast) -> dict:
    with tenant_context(cast.tenant):
        return NotificationPreference.objects.filter(user=cast.customer).values_list("channels", flat=True).first()


BEFORE = {
    "system": False,
    "order_status": True,
    "order_comment": True,
    "mention": False,
    "announcement": False,
    "board_unattended": False,
}


def test_a_digests_one_click_link_turns_email_off_and_the_next_status_change_is_not_mailed(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-1", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    assert sweep(DUE, world.acme.tenant) == 1
    link = str(inbox.received[0].message["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith("http://acme.localhost:8000/notifications/unsubscribe/")
    address = link.split(":8000", 1)[1]

    asked = browser().get(address)
    assert asked.status_code == 200 and asked["Cache-Control"] == "no-store"
    page = asked.content.decode()
    assert "Stop emails?" in page and "Order status" in page and '<form method="post">' in page
    assert emails(world.acme) == BEFORE, "opening the link (a mail scanner does) changes nothing"

    done = browser().post(address, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200, "no session, no CSRF token: a mail client's one-click"
    assert "Emails turned off" in done.content.decode() and "Order status" in done.content.decode()
    assert emails(world.acme) == {**BEFORE, "order_status": False}
    with tenant_context(world.acme.tenant):
        assert selectors.preferences(user=ana)["order_status"]["channels"]["in_app"] is True

    change_status(world.acme.tenant, order, "preparing")
    with tenant_context(world.acme.tenant):
        newest = Notification.objects.filter(recipient=ana).latest("id")
        skipped = Delivery.objects.get(notification=newest, channel="email")
    assert (skipped.status, skipped.reason) == ("skipped", "muted")
    assert sweep(2 * DUE, world.acme.tenant) == 0 and len(inbox.received) == 1
    assert one_click(address.split("/")[-2]).status_code == 200, "posting again is harmless"


def test_each_kinds_link_in_the_body_turns_off_that_kind_only(world, ana, inbox):
    order = create_order(world.acme.tenant, external_id="WEB-2", customer=ana)
    change_status(world.acme.tenant, order, "accepted")
    add_comment(world.acme.tenant, order, world.acme.staff1, "On its way")
    assert sweep(DUE, world.acme.tenant) == 1
    mail = inbox.received[0]
    links = {
        line.split("“")[1].split("”")[0]: line.rsplit(" ", 1)[1]
        for line in text(mail).splitlines()
        if line.startswith("Stop emails about")
    }
    assert sorted(links) == ["Order comment", "Order status"]
    assert browser().post(links["Order comment"].split(":8000", 1)[1]).status_code == 200
    assert emails(world.acme) == {**BEFORE, "order_comment": False}

    header = str(mail.message["List-Unsubscribe"]).strip().strip("<>")
    assert browser().post(header.split(":8000", 1)[1]).status_code == 200
    assert emails(world.acme) == {**BEFORE, "order_comment": False, "order_status": False}


def test_the_page_speaks_the_language_of_the_person_the_mail_was_for(world, ana):
    with tenant_context(world.acme.tenant):
        type(ana).objects.filter(pk=ana.pk).update(language="es")
    token = token_for(world.acme, ["order_status"])
    for answer in (browser(HTTP_ACCEPT_LANGUAGE="en").get(path(token)), one_click(token)):
        assert answer.status_code == 200 and answer["Content-Language"] == "es"
        assert '<html lang="es"' in answer.content.decode() and "Estado del pedido" in answer.content.decode()


def test_a_tampered_token_is_refused_and_changes_nothing(world, ana):
    token = token_for(world.acme, ["order_status", "order_comment"])
    payload, stamp, signature = token.split(":")
    forged = signing.b64_encode(json.dumps({"u": ana.pk, "k": ["announcement"]}).encode()).decode()
    for bad in (
        f"{payload}:{stamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{forged}:{stamp}:{signature}",
        f"{payload}:{stamp}",
        signature,
    ):
        for answer in (browser().get(path(bad)), one_click(bad)):
            assert answer.status_code == 400 and "This link does not work" in answer.content.decode()
    assert emails(world.acme) == BEFORE and stored(world.acme) is None


def test_an_acme_token_on_globex_host_is_refused_though_the_user_id_exists_there(world, ana):
    bob = world.globex.customer
    assert bob.pk == ana.pk
    token = token_for(world.acme, ["order_status"])
    for answer in (browser("globex.localhost").get(path(token)), one_click(token, "globex.localhost")):
        assert answer.status_code == 400
    assert emails(world.globex) == BEFORE and emails(world.acme) == BEFORE
    # And the other way round.
    assert one_click(token_for(world.globex, ["order_status"])).status_code == 400
    assert emails(world.acme) == BEFORE
    assert one_click(token).status_code == 200 and emails(world.acme)["order_status"] is False
    assert emails(world.globex) == BEFORE


def test_an_expired_token_is_refused(world, ana, settings, monkeypatch):
    days = settings.EMAIL_UNSUBSCRIBE_DAYS
    with monkeypatch.context() as past:
        # The token was made when the mail was sent, longer ago than it works.
        real_time = time.time
        past.setattr(signing.time, "time", lambda: real_time() - (days + 1) * 86400)
        token = token_for(world.acme, ["order_status"])
    for answer in (browser().get(path(token)), one_click(token)):
        assert answer.status_code == 400 and "This link has expired" in answer.content.decode()
        assert f"{days} days" in answer.content.decode()
    assert emails(world.acme) == BEFORE


def test_critical_kinds_are_explained_and_stay_on(world, ana):
    with tenant_context(world.acme.tenant):
        kind_policies_update(actor=world.acme.admin, policies={"order_status": {"critical": True}})
    only_critical = token_for(world.acme, ["order_status"])
    asked = browser().get(path(only_critical)).content.decode()
    assert "cannot be turned off" in asked and "Order status" in asked
    assert '<form method="post">' not in asked, "nothing to turn off: no button"
    done = one_click(only_critical)
    assert done.status_code == 200 and "cannot be turned off" in done.content.decode()
    assert stored(world.acme) is None and emails(world.acme)["order_status"] is True

    both = one_click(token_for(world.acme, ["order_status", "order_comment"])).content.decode()
    assert "Order comment" in both.split("cannot be turned off")[0], "turned off: the comments"
    assert "Order status" in both.split("cannot be turned off")[1], "explained: the status"
    assert stored(world.acme) == {"order_comment": {"email": False}}


def test_a_kind_no_longer_known_is_ignored(world, ana):
    token = token_for(world.acme, ["order_comment", "a_kind_since_removed"])
    assert one_click(token).status_code == 200
    assert emails(world.acme) == {**BEFORE, "order_comment": False}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda _, signed: "١٠٤", id="unicode digits"),
        pytest.param(lambda _, signed: "x" * 5000, id="very long"),
        pytest.param(lambda _, signed: "not-a-token", id="garbage"),
        pytest.param(lambda _, signed: "%F0%9F%92%A3:%E2%80%AE:%22%3E%3Cscript%3E", id="escapes"),
        pytest.param(lambda p, signed: signing.dumps(p, salt="another"), id="another salt"),
        pytest.param(lambda p, signed: signing.dumps(p), id="no salt"),
        pytest.param(lambda p, signed: signed({"u": str(p["u"]), "k": p["k"]}), id="id as a string"),
        pytest.param(lambda p, signed: signed({"u": True, "k": p["k"]}), id="id as a boolean"),
        pytest.param(lambda p, signed: signed({"u": 2**70, "k": p["k"]}), id="id too large"),
        pytest.param(lambda p, signed: signed({"u": -p["u"], "k": p["k"]}), id="negative id"),
        pytest.param(lambda p, signed: signed({"u": 9999, "k": p["k"]}), id="no such user"),
        pytest.param(lambda p, signed: signed({"u": p["u"], "k": "order_status"}), id="kinds as a string"),
        pytest.param(lambda p, signed: signed({"u": p["u"], "k": [{"kind": "order_status"}]}), id="nested kinds"),
        pytest.param(lambda p, signed: signed({"u": p["u"], "k": []}), id="no kinds"),
        pytest.param(lambda p, signed: signed({"u": p["u"], "k": ["nope"]}), id="unknown kinds only"),
        pytest.param(lambda p, signed: signed({**p, "extra": 1}), id="extra key"),
        pytest.param(lambda p, signed: signed([p["u"], p["k"]]), id="a list"),
        pytest.param(lambda p, signed: signed(None), id="null"),
    ],
)
def test_hostile_tokens_are_a_clear_400_and_change_nothing(world, ana, make):
    def signed(payload) -> str:
        # Signed as acme's tokens are: only the payload is wrong.
        with tenant_context(world.acme.tenant):
            return signing.dumps(payload, salt=digest._salt())

    token = make({"u": ana.pk, "k": ["order_status", "order_comment"]}, signed)
    for answer in (browser().get(path(token)), one_click(token)):
        assert answer.status_code == 400, token
        assert "This link does not work" in answer.content.decode()
    assert emails(world.acme) == BEFORE and stored(world.acme) is None


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(world, ana, method):
    token = token_for(world.acme, ["order_status"])
    assert getattr(browser(), method)(path(token)).status_code == 405
    assert emails(world.acme) == BEFORE


def test_head_changes_nothing(world, ana):
    assert browser().head(path(token_for(world.acme, ["order_status"]))).status_code == 200
    assert emails(world.acme) == BEFORE


async def test_a_body_over_the_limit_is_refused_before_the_view(settings):
    """At the ASGI edge (platform_core/body_limits.py), whatever the token."""
    sent = []
    body = b"List-Unsubscribe=One-Click&" + b"x" * settings.DEFAULT_MAX_BODY_BYTES
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/notifications/unsubscribe/abc/",
        "raw_path": b"/notifications/unsubscribe/abc/",
        "query_string": b"",
        "headers": [
            (b"host", b"acme.localhost"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    assert sent[0]["status"] == 413
