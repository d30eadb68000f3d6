from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from platform_core.jobs import prune_done


class Command(BaseCommand):
    help = "Delete deferred jobs that finished more than an age ago (every tenant's; the public schema's queue)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=float, default=7)

    def handle(self, *args, older_than_days, **options):
        if older_than_days < 0:
            raise CommandError("--older-than-days must not be negative")
        deleted = prune_done(older_than=timedelta(days=older_than_days))
        self.stdout.write(f"{deleted} finished jobs older than {older_than_days:g} days deleted")
