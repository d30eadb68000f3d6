from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One personal alert in a user's inbox. The inbox is what sockets replay."""

    class Kind(models.TextChoices):
        SYSTEM = "system", _("System")
        ORDER_STATUS = "order_status", _("Order status")
        ORDER_COMMENT = "order_comment", _("Order comment")
        MENTION = "mention", _("Mention")
        ANNOUNCEMENT = "announcement", _("Announcement")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The inbox, newest first.
            models.Index(fields=["recipient", "-id"], name="notification_inbox_idx"),
            # Unread counts and the connect frame read only unread rows; a
            # partial index keeps them fast however large the read history,
            # and carrying `kind` lets the count skip muted kinds without
            # visiting the table (an index-only scan).
            models.Index(
                fields=["recipient", "-id"],
                include=["kind"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
            # Retention prunes old read rows.
            models.Index(fields=["created_at"], condition=Q(read_at__isnull=False), name="notification_read_age_idx"),
        ]

    def __str__(self):
        return f"{self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """What a user does not want pushed. Muted kinds are still stored and
    listed in the inbox, but never pushed live nor counted in the badge."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference")
    muted_kinds = models.JSONField(default=list, blank=True)

    def __str__(self):
        return f"{self.user}: muted {', '.join(self.muted_kinds) or 'nothing'}"
