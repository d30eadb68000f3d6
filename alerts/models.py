from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts import kinds


class Announcement(models.Model):
    """A tenant admin's message to an audience. Each recipient gets a
    Notification of kind `announcement` (their inbox copy and read state)."""

    class Severity(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    # "everyone" | "staff" | "customers" | {"stores": [store ids]}
    audience = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    publish_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    recipients_count = models.PositiveIntegerField(default=0)
    expired_at = models.DateTimeField(null=True, blank=True)
    # Expiry deletes the inbox copies; the history keeps how many were read.
    read_count_at_expiry = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.title

    @property
    def status(self) -> str:
        if self.expired_at:
            return "expired"
        if self.delivered_at:
            return "delivered"
        return "scheduled" if self.publish_at > timezone.now() else "sending"


class Notification(models.Model):
    """One personal alert in a user's inbox. The inbox is what sockets replay."""

    class Kind(models.TextChoices):
        SYSTEM = "system", _("System")
        ORDER_STATUS = "order_status", _("Order status")
        ORDER_COMMENT = "order_comment", _("Order comment")
        MENTION = "mention", _("Mention")
        ANNOUNCEMENT = "announcement", _("Announcement")
        BOARD_UNATTENDED = "board_unattended", _("Nobody on a store's board")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # What the text is made of (alerts/kinds.py renders it in the reader's
    # language); null for free text and for rows stored before params.
    params = models.JSONField(null=True, blank=True)
    # The text as rendered when stored (the tenant's language): shown for
    # free-text kinds and rows without params.
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    # The order it is about (orders sit above alerts: a plain id, no key).
    order_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Shown in an opened bell or inbox (the badge counts the unseen).
    seen_at = models.DateTimeField(null=True, blank=True)
    # Read implies seen; archiving reads (docs/notifications.md).
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    announcement = models.ForeignKey(
        Announcement, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Delivery may be retried after a crash: one copy per recipient.
            models.UniqueConstraint(
                fields=["announcement", "recipient"],
                condition=Q(announcement__isnull=False),
                name="one_copy_per_recipient",
            ),
        ]
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
            # The archived box, newest first (rare rows: a small index).
            models.Index(
                fields=["recipient", "-id"], condition=Q(archived_at__isnull=False), name="notification_archived_idx"
            ),
            # Retention prunes old read rows.
            models.Index(fields=["created_at"], condition=Q(read_at__isnull=False), name="notification_read_age_idx"),
        ]

    def __str__(self):
        return f"{self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def rendered(self) -> tuple[str, str]:
        """Title and body in the active language (alerts/kinds.py)."""
        return kinds.render(self.kind, self.params, self.title, self.body)


class NotificationPreference(models.Model):
    """How a user wants each kind, per channel: `channels` maps a kind to
    the channels the user chose ({"order_status": {"in_app": false}});
    what is not there is alerts.kinds.DEFAULT_CHANNELS. A kind muted in
    the app is still stored and listed in the inbox, but never pushed live
    nor counted in the badge; push and e-mail are stored for the next
    issue's senders. A kind the tenant marks critical (NotificationKindPolicy)
    is on in every channel whatever is stored here."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.user}: {self.channels}"


class NotificationKindPolicy(models.Model):
    """A tenant admin's rule for one kind: `critical` kinds cannot be muted
    (the tenant's schema, like everything else of its users)."""

    kind = models.CharField(max_length=32, unique=True)
    critical = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.kind}: {'critical' if self.critical else 'normal'}"


class UnreadCounter(models.Model):
    """How many unread, and how many unseen, notifications of one kind a
    user has (archived ones count in neither): the counts are the sums over
    the kinds they did not mute, read from a few rows instead of counted
    per notification.

    Kept by the database itself, not by the services: statement-level
    triggers on the notification table (migration 0004) add what each
    INSERT, UPDATE or DELETE changed, in the same transaction, whichever
    code ran it (the services, Django's cascades when a user or an
    announcement is deleted, retention, the admin). Counting per kind means
    muting or unmuting a kind changes nothing here.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    unread = models.IntegerField(default=0)
    unseen = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_counter_per_user_and_kind")]

    def __str__(self):
        return f"{self.user_id} {self.kind}: {self.unread} unread, {self.unseen} unseen"


class PushDevice(models.Model):
    """A browser's Web Push subscription (alerts/push.py): where to send a
    user's pushes on one device, and the keys that encrypt them (RFC 8291).
    The push service's 404 or 410 deletes it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)  # the browser's public key (base64url)
    auth = models.CharField(max_length=100)  # the shared auth secret (base64url)
    user_agent = models.CharField(max_length=300, blank=True)
    # The sign-in that registered it: a browser session's key, or an API
    # token's id. A device lives as long as that credential holds (checked
    # before every send): signing out, a password change, a revoked token
    # or a deactivated user ends its pushes.
    session_key = models.CharField(max_length=40, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.user_id}: {self.endpoint[:60]}"


class Delivery(models.Model):
    """What became of one notification on one off-site channel (push,
    e-mail): queued when it was made, then sent, skipped (and why) or
    failed. The user sees their own in their preferences, tenant admins the
    totals (docs/notifications.md)."""

    class Channel(models.TextChoices):
        PUSH = "push", _("Push")
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    class Reason(models.TextChoices):
        NONE = "", _("—")
        READ = "read", _("Already read")
        SEEN = "seen", _("Already seen")
        MUTED = "muted", _("Turned off")
        NO_DEVICE = "no_device", _("No device")
        NO_ADDRESS = "no_address", _("No email address")
        GONE = "gone", _("Device gone")
        ERROR = "error", _("Error")
        # The deployment sends no e-mail (settings.EMAIL_CONFIGURED is false).
        NO_EMAIL_SERVICE = "no_email_service", _("Email not set up")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True, default="")
    detail = models.CharField(max_length=300, blank=True)  # e.g. "2 devices", the push service's answer
    # Tries that failed so far, and when the next may be made (an e-mail
    # digest the mail server refused waits, doubling: alerts/digest.py).
    # A database default: offsite.queue writes rows in SQL of its own.
    attempts = models.PositiveSmallIntegerField(db_default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [
            # The digest sweep and the push jobs read only what is still queued.
            models.Index(fields=["channel", "created_at"], condition=Q(status="queued"), name="delivery_queued_idx"),
            # The tenant's totals, over a recent period.
            models.Index(fields=["created_at"], name="delivery_created_idx"),
        ]

    def __str__(self):
        return f"{self.notification_id} {self.channel}: {self.status} {self.reason}".strip()
