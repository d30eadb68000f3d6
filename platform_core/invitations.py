"""People a tenant admin brings in by email: the tenant's account with that
address, or a new one, and a one-time sign-in link for whoever cannot sign
in yet. The tenant's schema must be active.

The link is the one `create_tenant` gives a new tenant's first admin
(provisioning.sign_in_path): Django's password-reset page with its token,
which works once (choosing a password changes what the token covers) and
for PASSWORD_RESET_TIMEOUT. It is mailed after the caller's transaction
commits, when mail is configured; otherwise the caller shows it to the
admin, who passes it on (a deployment that sends no mail can still invite).
"""

from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from platform_core.errors import ApplicationError
from platform_core.mail import send_rendered
from platform_core.provisioning import sign_in_path

EMAIL_RULE = gettext_noop(
    "an email address such as ana@example.com (ASCII letters, digits and @.+-_ only, at most 150 characters)"
)


@dataclass(frozen=True)
class Invitee:
    user: object  # a User of the active tenant's schema
    created: bool
    # Set for a person who has no password yet (new, or made by an
    # integration as a customer): where they choose one.
    sign_in_path: str | None


def normalized_email(email) -> str:
    """The address, trimmed and lowercased, or ApplicationError naming `email`.

    ASCII only: a zero-width or lookalike character would make a second
    account that reads like someone else's. The address also becomes the
    username of a new account, whose rules are narrower than an address's.
    """
    if not isinstance(email, str):
        raise ApplicationError("invalid", _("invalid email"), fields={"email": _(EMAIL_RULE)})
    email = email.strip().lower()
    username_field = get_user_model()._meta.get_field("username")
    try:
        if not email.isascii() or len(email) > username_field.max_length:
            raise ValidationError("not usable")
        validate_email(email)
        username_field.run_validators(email)
    except ValidationError:
        raise ApplicationError("invalid", _("invalid email"), fields={"email": _(EMAIL_RULE)}) from None
    return email


def person_for_email(*, email: str) -> Invitee:
    """The active account with this address (case-insensitive), or a new
    one (username and email the address, no password until they choose one).

    Refused, naming `email`: several active accounts with the address (which
    one is meant is not ours to guess), or only a deactivated one (adding it
    somewhere would not let them in, and reactivating is a separate decision).
    """
    email = normalized_email(email)
    User = get_user_model()
    matching = list(User.objects.filter(email__iexact=email).order_by("pk")[:3])
    active = [user for user in matching if user.is_active]
    if len(active) > 1:
        raise ApplicationError(
            "conflict", _("ambiguous email"), fields={"email": _("several accounts use this address; ask an operator")}
        )
    if active:
        user = active[0]
        return Invitee(user=user, created=False, sign_in_path=None if user.has_usable_password() else _path(user))
    if matching:
        raise ApplicationError("conflict", _("deactivated account"), fields={"email": _("this account is deactivated")})
    if User.objects.filter(username__iexact=email).exists():
        raise ApplicationError(
            "conflict",
            _("username taken"),
            fields={"email": _("another account already has this address as its username")},
        )
    try:
        with transaction.atomic():  # a savepoint: a concurrent invitation of the same address wins
            user = User(username=email, email=email)
            user.set_unusable_password()
            user.save()
    except IntegrityError:
        raise ApplicationError(
            "conflict", _("just invited"), fields={"email": _("being invited right now; try again")}
        ) from None
    return Invitee(user=user, created=True, sign_in_path=_path(user))


def _path(user) -> str:
    return sign_in_path(user=user)


def invitation_send_on_commit(*, email: str, link: str, tenant_name: str, where: str, language: str) -> bool:
    """Mail `link` to `email` once the transaction commits; False when this
    deployment sends no mail (the caller then shows the link instead)."""
    if not settings.EMAIL_CONFIGURED:
        return False
    transaction.on_commit(
        partial(_send, email=email, link=link, tenant_name=tenant_name, where=where, language=language)
    )
    return True


def _send(*, email: str, link: str, tenant_name: str, where: str, language: str) -> None:
    # The membership exists and the admin can send a new link.
    send_rendered(
        subject_template="registration/invitation_subject.txt",
        body_template="registration/invitation_email.txt",
        context={"tenant_name": tenant_name, "where": where, "link": link, "username": email},
        to=email,
        language=language,
        failure=f"could not email an invitation to {tenant_name}'s staff",
    )
