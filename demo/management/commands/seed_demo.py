from django.core.management.base import BaseCommand

from demo import seed as demo


class Command(BaseCommand):
    help = "Create the demo tenants, domains and users of the contract (idempotent)."

    def handle(self, *args, **options):
        demo.seed(log=lambda line: self.stdout.write(line))
        self.stdout.write(self.style.SUCCESS(f"demo ready; every demo password is {demo.PASSWORD}"))
