"""Measurements against a live database that leave nothing behind."""

import contextlib
import os

from django.db import transaction
from django_tenants.utils import get_tenant_model, tenant_context


def django_setup() -> None:
    """For `python -m tests.bench.<script>`: the product's settings, unless
    the caller (a test) has set Django up already."""
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back_in(schema: str, *, say=print):
    """Run the block in `schema`'s tenant, inside a transaction that is
    always rolled back: fill tables, time queries, keep nothing."""
    tenant = get_tenant_model().objects.filter(schema_name=schema).first()
    if tenant is None:
        raise SystemExit(f"no tenant {schema!r}")
    with tenant_context(tenant):
        try:
            with transaction.atomic():
                yield tenant
                raise _Rollback
        except _Rollback:
            say("(rolled back: nothing was kept)")
