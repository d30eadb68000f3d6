from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Store(models.Model):
    """A store of the tenant. Its staff watch its live order stream."""

    name = models.CharField(max_length=120)
    # The last `seq` handed out on this store's stream. Incremented with
    # UPDATE … RETURNING inside the writing transaction: the row lock orders
    # concurrent writers and a rollback gives the number back (gap-free).
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    # How the board calls for attention (issue 16). The sound repeats until
    # someone accepts the order; the age of an open order turns amber, then
    # red, at these minutes. With no staff on the board, the store's tenant
    # admins get a notification after `unattended_alert_seconds`.
    sound_enabled = models.BooleanField(_("sound on new orders"), default=True)
    sound_repeat_seconds = models.PositiveSmallIntegerField(
        _("repeat the sound every (seconds)"), default=20, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    sla_warn_minutes = models.PositiveSmallIntegerField(
        _("amber after (minutes)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    sla_late_minutes = models.PositiveSmallIntegerField(
        _("red after (minutes)"), default=8, validators=[MinValueValidator(1), MaxValueValidator(480)]
    )
    unattended_alert_seconds = models.PositiveSmallIntegerField(
        _("tell admins when nobody is on the board after (seconds)"),
        default=60,
        validators=[MinValueValidator(0), MaxValueValidator(3600)],
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sla_late_minutes__gt=models.F("sla_warn_minutes")), name="store_sla_late_after_warn"
            ),
        ]

    def __str__(self):
        return self.name


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", _("Manager")
        STAFF = "staff", _("Staff")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="one_membership_per_store")]

    def __str__(self):
        return f"{self.user} @ {self.store} ({self.role})"


class PresenceSession(models.Model):
    """A user on a store's dashboard through one worker process.

    One row per (worker, store, user), not per socket: a worker counts its
    own sockets in memory (stores/presence.py) and writes here only when a
    user appears on or leaves a store on that worker, in batches, and
    refreshes all its rows at once every heartbeat. The rows are what every
    worker agrees on: presence is the set of users with a fresh row. A
    worker that dies leaves rows that stop being refreshed and drop out
    after PRESENCE_TTL_SECONDS.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="presence_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    worker = models.CharField(max_length=100)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "store", "user"], name="one_presence_per_worker"),
        ]
        indexes = [
            models.Index(fields=["store", "seen_at"], name="presence_store_seen_idx"),
        ]
