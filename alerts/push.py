"""Web Push: a user's devices, and the job that pushes a notification to
them (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID; pywebpush
does the encryption). docs/notifications.md, "Web Push".

alerts/offsite.py queues one push `Delivery` per notification and a job
for it, due at once for a user with no socket open, else the tenant's
`push_after_seconds` later. When the job runs, the push is dropped if the
notification was read (or archived) or seen meanwhile, if the user turned
the kind off for push, or if no device is left; otherwise it goes to each
of the user's devices. A push service's 404 or 410 deletes that device.

The browser chooses the endpoint we POST to: only https hosts of the push
services (WEB_PUSH_HOSTS) are accepted, when a device subscribes and again
before every send, with short timeouts and no redirects.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts import offsite, selectors
from alerts.models import Delivery, Notification, PushDevice
from platform_core import jobs, links, vapid
from platform_core.access import Credential, credentials_ended
from platform_core.errors import ApplicationError
from platform_core.i18n import language_of

logger = logging.getLogger(__name__)

MAX_ENDPOINT = PushDevice._meta.get_field("endpoint").max_length
MAX_P256DH = PushDevice._meta.get_field("p256dh").max_length
MAX_AUTH = PushDevice._meta.get_field("auth").max_length
# A push's encrypted payload is at most 4096 bytes (RFC 8291 §4): the text
# is cut to fit whatever its script (4 bytes a character at worst).
MAX_TITLE, MAX_BODY = 200, 500
# Order news is time-sensitive: push services may deliver "normal" later
# to a phone saving battery (RFC 8030 §5.3).
HIGH_URGENCY = frozenset({"order_status", "order_comment", "mention", "board_unattended"})
# How long a VAPID token is valid: push services refuse more than 24 h.
TOKEN_SECONDS = 12 * 3600


def configured() -> bool:
    """Push is on: VAPID keys are set (config/settings.py)."""
    return bool(settings.VAPID_PRIVATE_KEY)


def check_configured() -> None:
    if not configured():
        raise ApplicationError("push_unavailable", _("Web Push is not set up on this server"))


# --- where we POST --------------------------------------------------------------------
def endpoint_refusal(endpoint) -> str | None:
    """Why we will not POST to `endpoint`, or None if it is a push service's
    URL that WEB_PUSH_HOSTS allows."""
    if not isinstance(endpoint, str):
        return "a URL (a string)"
    if len(endpoint) > MAX_ENDPOINT:
        return f"at most {MAX_ENDPOINT} characters"
    if not endpoint.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in endpoint) or "#" in endpoint:
        return "an ASCII URL with no spaces, control characters or fragment"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an https URL"
    if parts.username is not None or parts.password is not None:
        return "a URL with no user name or password"
    if any(_allows(entry, parts.scheme, parts.hostname, port) for entry in settings.WEB_PUSH_HOSTS):
        return None
    if parts.scheme != "https":
        return "an https URL"
    return "not a push service this server sends to (WEB_PUSH_HOSTS)"


def _allows(entry: str, scheme: str, host: str, port: int | None) -> bool:
    """Whether one WEB_PUSH_HOSTS entry (`host`, `*.domain`, `host:port`,
    `http://host:port`) allows this URL's scheme, host (lowercase) and port."""
    entry = entry.strip().lower()
    allowed_scheme = "https"
    for prefix in ("https://", "http://"):
        if entry.startswith(prefix):
            allowed_scheme, entry = prefix[:-3], entry.removeprefix(prefix)
    name, _colon, entry_port = entry.partition(":")
    default = 443 if scheme == "https" else 80
    if scheme != allowed_scheme or (default if port is None else port) != (
        int(entry_port) if entry_port.isdigit() else default
    ):
        return False
    if name.startswith("*."):
        return host.endswith(name[1:]) and len(host) > len(name) - 1
    return host == name


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str  # base64url, unpadded
    auth: str


def check_subscription(data: dict) -> Subscription:
    """A browser's `PushSubscription.toJSON()` (`endpoint`, `keys.p256dh`,
    `keys.auth`, and `expirationTime`, which is ignored), checked:
    ApplicationError("invalid") naming every bad field."""
    errors = {}
    endpoint = data.get("endpoint")
    if refusal := endpoint_refusal(endpoint):
        errors["endpoint"] = refusal
    expiration = data.get("expirationTime")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int | float)):
        errors["expirationTime"] = "null or a number"
    keys = data.get("keys")
    p256dh = auth = ""
    if not isinstance(keys, dict) or set(keys) != {"p256dh", "auth"}:
        errors["keys"] = "an object with p256dh and auth (and nothing else)"
    else:
        p256dh, auth = keys["p256dh"], keys["auth"]
        if refusal := _p256dh_refusal(p256dh):
            errors["keys.p256dh"] = refusal
        if refusal := _auth_refusal(auth):
            errors["keys.auth"] = refusal
    if errors:
        raise ApplicationError("invalid", _("not a push subscription"), fields=errors)
    return Subscription(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))


def _p256dh_refusal(value) -> str | None:
    """The browser's P-256 public key: 65 bytes, base64url, a point on the curve."""
    wanted = "a P-256 public key (65 bytes, uncompressed), base64url"
    if not isinstance(value, str) or len(value) > MAX_P256DH:
        return wanted
    try:
        point = vapid.b64url_decode(value)
        if len(point) != 65:
            return wanted
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return wanted
    return None


def _auth_refusal(value) -> str | None:
    """The browser's auth secret: 16 bytes, base64url (RFC 8291 §3.2)."""
    if not isinstance(value, str) or len(value) > MAX_AUTH:
        return "base64url text of 16 bytes"
    try:
        secret = vapid.b64url_decode(value)
    except ValueError:
        return "base64url text of 16 bytes"
    return None if len(secret) == 16 else "base64url text of 16 bytes"


# --- the job ----------------------------------------------------------------------------
class PushNotSent(Exception):
    """Nothing went out, and the push services may take it later (5xx, 429,
    no connection): the job runs again after its backoff."""


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)  # device ids
    gone: int = 0  # 404/410: deleted
    retry: list[str] = field(default_factory=list)  # what a later try may get through
    refused: list[str] = field(default_factory=list)  # what no retry changes (403, 413…)


def _stale_after() -> timedelta:
    """A delivery `sending` this long belongs to a run that died (longer
    than any run takes: every device's timeouts, twice)."""
    per_device = settings.WEB_PUSH_CONNECT_TIMEOUT + settings.WEB_PUSH_TIMEOUT
    return timedelta(seconds=2 * settings.WEB_PUSH_DEVICES_PER_USER * per_device)


def _take(delivery_id: int) -> Delivery | None:
    """Mark the delivery `sending` and commit, before anything goes out:
    another runner of the same job (a second worker, a run after a lease
    ran out) finds it locked (SKIP LOCKED) or no longer queued, and leaves
    it. One still `sending` long after (its run died midway) is taken
    again: a device may then get it twice, never none."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, channel=Delivery.Channel.PUSH)
            .filter(
                Q(status=Delivery.Status.QUEUED)
                | Q(status=Delivery.Status.SENDING, updated_at__lt=now - _stale_after())
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.status, delivery.updated_at = Delivery.Status.SENDING, now
        delivery.save(update_fields=["status", "updated_at"])
    return delivery


def _release(delivery: Delivery, detail: str) -> None:
    """Queued again, for the job's next try."""
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.QUEUED, detail=detail[:300], updated_at=timezone.now()
    )


def push_given_up(delivery_id: int) -> None:
    """The job's last try failed: the delivery failed (its detail keeps the
    last error)."""
    Delivery.objects.filter(pk=delivery_id, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]).update(
        status=Delivery.Status.FAILED, reason=Delivery.Reason.ERROR, updated_at=timezone.now()
    )


def _still_signed_in(devices: list[PushDevice]) -> list[PushDevice]:
    """The devices whose registering sign-in still holds; the others are
    deleted (three queries, whatever the number of devices). A device
    stored with no credential (by code, not through the API) is bound to
    the account alone."""
    pairs = {
        device.pk: (device.user_id, Credential(device.session_key or None, device.token_id))
        for device in devices
        if device.session_key or device.token_id is not None
    }
    ended = credentials_ended(list(pairs.values())) if pairs else set()
    gone = [pk for pk, pair in pairs.items() if pair in ended]
    if gone:
        PushDevice.objects.filter(pk__in=gone).delete()
    return [device for device in devices if device.pk not in gone]


@jobs.handler(offsite.PUSH_JOB, on_give_up=push_given_up, lane="push")
def push_send(delivery_id: int) -> None:
    """Push one notification to its recipient's devices, or record why not.

    The delivery's tenant is active (the job runs inside it), and no
    transaction is open: the claim must commit before the network call.
    Safe to run twice: a delivery no longer queued is left alone.
    """
    delivery = _take(delivery_id)
    if delivery is None:
        return
    try:
        _deliver(delivery)
    except BaseException as error:
        _release(delivery, f"{type(error).__name__}: {error}")
        raise


def _deliver(delivery: Delivery) -> None:
    notification = Notification.objects.select_related("recipient").get(pk=delivery.notification_id)
    user = notification.recipient
    skipped = Delivery.Status.SKIPPED
    if notification.read_at is not None or notification.archived_at is not None:
        return offsite.settle(delivery, skipped, reason=Delivery.Reason.READ)
    if notification.seen_at is not None:
        return offsite.settle(delivery, skipped, reason=Delivery.Reason.SEEN)
    if not user.is_active:
        return offsite.settle(delivery, skipped, reason=Delivery.Reason.MUTED, detail="account deactivated")
    if not selectors.channel_on(user=user, kind=notification.kind, channel=Delivery.Channel.PUSH):
        return offsite.settle(delivery, skipped, reason=Delivery.Reason.MUTED)
    if not configured():
        return offsite.settle(
            delivery, Delivery.Status.FAILED, reason=Delivery.Reason.ERROR, detail="Web Push is off (no VAPID keys)"
        )
    devices = _still_signed_in(list(PushDevice.objects.filter(user=user).order_by("pk")))
    if not devices:
        return offsite.settle(delivery, skipped, reason=Delivery.Reason.NO_DEVICE)

    outcome = _send(devices, payload(notification), urgency="high" if notification.kind in HIGH_URGENCY else "normal")
    if outcome.sent:
        PushDevice.objects.filter(pk__in=outcome.sent).update(last_sent_at=timezone.now())
        detail = f"sent to {len(outcome.sent)} of {len(devices)} devices"
        return offsite.settle(delivery, Delivery.Status.SENT, detail="; ".join([detail, *outcome.refused]))
    if outcome.retry:
        raise PushNotSent("; ".join(outcome.retry + outcome.refused))
    if outcome.refused:
        return offsite.settle(
            delivery, Delivery.Status.FAILED, reason=Delivery.Reason.ERROR, detail="; ".join(outcome.refused)
        )
    return offsite.settle(delivery, skipped, reason=Delivery.Reason.GONE)


def payload(notification: Notification) -> dict:
    """What the service worker shows (alerts/static/alerts/sw.js): the
    notification in its recipient's language, and the page it opens."""
    with translation.override(language_of(notification.recipient)):
        title, body = notification.rendered()
    return {
        "id": notification.pk,
        "title": _shorten(title, MAX_TITLE),
        "body": _shorten(body, MAX_BODY),
        "url": links.tenant_url(notification.url or reverse("inbox")),
        # One per order on a device: its next news replaces the last.
        "tag": f"order-{notification.order_id}" if notification.order_id else f"notification-{notification.pk}",
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _NoRedirects(requests.Session):
    """A push service answers; it never sends us elsewhere (an endpoint
    that redirected would make us POST to a host nobody checked)."""

    def request(self, method, url, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)


def _send(devices: list[PushDevice], message: dict, *, urgency: str) -> Outcome:
    outcome = Outcome()
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    # Imported here: pywebpush brings aiohttp, half a second at every
    # process start (each web worker, each manage.py) for what only a
    # push job needs.
    from py_vapid import Vapid

    signer = Vapid(private_key=vapid.private_key(settings.VAPID_PRIVATE_KEY))
    with _NoRedirects() as session:
        for device in devices:
            result, detail = _post(session, signer, device, data, urgency)
            if result == "sent":
                outcome.sent.append(device.pk)
            elif result == "gone":
                device.delete()
                outcome.gone += 1
            else:
                getattr(outcome, result).append(detail)
    return outcome


def _post(session, signer, device: PushDevice, data: str, urgency: str) -> tuple[str, str]:
    """POST to one device: ("sent" | "gone" | "retry" | "refused", detail).
    `signer`: a py_vapid Vapid of our key."""
    from py_vapid import VapidException
    from pywebpush import WebPusher, WebPushException

    if refusal := endpoint_refusal(device.endpoint):
        return "refused", f"device {device.pk}: endpoint refused ({refusal})"
    parts = urlsplit(device.endpoint)
    try:
        headers = signer.sign(
            {
                "aud": f"{parts.scheme}://{parts.netloc}",
                "sub": settings.VAPID_SUBJECT,
                "exp": int(time.time()) + TOKEN_SECONDS,
            }
        )
        response = WebPusher(
            {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}},
            requests_session=session,
        ).send(
            data,
            {**headers, "Urgency": urgency},
            ttl=settings.WEB_PUSH_TTL_SECONDS,
            timeout=(settings.WEB_PUSH_CONNECT_TIMEOUT, settings.WEB_PUSH_TIMEOUT),
        )
    except requests.RequestException as error:
        return "retry", f"device {device.pk}: {type(error).__name__}"
    except (WebPushException, VapidException, ValueError) as error:  # keys that cannot encrypt; a claim VAPID refuses
        return "refused", f"device {device.pk}: {error}"[:200]
    status = response.status_code
    if 200 <= status < 300:
        return "sent", ""
    if status in (404, 410):
        return "gone", ""
    answer = f"device {device.pk}: the push service answered {status}"
    if status == 429 or status >= 500:
        return "retry", answer
    logger.warning("push refused: %s %s", answer, response.text[:200])
    return "refused", answer
