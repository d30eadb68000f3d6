import contextlib
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import get_public_schema_name

from platform_core.errors import ApplicationError
from platform_core.provisioning import tenant_provision


class Command(BaseCommand):
    help = (
        "Create a tenant, its schema, its primary domain and its first tenant admin. Prints "
        '{"schema": ..., "domain": ..., "admin": ..., "sign_in_link": ...}: the link lets the admin choose a '
        "password, once (and is emailed to them when email is configured)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="its PostgreSQL schema: lowercase letters, digits, _")
        parser.add_argument("--domain", required=True, help="its host name, e.g. initech.example.com")
        parser.add_argument("--admin-email", required=True, help="the first tenant admin's email, also their username")
        parser.add_argument("--name", help="the company's name (default: the schema, title-cased)")
        parser.add_argument(
            "--language",
            default="",
            help="its people's default language: es or en (default: none, each browser's Accept-Language)",
        )
        parser.add_argument(
            "--time-zone",
            default="UTC",
            help="the IANA time zone its times are shown in, e.g. Europe/Madrid (default UTC)",
        )

    def handle(self, *args, schema, domain, admin_email, name, language, time_zone, **options):
        # Tenants are rows of the public schema; run through tenant_command,
        # this would start inside a tenant's.
        if connection.schema_name != get_public_schema_name():
            raise CommandError("create_tenant runs in the public schema: call it directly, not through tenant_command")
        try:
            # The JSON line alone goes to stdout, for scripts; anything said
            # meanwhile (a local run's console mail) goes to stderr.
            with contextlib.redirect_stdout(sys.stderr):
                provisioned = tenant_provision(
                    schema=schema,
                    name=name or schema.replace("_", " ").title(),
                    domain=domain,
                    admin_email=admin_email,
                    language=language,
                    time_zone=time_zone,
                )
        except ApplicationError as error:
            problems = "; ".join(f"{field}: {problem}" for field, problem in error.fields.items())
            raise CommandError(f"{error.message}: {problems}") from None
        self.stdout.write(
            json.dumps(
                {
                    "schema": provisioned.tenant.schema_name,
                    "domain": provisioned.domain.domain,
                    "admin": provisioned.admin.get_username(),
                    "language": provisioned.tenant.language,
                    "time_zone": provisioned.tenant.time_zone,
                    "sign_in_link": provisioned.sign_in_link,
                }
            )
        )
