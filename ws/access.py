"""Access that ends closes the sockets it opened, on every worker, in seconds.

A socket is let in once, by its credential (platform_core/access.py) and
its `authorize`. When something that decided that changes — the user is
deactivated, deleted, or changes their password; a session signs out; an
API token is revoked; a staff membership is removed (stores/signals.py) —
the receivers here publish `AccessChanged` after the commit to every
worker process (one group, `groups.access_control()`). Each worker's
`AccessWatch`, subscribed through its hub, hands it to that user's open
sockets on the worker, which check again (ws/consumers.py): 4401 when the
credential no longer holds, 4403 when the user may no longer see what the
socket shows. A message naming the ended session or token closes its
sockets without asking the database.

Backstops, for what no message announces (a token or session that
expires, sessions cleared in bulk, users deactivated with
`QuerySet.update()`) or a message lost on the way (a Redis blip): every
ACCESS_SWEEP_SECONDS each worker checks the credentials of all its sockets
at once (three queries per tenant, `credentials_ended`); a store socket
also checks at every heartbeat and before a `resume`; a Redis outage
closes every socket anyway (ws/health.py).
"""

import asyncio
import json
import logging
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import connection
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from platform_core.access import credentials_ended, session_digest
from platform_core.models import ApiToken
from ws import events, groups, health
from ws.close_codes import NOT_SIGNED_IN
from ws.db import in_tenant
from ws.hub import hub
from ws.layer import publish_on_commit
from ws.loops import per_event_loop

logger = logging.getLogger(__name__)


def access_changed(*, user_id: int, session_key: str | None = None, token_id: int | None = None) -> None:
    """Tell every worker, once the transaction commits, that `user_id` of the
    active tenant may have lost access. The tenant's schema must be active."""
    frame = events.AccessChanged(
        tenant=connection.schema_name,
        user=int(user_id),
        session=session_digest(session_key) if session_key else None,
        token=token_id,
    )
    publish_on_commit(groups.access_control(), frame)


class AccessWatch:
    """Per worker process: hands access changes to the affected local sockets."""

    # Users whose access changed, remembered this many changes back (for
    # sockets being let in meanwhile: `changed_since`).
    REMEMBERED = 10_000

    def __init__(self):
        self.joined = False
        self.checks: set[asyncio.Task] = set()
        self.sweeper: asyncio.Task | None = None
        self.generation = 0  # access changes heard so far
        self.changed: dict[tuple[str, int], int] = {}  # (schema, user id) → generation of its last change
        self.forgotten_before = 0

    async def join(self) -> None:
        """Subscribe before the first socket opens (cheap after that)."""
        if not self.joined:
            await hub().join(groups.access_control(), self)
            self.joined = True
        if self.sweeper is None and settings.ACCESS_SWEEP_SECONDS > 0:
            self.sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.ACCESS_SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:  # the database may be restarting: the next sweep tries again
                logger.warning("access sweep failed", exc_info=True)

    async def sweep(self) -> None:
        """Close every socket of this worker whose credential has ended."""
        by_tenant = defaultdict(list)
        for socket in list(health.watch().sockets):
            if socket.credential is not None and not socket.closing:
                by_tenant[socket.tenant.schema_name].append(socket)
        for sockets in by_tenant.values():
            ended = await in_tenant(
                sockets[0].tenant, credentials_ended, [(socket.user.pk, socket.credential) for socket in sockets]
            )
            for socket in sockets:
                if (socket.user.pk, socket.credential) in ended and not socket.closing:
                    await socket.revoke(NOT_SIGNED_IN)

    def deliver(self, message: dict) -> None:
        # Called by the hub, which serves every socket of the worker: start
        # the checks, never wait for them here.
        change = json.loads(message["text"])
        key = (change["tenant"], change["user"])
        self.generation += 1
        if len(self.changed) >= self.REMEMBERED:
            self.changed.clear()
            self.forgotten_before = self.generation
        self.changed[key] = self.generation
        for socket in health.watch().sockets_of(key):
            # Hold back what the socket would send from now until it is
            # checked: frames the hub hands over next are parked.
            socket.suspend()
            check = asyncio.create_task(socket.recheck_access(session=change["session"], token=change["token"]))
            self.checks.add(check)
            check.add_done_callback(self.checks.discard)

    def changed_since(self, generation: int, key: tuple[str, int]) -> bool:
        """Did access of `key` (schema, user id) change after `generation`?
        A socket is let in by a read of the database and registered after
        it: a change heard in between reached no socket of the user yet."""
        return generation < self.forgotten_before or self.changed.get(key, 0) > generation


access_watch = per_event_loop(AccessWatch)


# --- what ends access (thin receivers: they only say who) ---------------------------
User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="ws.access.user_before")
def _remember_user(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user, or a sign-in recording its time
    instance._access_before = User.objects.filter(pk=instance.pk).values_list("is_active", "password").first()


@receiver(post_save, sender=User, dispatch_uid="ws.access.user_saved")
def _user_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_access_before", None)
    if not created and before is not None and before != (instance.is_active, instance.password):
        access_changed(user_id=instance.pk)  # deactivated, or a new password ends other sessions


@receiver(post_delete, sender=User, dispatch_uid="ws.access.user_deleted")
def _user_deleted(sender, instance, **kwargs):
    access_changed(user_id=instance.pk)


@receiver(post_save, sender=ApiToken, dispatch_uid="ws.access.token_saved")
def _token_saved(sender, instance, **kwargs):
    if instance.revoked_at is not None:
        access_changed(user_id=instance.user_id, token_id=instance.pk)


@receiver(post_delete, sender=ApiToken, dispatch_uid="ws.access.token_deleted")
def _token_deleted(sender, instance, **kwargs):
    access_changed(user_id=instance.user_id, token_id=instance.pk)


@receiver(user_logged_out, dispatch_uid="ws.access.signed_out")
def _signed_out(sender, request, user, **kwargs):
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key and connection.schema_name != get_public_schema_name():
        access_changed(user_id=user.pk, session_key=session_key)
