import asyncio

from django.core.management.base import BaseCommand

from platform_core import jobs


class Command(BaseCommand):
    help = "Run due deferred jobs (scheduled announcements, expiries): forever, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due now and exit (for cron)")

    def handle(self, *args, once, **options):
        if once:
            jobs.ensure_periodic()  # as a web worker's loop does when it starts
            total = 0
            while ran := jobs.run_due():
                total += ran
            self.stdout.write(f"{total} jobs run")
            return
        asyncio.run(jobs.runner.run_forever())
