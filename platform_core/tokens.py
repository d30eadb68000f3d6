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
from django.utils.translation import gettext as _

from platform_core.access import Credential, active_tokens, credential_holds
from platform_core.errors import ApplicationError
from platform_core.models import ApiToken, WsTicket

SCHEME = "pgn"
# Recording every use would be a write per request; once a minute is enough
# to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKEN_DAYS = 3650


@transaction.atomic
def api_token_create(*, user, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Return the row and the plaintext token, which is never stored.

    Only a signed-in browser session may call this (platform_core/account_api.py):
    a token that could mint tokens would outlive its own revocation.
    """
    fields = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        fields["name"] = "1 to 100 characters"
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_TOKEN_DAYS
    ):
        fields["expires_in_days"] = f"an integer from 1 to {MAX_TOKEN_DAYS}, or null for no expiry"
    if fields:
        raise ApplicationError("invalid", _("invalid token"), fields=fields)
    prefix = secrets.token_hex(6)
    plaintext = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        user=user, name=name.strip(), prefix=prefix, digest=_digest(plaintext), expires_at=expires_at
    )
    return token, plaintext


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> None:
    """Revoke one of `user`'s tokens. Sockets opened with its tickets close
    (ws/access.py hears the save)."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user, revoked_at__isnull=True).first()
    if token is None:
        raise ApplicationError("not_found", _("no such active token"))
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


def token_for_plaintext(plaintext: str) -> ApiToken | None:
    """The active (not revoked, not expired) token `plaintext` of an active
    user, with its user loaded; None otherwise."""
    parts = plaintext.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != SCHEME or len(plaintext) > 200:
        return None
    token = active_tokens().select_related("user").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(plaintext)) or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- socket tickets ----------------------------------------------------------------
@transaction.atomic
def ws_ticket_issue(*, user, credential: Credential) -> str:
    """A single-use pass for one socket of `user`, valid WS_TICKET_SECONDS,
    bound to the `credential` that asked for it."""
    plaintext = secrets.token_urlsafe(32)
    WsTicket.objects.create(
        user=user,
        digest=_digest(plaintext),
        expires_at=timezone.now() + timedelta(seconds=settings.WS_TICKET_SECONDS),
        token_id=credential.token_id,
        session_key=credential.session_key or "",
    )
    return plaintext


def ws_ticket_consume(plaintext: str):
    """(user, the credential that asked for the ticket), once; None for an
    unknown, used or expired ticket, or one whose credential no longer holds.

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
    credential = Credential(session_key=ticket.session_key or None, token_id=ticket.token_id)
    if not credential_holds(user_id=ticket.user_id, credential=credential):
        return None
    return ticket.user, credential
