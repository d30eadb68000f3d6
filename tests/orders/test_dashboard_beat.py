"""The worker's dashboard heartbeat: one database trip per tenant for all
its dashboards, with the same verdicts a socket's own check gives.

`beat_verdicts` is what each beat runs on the DB thread; the sockets here
are stand-ins carrying what a real one carries (tenant, user, credential,
store), so a case can be built for every way access ends. A real socket
closed by the beat is in tests/orders/test_dashboard_socket.py and the
revocation matrix.
"""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from orders.consumers import beat_verdicts
from platform_core.access import Credential
from platform_core.tokens import api_token_create, api_token_revoke
from stores.models import StaffMembership, Store
from tests.factories import create_order, make_user, session_cookie
from ws import close_codes

pytestmark = pytest.mark.django_db


def session_of(cast, user) -> Credential:
    return Credential(session_key=session_cookie(cast.tenant, user).split("=", 1)[1])


def dashboard(cast, user, credential, store_id=1):
    return SimpleNamespace(tenant=cast.tenant, user=user, credential=credential, store_id=store_id)


def verdicts(cast, sockets):
    with tenant_context(cast.tenant), CaptureQueriesContext(connection) as queries:
        result = beat_verdicts(sockets)
    return result, len(queries)


def test_every_way_access_ends_gets_the_close_code_a_socket_check_gives(world):
    acme = world.acme
    create_order(acme.tenant, store_id=1)
    create_order(acme.tenant, store_id=1)
    User = get_user_model()
    with tenant_context(acme.tenant):
        store3 = Store.objects.create(id=3, name="soon gone")
    people = {name: make_user(acme.tenant, name) for name in ("moved", "inactive", "rehashed", "tokened", "gone_store")}
    with tenant_context(acme.tenant):
        for name in ("moved", "inactive", "rehashed", "tokened"):
            StaffMembership.objects.create(user=people[name], store_id=1)
        StaffMembership.objects.create(user=people["gone_store"], store=store3)
    credentials = {name: session_of(acme, user) for name, user in people.items()}
    with tenant_context(acme.tenant):
        token, _plaintext = api_token_create(user=people["tokened"], name="board")
    sockets = {
        "staff1": dashboard(acme, acme.staff1, session_of(acme, acme.staff1)),
        "staff2 on store 1": dashboard(acme, acme.staff2, session_of(acme, acme.staff2)),
        "moved": dashboard(acme, people["moved"], credentials["moved"]),
        "inactive": dashboard(acme, people["inactive"], credentials["inactive"]),
        "rehashed": dashboard(acme, people["rehashed"], credentials["rehashed"]),
        "tokened": dashboard(acme, people["tokened"], Credential(token_id=token.pk)),
        "gone_store": dashboard(acme, people["gone_store"], credentials["gone_store"], store_id=3),
        "another's session": dashboard(acme, acme.manager1, session_of(acme, acme.staff1)),
    }
    with tenant_context(acme.tenant):
        StaffMembership.objects.filter(user=people["moved"]).delete()
        # Changes no signal announces: the beat is what catches them.
        User.objects.filter(pk=people["inactive"].pk).update(is_active=False)
        User.objects.filter(pk=people["rehashed"].pk).update(password="md5$other$0")
        api_token_revoke(user=people["tokened"], token_id=token.pk)
        store3.delete()

    result, queries = verdicts(acme, list(sockets.values()))

    assert dict(zip(sockets, result, strict=True)) == {
        "staff1": (None, 2),
        "staff2 on store 1": (close_codes.FORBIDDEN, None),
        "moved": (close_codes.FORBIDDEN, None),
        "inactive": (close_codes.NOT_SIGNED_IN, None),
        "rehashed": (close_codes.NOT_SIGNED_IN, None),
        "tokened": (close_codes.NOT_SIGNED_IN, None),
        "gone_store": (close_codes.NOT_FOUND, None),
        "another's session": (close_codes.NOT_SIGNED_IN, None),
    }
    assert queries <= 7  # users, sessions, tokens, stores, memberships, seqs (and the schema), however many sockets


def test_the_number_of_queries_does_not_grow_with_the_sockets(world):
    acme = world.acme
    credential = session_of(acme, acme.staff1)
    few, few_queries = verdicts(acme, [dashboard(acme, acme.staff1, credential)])
    many, many_queries = verdicts(acme, [dashboard(acme, acme.staff1, credential) for _ in range(200)])
    assert few == [(None, 0)] and many == [(None, 0)] * 200
    assert many_queries == few_queries


def test_colliding_ids_in_another_tenant_decide_nothing(world):
    """staff1 and store 1 exist in both tenants; globex's session and its
    membership are another tenant's rows."""
    acme, globex = world.acme, world.globex
    create_order(globex.tenant, store_id=1)
    globex_session = session_of(globex, globex.staff1)
    with tenant_context(acme.tenant):
        StaffMembership.objects.filter(user_id=acme.staff1.pk).delete()
    result, _ = verdicts(acme, [dashboard(acme, acme.staff1, session_of(acme, acme.staff1))])
    assert result == [(close_codes.FORBIDDEN, None)]  # globex's membership does not count
    result, _ = verdicts(acme, [dashboard(acme, acme.staff2, globex_session)])
    assert result == [(close_codes.NOT_SIGNED_IN, None)]  # a globex session means nothing in acme
    result, _ = verdicts(globex, [dashboard(globex, globex.staff1, globex_session)])
    assert result == [(None, 1)]
