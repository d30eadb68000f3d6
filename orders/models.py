from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from stores.models import Store


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACCEPTED = "accepted", _("Accepted")
        PREPARING = "preparing", _("Preparing")
        READY = "ready", _("Ready")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    # The status machine, in one place. `cancelled` is reachable from every
    # state that is not final; completed and cancelled are final.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.NEW: frozenset({Status.ACCEPTED, Status.CANCELLED}),
        Status.ACCEPTED: frozenset({Status.PREPARING, Status.CANCELLED}),
        Status.PREPARING: frozenset({Status.READY, Status.CANCELLED}),
        Status.READY: frozenset({Status.COMPLETED, Status.CANCELLED}),
        Status.COMPLETED: frozenset(),
        Status.CANCELLED: frozenset(),
    }

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    external_id = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    total = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="EUR")
    line_items = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    # The customer's name as the shop system sent it ("Ana Díaz"): the
    # account attached by email may be older, nameless, or none at all.
    customer_name = models.CharField(max_length=150, blank=True)
    # Why staff cancelled it (optional); the customer's notification says it.
    cancel_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["store", "external_id"], name="order_external_id_per_store")]
        indexes = [models.Index(fields=["store", "status", "-id"], name="order_store_status_idx")]

    def __str__(self):
        return f"{self.store_id}/{self.external_id}"

    def save(self, *args, **kwargs):
        # post_save writes the stream event; running the save in a
        # transaction puts the event in the same one as the change, even
        # for a caller that did not open one (a shell, a script). Inside a
        # caller's transaction no savepoint is needed: a failure here fails
        # the whole change anyway (and a savepoint costs two round trips).
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        order = super().from_db(db, field_names, values)
        # Remembered so that post_save can tell a status change from an edit.
        order.saved_status = order.status
        return order

    saved_status: str | None = None

    def clean(self):
        # Forms (the admin) obey the same machine as the services.
        if self.saved_status and self.status != self.saved_status and not self._can_go(self.saved_status, self.status):
            raise ValidationError(
                {
                    "status": _("An order that is %(old)s cannot become %(new)s.")
                    % {"old": self.saved_status, "new": self.status}
                }
            )

    @classmethod
    def _can_go(cls, old: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(old, frozenset())

    def can_become(self, status: str) -> bool:
        return self._can_go(self.status, status)


class OrderComment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def save(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):  # see Order.save
            super().save(*args, **kwargs)


class OrderStatusChange(models.Model):
    """One step of an order's status history: what its page's timeline shows.

    Written by post_save (orders/signals.py) in the same transaction as the
    change, beside its stream event, so history and stream always agree.
    An order's creation is not a row: the timeline starts at the order's own
    `created_at` (a new order costs no extra INSERT on the webhook path).
    `changed_at` is the order's `updated_at` of that save, as the stream
    event's `data.order.updated_at` says.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=16, choices=Order.Status.choices)
    previous_status = models.CharField(max_length=16, choices=Order.Status.choices)
    reason = models.CharField(max_length=500, blank=True)  # the cancel reason, if any
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="status_change_order_idx")]

    def __str__(self):
        return f"{self.order_id}: {self.previous_status} → {self.status}"


class StoreEvent(models.Model):
    """One entry of a store's stream: what staff sockets receive, kept forever.

    Written in the same transaction as the change it describes, with the
    store's next `seq`; `frame` is the serialized JSON exactly as it was
    sent live, so a replay is byte-identical to the live delivery.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=40)
    frame = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "seq"], name="one_event_per_store_seq")]

    def __str__(self):
        return f"{self.store_id}#{self.seq} {self.type}"


class Integration(models.Model):
    """A shop system that posts signed webhooks to create and update orders."""

    name = models.CharField(max_length=100)
    all_stores = models.BooleanField(default=True, help_text="May write to every store of the tenant.")
    stores = models.ManyToManyField(Store, blank=True, related_name="+", help_text="When not all stores: these.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name

    def may_write(self, store_id: int) -> bool:
        return self.all_stores or self.stores.filter(pk=store_id).exists()


class IntegrationSecret(models.Model):
    """A signing secret (`whsec_…`). Several may be active during a rotation.

    Stored as is: HMAC verification needs the key itself, not a hash of it.
    It is shown once, when created; afterwards only its prefix.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @property
    def prefix(self) -> str:
        return self.secret[:10] + "…"


class WebhookDelivery(models.Model):
    """One authenticated webhook request: accepted, duplicate or refused.

    Unsigned or badly signed requests are not stored (anyone can send
    those). An accepted `webhook-id` is unique per integration: a retry with
    the same body is answered 2xx and changes nothing; the same id with
    another body is refused (409), never applied. A refused one may be
    retried with the same id once fixed.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    accepted = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField()
    error = models.TextField(blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # SHA-256 (hex) of the raw body. Blank on rows stored before digests
    # were kept: those match any body (they were answered duplicate before).
    body_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "webhook_id"], condition=models.Q(accepted=True), name="accepted_once"
            )
        ]
        indexes = [models.Index(fields=["received_at"], name="delivery_received_idx")]
