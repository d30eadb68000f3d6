"""What a long-lived connection was let in with, and whether it still holds.

A socket outlives the request that opened it: the user may be deactivated,
sign out, change their password, or revoke the API token that asked for
the socket's ticket while it is open. Each socket keeps its `Credential`
and asks `credential_holds` again whenever access may have changed
(ws/access.py). The tenant's schema must be active for every function here.
"""

import functools
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from platform_core.models import ApiToken, User
from platform_core.plain_sql import Each, Reads, run, table


@dataclass(frozen=True, slots=True)
class Credential:
    """A browser session (its key), an API token (its id), or both: a
    socket ticket asked for by a token-authenticated client carries the
    token; one asked for from the browser carries the session."""

    session_key: str | None = None
    token_id: int | None = None

    @property
    def session_digest(self) -> str | None:
        return session_digest(self.session_key) if self.session_key else None


def session_digest(session_key: str) -> str:
    """How a session is named in messages between workers: the key itself
    is a credential and never leaves the process."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


DB_SESSIONS = "django.contrib.sessions.backends.db"


def user_for_session(session_key: str):
    """The session's user, or AnonymousUser: Django's `get_user` decision
    (an unexpired session, a listed backend, an active user whose password
    hash still matches, with SECRET_KEY_FALLBACKS), as `_signed_in_user`
    takes it for the sweep and the heartbeat.

    Two plain statements with the database session engine (the product's):
    every socket connect comes here, and Django's session store and two
    ORM queries cost 1.1 ms of CPU per connect against 0.1 ms for these
    (profile in tests/bench/notes.md). Unlike `get_user`, a session that
    no longer verifies is not deleted here: the socket is refused, and the
    next HTTP request, which runs `get_user`, flushes it.
    """
    found = run(read_session(session_key))
    if found is None:
        return AnonymousUser()
    session, user_id = found
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {user_columns()} FROM {table(User)} WHERE id = %s AND is_active", [user_id])
        return session_user(session, cursor.fetchone())


def read_session(session_key: str, schema: str | None = None) -> Reads[tuple[dict, int] | None]:
    """(the decoded session, the id of the user it names) of an unexpired
    session, or None. With the database engine, one plain statement
    (platform_core/plain_sql.py); another engine's store is asked through
    Django, synchronously, so only `run` may drive it then. The user is
    not checked yet: `session_user` does, with the user's row."""
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
    if not store._validate_session_key(session_key) or "\x00" in session_key:
        return None
    if settings.SESSION_ENGINE != DB_SESSIONS:
        return _named_user(session_key, store.load())
    rows = yield Each(_session_sql(schema), {"key": session_key, "now": timezone.now().isoformat()})
    return session_of(session_key, rows[0][0]) if rows else None


@functools.lru_cache(maxsize=1024)
def _session_sql(schema: str | None) -> str:
    """`read_session`'s statement (an `Each`: for every session asked at once)."""
    from django.contrib.sessions.models import Session

    return (
        f"SELECT i.n, s.session_data FROM json_to_recordset(%s::json) AS i(n int, key text, now timestamptz) "
        f"JOIN {table(Session, schema)} s ON s.session_key = i.key AND s.expire_date > i.now"
    )


def session_of(session_key: str, session_data: str) -> tuple[dict, int] | None:
    """`read_session`'s answer for the row it read, decoded once per worker:
    a session's data is signed, so the same data under the same keys
    decodes the same. The dict is shared: read it, never change it."""
    memo = (session_data, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))
    session = _decoded.get(memo)
    if session is None:
        if len(_decoded) >= _MEMORY:
            _decoded.clear()
        from django.contrib.sessions.backends.db import SessionStore

        session = _decoded[memo] = SessionStore().decode(session_data)  # {} when tampered with
    return _named_user(session_key, session)


def known_session_user(session_key: str) -> int | None:
    """The user this worker last found in the session of `session_key`: a
    guess, to read the session's row and the user in one statement. Django
    gives a session a new key at every sign-in, so the guess is right
    unless the session ended; the caller still decides on the row it
    reads. None with another engine than the database's: its sessions have
    no row to read with the rest."""
    if settings.SESSION_ENGINE != DB_SESSIONS:
        return None
    return _users_by_key.get(session_key)


def _named_user(session_key: str, session: dict) -> tuple[dict, int] | None:
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
    except (KeyError, ValueError, ValidationError):
        return None
    if len(_users_by_key) >= _MEMORY:
        _users_by_key.clear()
    _users_by_key[session_key] = user_id
    return session, user_id


# Bounded memories of this worker (cleared when full): decoded sessions by
# their data, and the user each session key named.
_MEMORY = 10_000
_decoded: dict[tuple, dict] = {}
_users_by_key: dict[str, int] = {}


@functools.cache
def user_columns(alias: str = "") -> str:
    """The user's columns, in `USER_FIELDS` order, for a plain statement."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{field.column}"' for field in User._meta.concrete_fields)


USER_FIELDS = [field.attname for field in User._meta.concrete_fields]


def session_user(session: dict, row: tuple | None):
    """The user of `row` (its `user_columns()`, read for an active user) if
    `session` still signs them in, else AnonymousUser."""
    if row is None:
        return AnonymousUser()
    user = User.from_db("default", USER_FIELDS, row)
    return user if _signed_in_user(session, {user.pk: user}) == user.pk else AnonymousUser()


def active_tokens():
    """API tokens that are neither revoked nor expired."""
    return ApiToken.objects.filter(revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def credentials_ended(pairs: list[tuple[int, Credential]]) -> set[tuple[int, Credential]]:
    """Of these (user id, credential) pairs, those whose user is no longer
    active or whose session or token has ended (expired, revoked, deleted).
    Three queries whatever the number of pairs: a worker's periodic sweep
    and its dashboards' heartbeat (ws/access.py, orders/consumers.py) catch
    what no signal announces — expiry, sessions cleared in bulk, users
    deactivated or passwords set with `QuerySet.update()`. A session holds
    as `get_user` decides (`credential_holds`): it names this user, and its
    password hash still matches."""
    from django.contrib.sessions.models import Session

    user_ids = {user_id for user_id, _ in pairs}
    keys = {c.session_key for _, c in pairs if c.session_key}
    token_ids = {c.token_id for _, c in pairs if c.token_id is not None}
    active = {user.pk: user for user in User.objects.filter(pk__in=user_ids, is_active=True)}
    user_of_session: dict[str, int] = {}
    if keys:
        rows = Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        for key, data in rows.values_list("session_key", "session_data"):
            found = session_of(key, data)
            user_id = _signed_in_user(found[0], active) if found else None
            if user_id is not None:
                user_of_session[key] = user_id
    live_tokens = set(active_tokens().filter(pk__in=token_ids).values_list("pk", "user_id") if token_ids else ())
    return {
        (user_id, c)
        for user_id, c in pairs
        if user_id not in active
        or (c.session_key and user_of_session.get(c.session_key) != user_id)
        or (c.token_id is not None and (c.token_id, user_id) not in live_tokens)
        or (not c.session_key and c.token_id is None)
    }


def _signed_in_user(session: dict, active: dict) -> int | None:
    """The id of the active user a decoded session signs in, as Django's
    `get_user` decides (a listed backend, a matching password hash, with
    SECRET_KEY_FALLBACKS), without a query per session."""
    try:
        user = active.get(User._meta.pk.to_python(session[SESSION_KEY]))
        backend = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError, ValidationError):
        return None
    if user is None or backend not in settings.AUTHENTICATION_BACKENDS:
        return None
    given = session.get(HASH_SESSION_KEY)
    if not given:
        return None
    hashes = [user.get_session_auth_hash()] + [
        user._get_session_auth_hash(secret=secret) for secret in settings.SECRET_KEY_FALLBACKS
    ]
    return user.pk if any(constant_time_compare(given, expected) for expected in hashes) else None


def credential_holds(*, user_id: int, credential: Credential) -> bool:
    """Is `user_id` still active, and still signed in by `credential`?"""
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        return False
    if credential.token_id is not None and not active_tokens().filter(pk=credential.token_id, user_id=user_id).exists():
        return False
    if credential.session_key is not None and user_for_session(credential.session_key).pk != user_id:
        return False
    return credential.token_id is not None or credential.session_key is not None
