"""What the e-mail digest tests share (tests/alerts/test_email_*.py): the
digest's timing, a customer's address, a sweep at a moved clock, a mail's
text."""

from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from platform_core import clock, jobs

MINUTES = 10  # Tenant.email_digest_minutes' default
DUE = MINUTES * 60 + 1  # seconds: just past it


def give_address(cast, email: str, **fields) -> None:
    """Set the cast's customer's address (and other fields), in their tenant."""
    with tenant_context(cast.tenant):
        get_user_model().objects.filter(pk=cast.customer.pk).update(email=email, **fields)
        cast.customer.refresh_from_db()


def sweep(seconds: float, tenant=None) -> int | None:
    """One sweep `seconds` from now, in `tenant` (how many mails went), or
    in every tenant as the periodic job does (None)."""
    from alerts import digest

    with clock.travel(seconds):
        if tenant is None:
            jobs.for_each_tenant(digest.send_due_digests)
            return None
        with tenant_context(tenant):
            return digest.send_due_digests()


def text(mail) -> str:
    """A received mail's plain-text part, its lines ended as Python's are."""
    return mail.body.replace("\r\n", "\n")
