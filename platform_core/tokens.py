"""API tokens (create, shown once; revoke; authenticate) and socket tickets.

A token reads `pgn_<prefix>_<secret>`. The tenant's schema must be active:
tokens live with their users, so a token of one tenant is unknown on
another.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from platform_core.errors import ApplicationError
from platform_core.models import ApiToken, WsTicket

SCHEME = "pgn"
# Recording every use would be a write per request; once a minute is enough
# to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Return the row and the plaintext token, which is never stored."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ApplicationError("invalid", "invalid token name", fields={"name": "1 to 100 characters"})
    prefix = secrets.token_hex(6)
    plaintext = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name.strip(), prefix=prefix, digest=_digest(plaintext))
    return token, plaintext


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> None:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise ApplicationError("not_found", "no such active token")


def user_for_token(plaintext: str):
    """The active user owning `plaintext`, or None."""
    parts = plaintext.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != SCHEME or len(plaintext) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(plaintext)) or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- socket tickets ----------------------------------------------------------------
@transaction.atomic
def ws_ticket_issue(*, user) -> str:
    """A single-use pass for one socket of `user`, valid WS_TICKET_SECONDS."""
    plaintext = secrets.token_urlsafe(32)
    WsTicket.objects.create(
        user=user, digest=_digest(plaintext), expires_at=timezone.now() + timedelta(seconds=settings.WS_TICKET_SECONDS)
    )
    return plaintext


def ws_ticket_consume(plaintext: str):
    """The ticket's user, once; None for an unknown, used or expired ticket.

    One UPDATE … WHERE used_at IS NULL: two sockets racing with the same
    ticket cannot both win.
    """
    if not plaintext or len(plaintext) > 100:
        return None
    now = timezone.now()
    with transaction.atomic():
        ticket = WsTicket.objects.filter(digest=_digest(plaintext), used_at__isnull=True, expires_at__gt=now).first()
        if ticket is None or not WsTicket.objects.filter(pk=ticket.pk, used_at__isnull=True).update(used_at=now):
            return None
        # Spent and expired tickets are useless; clear them as we go.
        WsTicket.objects.filter(expires_at__lt=now - timedelta(minutes=5)).delete()
    user = ticket.user
    return user if user.is_active else None
