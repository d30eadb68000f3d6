import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from platform_core import vapid


class Command(BaseCommand):
    help = (
        "Make a VAPID key pair for Web Push: print it as environment lines, or with --write keep it in a file "
        "(only if the file does not exist: browsers' subscriptions are bound to the public key)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="PATH", help="write the pair here unless the file exists (make run)")
        parser.add_argument("--subject", default="mailto:admin@localhost", help="VAPID_SUBJECT (mailto: or https:)")

    def handle(self, *args, write, subject, **options):
        if not vapid.SUBJECT.fullmatch(subject):
            raise CommandError("--subject must be a mailto: address or an https: URL")
        if write is None:
            self.stdout.write(vapid.env_lines(*vapid.generate(), subject), ending="")
            return
        path = Path(write)
        if path.exists():
            self.stdout.write(f"VAPID keys kept: {path}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        private, public = vapid.generate()
        # Only its owner reads the private key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(
                "# Local Web Push keys, made by `manage.py vapid_keys --write` (make run). Not for production.\n"
            )
            file.write(vapid.env_lines(private, public, subject))
        self.stdout.write(f"VAPID keys written: {path}")
