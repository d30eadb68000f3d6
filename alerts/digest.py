"""E-mail digests: a user's notifications still unread some minutes after
the first of them, in one mail, in the reader's language
(docs/notifications.md, "E-mail digests").

`offsite.queue` writes a queued e-mail Delivery for each notification a
user gets by e-mail. Every EMAIL_DIGEST_POLL_SECONDS one worker runs the
sweep (`jobs.periodic`): in each tenant, every user whose oldest queued
e-mail was made at least the tenant's `email_digest_minutes` ago (by
`clock.now()`) gets one mail listing all of their queued ones that have
waited those minutes and are still unread; younger ones wait for a later
digest (one made seconds ago may yet be read on the site).

At most once per notification: a user's rows are claimed (`sending`) and
committed under the recipient's lock before the mail server is asked, so
two sweeps never mail the same rows. A mail the server refused (or a
server that cannot be reached) was accepted by nobody, so its rows go back
to `queued` and wait, doubling, for a later sweep; after
EMAIL_DIGEST_MAX_ATTEMPTS they are `failed`. A crash between the server
accepting a mail and our commit leaves its rows `sending`: never sent again.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.mail.message import sanitize_address
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import Truncator

from alerts import offsite, selectors
from alerts.models import Delivery, Notification
from platform_core import clock, jobs
from platform_core.i18n import language_for, time_zone_for
from platform_core.provisioning import site_url
from tenants.models import Tenant

logger = logging.getLogger(__name__)

DIGEST_JOB = "alerts.email_digests"
# A digest lists at most this many (the newest), then says how many more
# wait in the inbox; all of them count as sent.
MAX_ITEMS = 50
MAX_BODY_CHARS = 500  # of a comment: the rest is on the order's page
# The longest unsubscribe token we read: ours are under 200 characters.
MAX_TOKEN_LENGTH = 1000

# What became of one user's digest (send_digest).
SENT = "sent"
NOTHING = "nothing"  # nothing due any more, or every row skipped
REFUSED = "refused"  # not made, or the server said no: queued again (failed when out of attempts)
UNREACHABLE = "unreachable"  # no connection to the server: queued again likewise
LOST = "lost"  # the connection broke while sending: perhaps delivered, never sent again


@jobs.periodic(DIGEST_JOB, every=timedelta(seconds=settings.EMAIL_DIGEST_POLL_SECONDS))
def email_digests() -> None:
    jobs.for_each_tenant(send_due_digests)


def _queued_emails():
    return Delivery.objects.filter(channel=Delivery.Channel.EMAIL, status=Delivery.Status.QUEUED)


def _tenant() -> Tenant:
    # Its settings as they are now (an admin may have changed the minutes).
    return Tenant.objects.get(schema_name=connection.schema_name)


def _due(queued, tenant: Tenant):
    """Group `queued` by recipient: the due ones (their oldest queued
    notification made at least the tenant's digest minutes ago, and no
    retry waiting)."""
    now = clock.now()
    cutoff = now - timedelta(minutes=tenant.email_digest_minutes)
    return (
        queued.values("notification__recipient_id")
        .annotate(oldest=Min("notification__created_at"), retry=Max("retry_at"))
        .filter(oldest__lte=cutoff)
        .filter(Q(retry__isnull=True) | Q(retry__lte=now))
    )


def due_recipients(tenant: Tenant) -> list[int]:
    """The ids of the users of `tenant` (the active one) whose digest is due."""
    return sorted(row["notification__recipient_id"] for row in _due(_queued_emails(), tenant))


def send_due_digests() -> int:
    """Send every due digest of the active tenant; return how many mails
    the server accepted. A mail server that cannot be reached ends the
    round: the others' rows stay queued for the next sweep, untouched."""
    tenant = _tenant()
    users = get_user_model().objects.in_bulk(due_recipients(tenant))
    sent = 0
    for user_id in sorted(users):
        outcome = send_digest(users[user_id], tenant=tenant)
        sent += outcome == SENT
        if outcome in (UNREACHABLE, LOST):
            # Each next one would wait for its own timeout (EMAIL_TIMEOUT).
            logger.warning("the mail server is not answering: %s's digests wait", connection.schema_name)
            break
    return sent


@dataclass(frozen=True)
class _Claimed:
    deliveries: list[Delivery]  # now `sending`, their notifications loaded
    email: str


def send_digest(user, *, tenant: Tenant | None = None) -> str:
    """Mail `user` of the active tenant (`tenant`, if the caller has it)
    their queued e-mails, if still due: claim, render, send, record.
    Returns what became of it (SENT…)."""
    tenant = tenant or _tenant()
    claimed = _claim(user, tenant)
    if claimed is None:
        return NOTHING
    ids = [delivery.pk for delivery in claimed.deliveries]
    try:
        message = _message(user, claimed, tenant)
    except Exception as error:  # a bug in a template or a kind's text: keep the rows, retry later
        logger.exception("could not make the e-mail digest of user %s of %s", user.pk, connection.schema_name)
        _retry(ids, error)
        return REFUSED
    backend = mail.get_connection(fail_silently=False)
    try:
        backend.open()
    except Exception as error:
        # Nothing was sent: try again later.
        _retry(ids, error)
        return UNREACHABLE
    try:
        message.connection = backend
        message.send()
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
        # The server answered with an error: it did not take the mail.
        _retry(ids, error)
        return REFUSED
    except Exception as error:
        # The connection broke or timed out mid-conversation: the server may
        # have taken the mail. At most once: never sent again.
        logger.exception("the e-mail digest of user %s of %s may or may not have gone", user.pk, connection.schema_name)
        lost = f"connection lost while sending: {error!r}"
        offsite.settle_many(ids, Delivery.Status.FAILED, reason=Delivery.Reason.ERROR, detail=lost)
        return LOST
    finally:
        try:
            backend.close()
        except Exception:  # the mail was taken (or not) already; QUIT failing changes nothing
            logger.warning("closing the mail connection failed", exc_info=True)
    offsite.settle_many(ids, Delivery.Status.SENT)
    return SENT


def _lock_recipient(user_id: int) -> None:
    """The lock per recipient, until the transaction ends: one sweep at a
    time decides what a user's digest holds. User ids repeat across
    tenants: the key carries the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"alerts.digest:{connection.schema_name}:{user_id}"],
        )


def _claim(user, tenant: Tenant) -> _Claimed | None:
    """Under the recipient's lock: skip what must not go, mark the rest
    `sending`, commit. None when nothing is to be sent."""
    with transaction.atomic():
        _lock_recipient(user.pk)
        queued = _queued_emails().filter(notification__recipient_id=user.pk)
        # Another sweep may have mailed them while this one waited for the lock.
        if not _due(queued, tenant).exists():
            return None
        # Only what has had its minutes: one made seconds ago may yet be read
        # on the site (it waits for a later digest of its own).
        cutoff = clock.now() - timedelta(minutes=tenant.email_digest_minutes)
        deliveries = list(
            queued.filter(notification__created_at__lte=cutoff)
            .select_related("notification")
            .select_for_update(of=("self",))
            .order_by("-notification_id")
        )
        person = get_user_model().objects.filter(pk=user.pk).values("email", "is_active").first()
        email = person["email"] if person and person["is_active"] else ""
        wanted = {kind: entry["channels"]["email"] for kind, entry in selectors.preferences(user=user).items()}
        outcome: dict[tuple[str, str, str], list[int]] = {}
        sending = []
        for delivery in deliveries:
            notification = delivery.notification
            if notification.read_at is not None:  # archiving reads too
                key = (Delivery.Status.SKIPPED, Delivery.Reason.READ, "")
            elif not wanted.get(notification.kind, False):
                key = (Delivery.Status.SKIPPED, Delivery.Reason.MUTED, "")
            elif not email:
                detail = "" if person and person["is_active"] else "account deactivated"
                key = (Delivery.Status.SKIPPED, Delivery.Reason.NO_ADDRESS, detail)
            elif not settings.EMAIL_CONFIGURED:
                key = (Delivery.Status.SKIPPED, Delivery.Reason.NO_EMAIL_SERVICE, "")
            else:
                key = (Delivery.Status.SENDING, Delivery.Reason.NONE, "")
                sending.append(delivery)
            outcome.setdefault(key, []).append(delivery.pk)
        for (status, reason, detail), ids in outcome.items():
            offsite.settle_many(ids, status, reason=reason, detail=detail)
    return _Claimed(deliveries=sending, email=email) if sending else None


def _retry(ids: list[int], error: Exception) -> None:
    """The mail was not taken: each row counts a failed attempt; those out
    of attempts are `failed`, the others queued again, the next try after
    EMAIL_DIGEST_RETRY_SECONDS doubled for each failure so far."""
    detail = repr(error)[:300]
    logger.warning("e-mail digest of %s not sent (%s): will retry", connection.schema_name, detail)
    with transaction.atomic():
        rows = Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING)
        tries = (rows.aggregate(most=Max("attempts"))["most"] or 0) + 1
        rows.filter(attempts__gte=settings.EMAIL_DIGEST_MAX_ATTEMPTS - 1).update(
            status=Delivery.Status.FAILED,
            reason=Delivery.Reason.ERROR,
            detail=detail,
            attempts=F("attempts") + 1,
            retry_at=None,
            updated_at=timezone.now(),
        )
        rows.update(
            status=Delivery.Status.QUEUED,
            detail=detail,
            attempts=F("attempts") + 1,
            retry_at=clock.now() + timedelta(seconds=settings.EMAIL_DIGEST_RETRY_SECONDS * 2 ** (tries - 1)),
            updated_at=timezone.now(),
        )


# --- the mail ----------------------------------------------------------------------
def _message(user, claimed: _Claimed, tenant: Tenant) -> mail.EmailMultiAlternatives:
    """The digest, in `user`'s language, times in the tenant's time zone."""
    domain = tenant.get_primary_domain()
    if domain is None:
        raise LookupError(f"{tenant.schema_name} has no primary domain to link to")
    host = domain.domain
    language = language_for(user=user, tenant=tenant)
    notifications: list[Notification] = [delivery.notification for delivery in claimed.deliveries]
    kinds = sorted({n.kind for n in notifications}, key=Notification.Kind.values.index)
    inbox_url = site_url(domain=host, path=reverse("inbox"))
    # Signed once each (a token carries its time): with one kind, the
    # header's link and the body's are the same link.
    kind_links = {kind: unsubscribe_url(host, user.pk, [kind]) for kind in kinds}
    every_kind_link = kind_links[kinds[0]] if len(kinds) == 1 else unsubscribe_url(host, user.pk, kinds)
    with translation.override(language), timezone.override(time_zone_for(tenant)):
        items = []
        for notification in notifications[:MAX_ITEMS]:
            title, body = notification.rendered()
            body = Truncator(body).chars(MAX_BODY_CHARS)
            items.append(
                {
                    "title": title,
                    "body": body,
                    "body_text": "\n".join(f"  {line}" for line in body.splitlines()),
                    "created_at": notification.created_at,
                    "url": _link(host, notification.url) or inbox_url,
                }
            )
        context = {
            "tenant_name": tenant.name,
            "language": language,
            "items": items,
            "count": len(notifications),
            "more": len(notifications) - len(items),
            "inbox_url": inbox_url,
            "preferences_url": site_url(domain=host, path=reverse("notification-preferences")),
            "kinds": [{"label": Notification.Kind(kind).label, "unsubscribe_url": kind_links[kind]} for kind in kinds],
        }
        subject = "".join(render_to_string("alerts/email/digest_subject.txt", context).splitlines())
        text = render_to_string("alerts/email/digest.txt", context)
        html = render_to_string("alerts/email/digest.html", context)
    message = mail.EmailMultiAlternatives(
        subject,
        text,
        None,
        [claimed.email],
        headers={
            # RFC 2369 and RFC 8058: mail clients show an "unsubscribe"
            # button that posts here; it turns off e-mail for every kind of
            # this digest that can be turned off.
            "List-Unsubscribe": f"<{every_kind_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation replies
            "Content-Language": language,
        },
    )
    message.attach_alternative(html, "text/html")
    # What Django would refuse only once connected (an address it cannot
    # encode) is refused here, before the server is asked anything: once
    # connected, an error means the mail may have gone.
    sanitize_address(claimed.email, message.encoding or settings.DEFAULT_CHARSET)
    message.message()
    return message


def _link(host: str, url: str) -> str:
    """A notification's url (a path on the tenant's host) made absolute;
    "" for anything else."""
    if url.startswith("/") and not url.startswith("//"):
        return site_url(domain=host, path=url)
    return ""


# --- unsubscribe links ---------------------------------------------------------------
def _salt() -> str:
    # A tenant's tokens are worth nothing on another tenant's host, where
    # the same user id is another person.
    return f"alerts.unsubscribe:{connection.schema_name}"


def unsubscribe_token(user_id: int, kinds: list[str]) -> str:
    """A signed token (the active tenant's) that turns off e-mail of `kinds` for a user."""
    return signing.dumps({"u": user_id, "k": list(kinds)}, salt=_salt())


def unsubscribe_url(host: str, user_id: int, kinds: list[str]) -> str:
    path = reverse("email-unsubscribe", kwargs={"token": unsubscribe_token(user_id, kinds)})
    return site_url(domain=host, path=path)


class BadToken(Exception):
    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class Unsubscribe:
    user: object
    kinds: list[str]


def read_unsubscribe_token(token: str) -> Unsubscribe:
    """The user (of the active tenant) and kinds `token` names, or BadToken:
    not ours, tampered with, another tenant's, expired, malformed, or its
    user gone."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken()
    try:
        payload = signing.loads(token, salt=_salt(), max_age=timedelta(days=settings.EMAIL_UNSUBSCRIBE_DAYS))
    except signing.SignatureExpired:
        raise BadToken(expired=True) from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise BadToken() from None
    if not isinstance(payload, dict) or set(payload) != {"u", "k"}:
        raise BadToken()
    user_id, kinds = payload["u"], payload["k"]
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**63:
        raise BadToken()
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise BadToken()
    known = [kind for kind in Notification.Kind.values if kind in kinds]  # a kind since removed is ignored
    user = get_user_model().objects.filter(pk=user_id).first()
    if not known or user is None:
        raise BadToken()
    return Unsubscribe(user=user, kinds=known)
