import itertools

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from orders.models import Order, StoreEvent
from orders.services import order_change_status
from platform_core.errors import ApplicationError
from tests.factories import create_order

pytestmark = pytest.mark.django_db

S = Order.Status
ALLOWED = {
    (S.NEW, S.ACCEPTED),
    (S.ACCEPTED, S.PREPARING),
    (S.PREPARING, S.READY),
    (S.READY, S.COMPLETED),
    (S.NEW, S.CANCELLED),
    (S.ACCEPTED, S.CANCELLED),
    (S.PREPARING, S.CANCELLED),
    (S.READY, S.CANCELLED),
}
PATH = [S.NEW, S.ACCEPTED, S.PREPARING, S.READY, S.COMPLETED]


def order_in(tenant, status):
    """An order brought to `status` through the machine itself."""
    order = create_order(tenant)
    with tenant_context(tenant):
        if status == S.CANCELLED:
            return order_change_status(order_id=order.pk, status=S.CANCELLED)
        for step in PATH[1 : PATH.index(status) + 1]:
            order = order_change_status(order_id=order.pk, status=step)
    return order


@pytest.mark.parametrize("old,new", list(itertools.product(S.values, S.values)))
def test_every_transition_is_allowed_exactly_when_the_contract_says(world, old, new):
    acme = world.acme.tenant
    order = order_in(acme, old)
    with tenant_context(acme):
        events_before = StoreEvent.objects.count()
        if (old, new) in ALLOWED:
            assert order_change_status(order_id=order.pk, status=new).status == new
            assert StoreEvent.objects.count() == events_before + 1
        else:
            with pytest.raises(ApplicationError) as refused:
                order_change_status(order_id=order.pk, status=new)
            assert refused.value.code == "invalid_transition"
            assert "status" in refused.value.fields
            assert Order.objects.get(pk=order.pk).status == old
            assert StoreEvent.objects.count() == events_before


@pytest.mark.parametrize("status", ["", "NEW", "shipped", None, 1, ["new"], "new "])
def test_unknown_status_is_refused_with_the_field_named(world, status):
    order = create_order(world.acme.tenant)
    with tenant_context(world.acme.tenant), pytest.raises(ApplicationError) as refused:
        order_change_status(order_id=order.pk, status=status)
    assert refused.value.code == "invalid" and "status" in refused.value.fields


def test_final_states_have_no_way_out(world):
    for final in (S.COMPLETED, S.CANCELLED):
        order = order_in(world.acme.tenant, final)
        assert not any(order.can_become(status) for status in S.values)


def test_admin_forms_obey_the_same_machine(world):
    order = order_in(world.acme.tenant, S.COMPLETED)
    with tenant_context(world.acme.tenant):
        order = Order.objects.get(pk=order.pk)
        order.status = S.NEW
        with pytest.raises(ValidationError) as refused:
            order.full_clean()
        assert "status" in refused.value.message_dict
