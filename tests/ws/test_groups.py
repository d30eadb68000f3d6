import pytest
from channels.layers import BaseChannelLayer

from tenants.models import Tenant
from ws import groups

# Channels' own validator: the names must be accepted by every layer backend.
validator = BaseChannelLayer()


@pytest.mark.parametrize("tenant_pk", [1, 2**31 - 1, 2**63 - 1])
@pytest.mark.parametrize("object_id", [1, 2**31 - 1, 2**63 - 1])
def test_every_group_name_is_valid_for_channels(tenant_pk, object_id):
    tenant = Tenant(pk=tenant_pk, schema_name="any")
    for name in (groups.store_orders(tenant, object_id), groups.user_notifications(tenant, object_id)):
        assert validator.require_valid_group_name(name)
        assert len(name) < 100


def test_the_same_ids_in_two_tenants_give_different_groups():
    acme, globex = Tenant(pk=1, schema_name="acme"), Tenant(pk=2, schema_name="globex")
    assert groups.store_orders(acme, 1) != groups.store_orders(globex, 1)
    assert groups.user_notifications(acme, 1) != groups.user_notifications(globex, 1)
    assert groups.store_orders(acme, 1) != groups.user_notifications(acme, 1)


def test_names_keep_the_design_cards_words():
    tenant = Tenant(pk=7, schema_name="acme")
    assert groups.store_orders(tenant, 3) == "t7.pedidos_3"
    assert groups.user_notifications(tenant, 5) == "t7.notificaciones_5"


@pytest.mark.parametrize("hostile", ["1 OR 1=1", "../2", "1.notificaciones_2"])
def test_ids_that_are_not_integers_are_refused(hostile):
    with pytest.raises(ValueError):
        groups.store_orders(Tenant(pk=1, schema_name="acme"), hostile)
