import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from alerts.models import Notification
from demo import seed as demo
from orders.models import Order, StoreEvent
from stores.models import StaffMembership, Store
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db


def snapshot():
    with schema_context(get_public_schema_name()):
        tenants = {t.schema_name: sorted(t.domains.values_list("domain", flat=True)) for t in Tenant.objects.all()}
    rows = {}
    for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()):
        with tenant_context(tenant):
            rows[tenant.schema_name] = (
                sorted(get_user_model().objects.values_list("username", "is_tenant_admin")),
                Notification.objects.count(),
                sorted(Store.objects.values_list("id", flat=True)),
                sorted(StaffMembership.objects.values_list("user__username", "store_id")),
                sorted(Order.objects.values_list("store_id", "external_id", "status", "customer__username")),
                StoreEvent.objects.count(),
            )
    return tenants, rows


def test_seed_demo_creates_the_contract_demo_and_is_idempotent(tenants):
    call_command("seed_demo", stdout=io.StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert snapshot() == first

    domains, rows = first
    assert domains["acme"] == ["acme.localhost"]
    assert domains["globex"] == ["globex.localhost"]
    assert "localhost" in domains[get_public_schema_name()]
    for schema in ("acme", "globex"):
        users, notifications, stores, staff, orders, events = rows[schema]
        assert users == [("admin", True), ("customer", False), ("staff1", False), ("staff2", False)]
        assert notifications == 6  # one welcome each, and the customer heard DEMO-1002 go accepted, preparing
        assert stores == [1, 2]
        assert staff == [("staff1", 1), ("staff2", 2)]
        assert {(store, customer) for store, _, _, customer in orders} == {(1, "customer")}
        assert events == 4  # DEMO-1001 created; DEMO-1002 created, accepted, preparing
        tenant = Domain.objects.get(domain=f"{schema}.localhost").tenant
        with tenant_context(tenant):
            for username in demo.USERS:
                assert authenticate(username=username, password=demo.PASSWORD) is not None


def test_the_demo_reads_spanish_in_madrid_at_acme_and_english_in_new_york_at_globex(tenants):
    call_command("seed_demo", stdout=io.StringIO())
    languages = dict(
        (schema, (language, zone))
        for schema, language, zone in Tenant.objects.values_list("schema_name", "language", "time_zone")
    )
    assert languages["acme"] == ("es", "Europe/Madrid")
    assert languages["globex"] == ("en", "America/New_York")
    # A demo database seeded before languages existed catches up on the next seed.
    Tenant.objects.filter(schema_name__in=["acme", "globex"]).update(language="", time_zone="UTC")
    call_command("seed_demo", stdout=io.StringIO())
    assert Tenant.objects.get(schema_name="acme").language == "es"
    assert Tenant.objects.get(schema_name="globex").time_zone == "America/New_York"
