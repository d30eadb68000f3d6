import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


def validate_time_zone(name: str) -> None:
    if name and name not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(name)s” is not a time zone (e.g. Europe/Madrid)."), params={"name": name})


class Tenant(TenantMixin):
    """A customer company. Lives in the public schema; owns one schema."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Its people's default language ("": each browser's own), and the time
    # zone its times are shown in (platform_core/i18n.py).
    language = models.CharField(_("language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    # Off-site delivery (docs/notifications.md): a notification still unread
    # this long after it was made is pushed even to someone with a socket
    # open; unread ones are mailed in a digest this long after the first.
    push_after_seconds = models.PositiveIntegerField(_("push after (seconds)"), default=30)
    email_digest_minutes = models.PositiveIntegerField(_("email digest after (minutes)"), default=10)

    auto_create_schema = True

    def __str__(self):
        return self.name


class Domain(DomainMixin):
    """A host name that selects a tenant, e.g. ``acme.example.com``."""


class Job(models.Model):
    """Deferred work for a tenant, due at a time: the public schema's queue.

    One table for every tenant, so one query finds what is due anywhere.
    Workers claim rows with FOR UPDATE SKIP LOCKED; a claim is a lease, so
    work of a worker that died is taken again after JOB_LEASE_SECONDS (the
    handlers are idempotent).
    """

    # None: the platform's own periodic work (jobs.periodic), for every tenant.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    due_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], condition=models.Q(done_at__isnull=True), name="job_due_idx")]
        constraints = [
            # One pending run of each periodic kind, however many workers ensure it.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(tenant__isnull=True, done_at__isnull=True),
                name="one_pending_periodic_job",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.object_id} @ {self.due_at:%Y-%m-%d %H:%M}"
