"""Measurements against a live database that leave nothing behind."""

import contextlib

from django.core.management.base import CommandError
from django.db import transaction
from django_tenants.utils import get_tenant_model, tenant_context


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back_in(schema: str, *, say=print):
    """Run the block in `schema`'s tenant, inside a transaction that is
    always rolled back: fill tables, time queries, keep nothing."""
    tenant = get_tenant_model().objects.filter(schema_name=schema).first()
    if tenant is None:
        raise CommandError(f"no tenant {schema!r}")
    with tenant_context(tenant):
        try:
            with transaction.atomic():
                yield tenant
                raise _Rollback
        except _Rollback:
            say("(rolled back: nothing was kept)")
