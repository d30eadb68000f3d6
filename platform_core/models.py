from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person of one tenant (or an operator, in the public schema).

    The table exists in every schema, so user ids repeat across tenants:
    never use a user id without the tenant it belongs to.
    """

    # Tenant admins manage stores, staff and integrations, and broadcast
    # announcements. Django's is_staff/is_superuser only govern /admin/.
    is_tenant_admin = models.BooleanField(_("tenant admin"), default=False)
    # "" follows the tenant's default, then the browser (platform_core/i18n.py).
    language = models.CharField(_("language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES)


class ApiToken(models.Model):
    """A bearer token for API clients. Only a SHA-256 digest is stored.

    Tokens are 32 random bytes, so a fast hash is enough (nothing to brute
    force); the public `prefix` finds the row without scanning.
    """

    user = models.ForeignKey("platform_core.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    def __str__(self):
        return f"{self.user} · {self.name} ({self.prefix}…)"


class WsTicket(models.Model):
    """A single-use, short-lived pass for one socket (`?ticket=`), for
    clients that cannot send the session cookie. Only a digest is stored."""

    user = models.ForeignKey("platform_core.User", on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The credential that asked for the ticket: the socket it opens lives
    # only as long as that token or session does (ws/access.py).
    token = models.ForeignKey(
        "platform_core.ApiToken", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_key = models.CharField(max_length=40, blank=True)


class RateCounter(models.Model):
    """Hits on one limited thing (an integration, a sign-in name, an address)
    in the current fixed window; shared by every worker process. One row
    per key, rewritten in place (platform_core/limits.py)."""

    key = models.CharField(max_length=200, primary_key=True)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)
