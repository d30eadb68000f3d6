"""API tokens: create (shown once), revoke, authenticate.

A token reads `pgn_<prefix>_<secret>`. The tenant's schema must be active:
tokens live with their users, so a token of one tenant is unknown on
another.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from platform_core.errors import ApplicationError
from platform_core.models import ApiToken

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
