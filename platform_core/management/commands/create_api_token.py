import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from platform_core.tokens import api_token_create


class Command(BaseCommand):
    help = 'Create an API token for a user; prints {"id": …, "token": "pgn_…"} once.'

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", default="cli")

    def handle(self, *args, schema, username, name, **options):
        with schema_context(schema):
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r} in schema {schema!r}")
            token, plaintext = api_token_create(user=user, name=name)
        self.stdout.write(json.dumps({"id": token.pk, "token": plaintext}))
