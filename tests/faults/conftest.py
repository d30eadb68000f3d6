import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django_tenants.utils import tenant_context

from tests.factories import session_cookie
from tests.faults.services import private_redis


@pytest.fixture
def redis():
    with private_redis() as redis:
        yield redis


@pytest.fixture
def feed_integration(world):
    """An integration of acme with its signing secret."""
    from orders.integrations.services import integration_create

    with tenant_context(world.acme.tenant):
        integration, secret = integration_create(name="feed")
    yield integration, secret
    connections.close_all()


@pytest.fixture
async def staff_cookie(world):
    return await sync_to_async(session_cookie)(world.acme.tenant, world.acme.staff1)


@pytest.fixture
def staff_token(world):
    from platform_core.tokens import api_token_create

    with tenant_context(world.acme.tenant):
        _token, plaintext = api_token_create(user=world.acme.staff1, name="faults")
    return plaintext
