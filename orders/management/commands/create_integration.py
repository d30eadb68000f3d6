import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_tenant_model, tenant_context

from orders.integrations.services import integration_create
from platform_core.errors import ApplicationError


class Command(BaseCommand):
    help = 'Create an integration in a tenant; prints {"id": ..., "secret": "whsec_..."} (the secret is shown once).'

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--store",
            type=int,
            action="append",
            dest="stores",
            help="a store it may write to (repeat); all stores when left out",
        )

    def handle(self, *args, schema, name, stores, **options):
        tenant = get_tenant_model().objects.filter(schema_name=schema).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"no tenant with schema {schema!r}")
        with tenant_context(tenant):
            try:
                integration, secret = integration_create(name=name, store_ids=stores)
            except ApplicationError as error:
                raise CommandError(f"{error.message}: {error.fields}") from None
        self.stdout.write(json.dumps({"id": integration.pk, "secret": secret}))
