"""What creates a personal alert, for whom, and only after commit."""

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from alerts.models import Notification
from alerts.services import preferences_update
from platform_core.errors import ApplicationError
from tests.factories import add_comment, change_status, create_order

pytestmark = pytest.mark.django_db


def inbox(cast, who):
    with tenant_context(cast.tenant):
        return list(
            Notification.objects.filter(recipient=getattr(cast, who))
            .order_by("id")
            .values_list("kind", "title", "body")
        )


@pytest.fixture
def order(world):
    return create_order(world.acme.tenant, external_id="A-7", customer=world.acme.customer)


def test_a_status_change_alerts_the_orders_customer(world, order):
    change_status(world.acme.tenant, order, "accepted")
    assert inbox(world.acme, "customer") == [("order_status", "Order A-7 is now Accepted", "")]
    assert inbox(world.acme, "staff1") == []
    assert inbox(world.globex, "customer") == [], "the same user id in globex hears nothing"


def test_an_order_without_customer_alerts_nobody(world):
    change_status(world.acme.tenant, create_order(world.acme.tenant), "accepted")
    with tenant_context(world.acme.tenant):
        assert not Notification.objects.exists()


def test_a_refused_transition_alerts_nobody(world, order):
    with pytest.raises(ApplicationError):
        change_status(world.acme.tenant, order, "completed")
    assert inbox(world.acme, "customer") == []


def test_a_rolled_back_change_leaves_no_alert(world, order):
    with pytest.raises(RuntimeError), transaction.atomic():
        change_status(world.acme.tenant, order, "accepted")
        raise RuntimeError
    assert inbox(world.acme, "customer") == []


def test_a_staff_comment_alerts_the_customer(world, order):
    add_comment(world.acme.tenant, order, world.acme.staff1, "Your order is on its way")
    assert inbox(world.acme, "customer") == [("order_comment", "New comment on order A-7", "Your order is on its way")]


def test_a_mention_alerts_a_user_who_may_see_the_order(world, order):
    add_comment(world.acme.tenant, order, world.acme.staff1, "@manager1 can you check the drinks?")
    assert inbox(world.acme, "manager1") == [
        ("mention", "staff1 mentioned you on order A-7", "@manager1 can you check the drinks?")
    ]


@pytest.mark.parametrize(
    "body,who",
    [
        ("@staff2 look", "staff2"),  # staff of another store may not see it
        ("@admin look", "admin"),  # tenant admin, not staff of the store
        ("@staff1 note to self", "staff1"),  # the author
        ("mail me at me@manager1 please", "manager1"),  # an address, not a mention
        ("@nobody here", "manager1"),
    ],
)
def test_mentions_of_users_who_may_not_see_the_order_or_that_are_not_mentions_alert_nobody(world, order, body, who):
    add_comment(world.acme.tenant, order, world.acme.staff1, body)
    assert [kind for kind, _, _ in inbox(world.acme, who)] == []


def test_the_customer_mentioned_in_a_comment_is_alerted_once(world, order):
    add_comment(world.acme.tenant, order, world.acme.staff1, "@customer ready at 5, @customer")
    assert [kind for kind, _, _ in inbox(world.acme, "customer")] == ["order_comment"]


def test_muted_kinds_are_stored_and_listed(world, order):
    with tenant_context(world.acme.tenant):
        preferences_update(user=world.acme.customer, muted_kinds=["order_status"])
    change_status(world.acme.tenant, order, "accepted")
    assert [kind for kind, _, _ in inbox(world.acme, "customer")] == ["order_status"]


@pytest.mark.parametrize("language, expected", [("en", "Order RFDP.exe is now Accepted"), ("es", "El pedido RFDP.exe")])
def test_a_bidi_override_in_an_order_reference_does_not_turn_the_sentence_around(language, expected):
    """An integrator's reference is put in a sentence of ours: its invisible
    right-to-left override would reverse the rest of it ("El pedido
    Rodatpeca…", seen by an outside test)."""
    from django.utils import translation

    from alerts.kinds import render

    params = {"ref": "R\u202eFDP.exe\u2069\u200f", "status": "accepted"}
    with translation.override(language):
        title, _body = render("order_status", params, "", "")
    assert title.startswith(expected)
    assert not any(char in title for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def test_line_breaks_in_an_order_reference_stay_inside_the_sentence():
    """A reference with CR/LF (an integrator's, seen by an outside test)
    would start lines of its own in a digest's text part and a push's
    title: control characters become spaces."""
    from django.utils import translation

    from alerts.kinds import render

    params = {"ref": "EV\r\nStop emails: https://evil.test\u2028\x00", "status": "ready"}
    with translation.override("en"):
        title, _body = render("order_status", params, "", "")
    assert "\n" not in title and "\r" not in title and "\u2028" not in title and "\x00" not in title
    assert title == "Order EV  Stop emails: https://evil.test   is now Ready"
