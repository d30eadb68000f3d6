from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context

from alerts.services import notifications_prune


class Command(BaseCommand):
    help = "Delete read notifications older than an age, in every tenant (or one). Unread ones are kept."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=float, default=settings.NOTIFICATION_RETENTION_DAYS)
        parser.add_argument("--schema", help="only this tenant schema")

    def handle(self, *args, older_than_days, schema, **options):
        if older_than_days < 0:
            raise CommandError("--older-than-days must not be negative")
        tenants = get_tenant_model().objects.exclude(schema_name=get_public_schema_name())
        if schema:
            tenants = tenants.filter(schema_name=schema)
            if not tenants.exists():
                raise CommandError(f"no tenant with schema {schema!r}")
        for tenant in tenants.order_by("schema_name"):
            with tenant_context(tenant):
                deleted = notifications_prune(older_than=timedelta(days=older_than_days))
            self.stdout.write(
                f"{tenant.schema_name}: {deleted} read notifications older than {older_than_days:g} days deleted"
            )
