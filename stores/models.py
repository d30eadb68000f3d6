from django.conf import settings
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

    class Meta:
        ordering = ["id"]

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
    """One open dashboard socket. Presence is the set of users with a fresh row.

    Rows live in the database, not in a worker's memory, so every worker
    process sees the same presence; a worker that dies leaves rows that
    stop being refreshed and drop out after PRESENCE_TTL_SECONDS.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="presence_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["store", "seen_at"], name="presence_store_seen_idx"),
            models.Index(fields=["store", "user", "seen_at"], name="presence_store_user_idx"),
        ]
