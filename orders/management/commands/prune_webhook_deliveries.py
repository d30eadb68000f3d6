from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context

from orders.integrations.services import webhook_deliveries_prune


class Command(BaseCommand):
    help = "Delete webhook delivery logs older than an age, in every tenant."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=float, default=settings.WEBHOOK_LOG_RETENTION_DAYS)

    def handle(self, *args, older_than_days, **options):
        if older_than_days < 0:
            raise CommandError("--older-than-days must not be negative")
        for tenant in get_tenant_model().objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name"):
            with tenant_context(tenant):
                deleted = webhook_deliveries_prune(older_than=timedelta(days=older_than_days))
            self.stdout.write(f"{tenant.schema_name}: {deleted} deliveries older than {older_than_days:g} days deleted")
