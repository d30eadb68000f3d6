"""Pregón settings: everything comes from the environment (django-environ).

With DEBUG on, local defaults fill the gaps so `make run` works on a bare
laptop: an embedded PostgreSQL under ./var/ when DATABASE_URL is unset and
the in-memory channel layer when REDIS_URL is unset. With DEBUG off nothing
secret or stateful has a default: a missing value stops the process.
"""

import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from platform_core import vapid

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name, local_default):
    """Read `name`; only a DEBUG (local) process may fall back to a default."""
    if name in env.ENVIRON:
        return env.str(name)
    if DEBUG:
        return local_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


# The most any count or size below may be: PostgreSQL's LIMIT takes a
# bigint, and 10**23 events per replay page failed every replay with 1011.
# (The statements that carry them, a dashboard's opening among them, read
# them as bigint: a bound of int's is well inside.)
_MOST = 2**31 - 1


def _positive_int(name, default):
    """Read a count or a size that must be a whole number from 1 to _MOST: a
    batch of 0 events or a limit of 0 bytes stops the product when it is
    used, not at startup."""
    try:
        value = env.int(name, default=default)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {env.str(name)!r})") from None
    if not 1 <= value <= _MOST:
        raise ImproperlyConfigured(f"{name} must be from 1 to {_MOST} (got {value})")
    return value


def redis_hosts(env) -> list:
    """The channel layer's `hosts`: one per REDIS_URL (comma-separated: shards),
    or one sentinel-managed master; [] when none is configured."""
    sentinels = env.list("REDIS_SENTINELS", default=[])
    if sentinels:
        if not env.str("REDIS_SENTINEL_MASTER", default=""):
            raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the monitored master's name)")
        pairs = [(host, int(port)) for host, _, port in (entry.rpartition(":") for entry in sentinels)]
        master = {"sentinels": pairs, "master_name": env.str("REDIS_SENTINEL_MASTER")}
        if env.str("REDIS_SENTINEL_PASSWORD", default=""):
            master["password"] = env.str("REDIS_SENTINEL_PASSWORD")
        return [master]
    return env.list("REDIS_URL", default=[])


SECRET_KEY = _required_in_production("SECRET_KEY", "insecure-local-only-key-do-not-deploy")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=["localhost", ".localhost", "127.0.0.1"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Tenancy --------------------------------------------------------------
# Users and sessions are in both lists: the public schema has the operators'
# accounts, each tenant schema has its own users and sessions, so a session
# cookie of one tenant means nothing on another.
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "platform_core",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "channels",
    "csp",  # only for its system checks (a misconfigured policy is an error)
    "ws",
    "demo",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "platform_core",
    "stores",
    "orders",
    "alerts",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
# platform_core before django_tenants: of two apps' commands with one name
# Django runs the first app's, and `create_tenant` must be ours, not
# django-tenants' interactive one. No other command, template or static
# file of the two overlaps.
INSTALLED_APPS.remove("platform_core")
INSTALLED_APPS.insert(0, "platform_core")

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# Issue `SET search_path` only when the schema changes, not before every
# query (it was half of all round trips). django-tenants forgets what it set
# on close, rollback, savepoint rollback and every tenant switch, so a pooled
# connection or the consumers' shared thread never runs in a stale schema.
TENANT_LIMIT_SET_CALLS = True
AUTH_USER_MODEL = "platform_core.User"

MIDDLEWARE = [
    # Outermost, so that every response carries HSTS, CSP and the other
    # security headers (static files, /healthz and the 503 page included),
    # and a plain-HTTP request is redirected before any work is done for it
    # (no tenant lookup, no database). `/healthz` is exempt from the
    # redirect (SECURE_REDIRECT_EXEMPT below).
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "platform_core.middleware.ServiceUnavailableMiddleware",
    "platform_core.middleware.RefuseNulMiddleware",
    "config.health.HealthCheckMiddleware",
    # Static files need no tenant: served before tenant routing.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "platform_core.observability.SentryTenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's language, else the tenant's, else the browser's; the tenant's time zone.
    "platform_core.i18n.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.messages.context_processors.messages",
                "config.navigation.navigation",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

# --- Database -------------------------------------------------------------
if "DATABASE_URL" in env.ENVIRON:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
elif DEBUG:
    from platform_core.embedded_postgres import embedded_database

    DATABASES = {"default": embedded_database(VAR_DIR / "pg")}
else:
    raise ImproperlyConfigured("DATABASE_URL must be set when DEBUG is off")
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Under ASGI every request and every consumer DB call may run on another
# thread; opening a PostgreSQL connection each time cost ~10 ms (measured:
# 8 socket connects/s). Django's psycopg pool keeps them open instead.
if env.bool("DB_POOL", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        # How long a request waits for a connection before it is answered
        # 503 (PostgreSQL down or every connection busy).
        "timeout": env.float("DB_POOL_TIMEOUT", default=5),
        # psycopg_pool retries a failed connect with a doubling delay; after
        # this long it gives up and the next request starts afresh (1 s).
        # Short, so the pool notices a restarted PostgreSQL within seconds.
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=5),
    }
    # Check a pooled connection before handing it out (one round trip), so
    # the first requests after a PostgreSQL restart get fresh connections
    # instead of failing on the dead ones. The sockets' DB threads keep
    # theirs and check only on failure (ws/db.py), so they pay for this
    # only when they take a new one.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_POOL_CHECK", default=True)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Channel layer --------------------------------------------------------
# channels-redis' pub/sub layer: one PUBLISH per group; each worker fans
# out to its own sockets in memory. Nothing is stored in Redis, so a worker
# that is not subscribed misses the message: store streams repair that by
# `seq`, notifications from the inbox on connect (docs/performance.md).
# Its core layer is not supported: it stores a copy per member and drops
# silently above its capacity (measured: docs/performance.md).
# Scaling Redis (docs/operations.md): REDIS_URL may list several servers,
# comma-separated; the layer shards groups over them by a hash of the group
# name (every worker must list the same servers in the same order). For
# failover, REDIS_SENTINELS ("host:port,host:port") and REDIS_SENTINEL_MASTER
# replace REDIS_URL: the layer asks the sentinels for the current master.
# Redis Cluster is not supported by channels-redis.
REDIS_HOSTS = redis_hosts(env)
if REDIS_HOSTS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": REDIS_HOSTS, "prefix": env.str("CHANNEL_LAYER_PREFIX", default="pregon")},
        }
    }
elif DEBUG:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    raise ImproperlyConfigured("REDIS_URL (or REDIS_SENTINELS) must be set when DEBUG is off")

# --- WebSockets -----------------------------------------------------------
# Threads per worker process that run the sockets' database calls
# (ws/db.py); each keeps one pooled connection, so keep this well below
# DB_POOL_MAX (HTTP requests take theirs from the same pool). A connect
# waits on PostgreSQL most of its trip: in the connect bench 8 threads
# opened 44 sockets/s where 4 opened 13, in the same minute.
WS_DB_THREADS = _positive_int("WS_DB_THREADS", 8)
# Connections per worker on which dashboards read, on the event loop, what
# they open with (ws/reads.py): outside the pool, so size PostgreSQL's
# max_connections as workers × (DB_POOL_MAX + this).
WS_DB_READ_CONNECTIONS = _positive_int("WS_DB_READ_CONNECTIONS", 2)
# Their statements prepared (planned once per connection): off for a
# pooler that cannot keep prepared statements (PgBouncer < 1.21 in
# transaction mode).
DB_READ_PREPARE = env.bool("DB_READ_PREPARE", default=True)
# How long one of those reads may run (waiting on a lock included) before
# the socket is told 1013, try again later.
WS_DB_READ_TIMEOUT_SECONDS = env.float("WS_DB_READ_TIMEOUT_SECONDS", default=3)
# How long a worker trusts its own record of which tenant a host name
# serves (ws/middleware.py). A Domain or Tenant saved or deleted in this
# process is honoured at once; one changed by another process (another
# worker, the admin host, a command) within this many seconds.
TENANT_CACHE_SECONDS = env.float("TENANT_CACHE_SECONDS", default=5)
# Each worker sends through its channel layer this often; after two failed
# sends (an error, or no answer within the timeout: a hung Redis) it closes
# its sockets with 1013 and refuses new ones until a send succeeds
# (ws/health.py). Slowness under load is not failure: keep the timeout long.
LAYER_CHECK_SECONDS = env.float("LAYER_CHECK_SECONDS", default=2)
LAYER_CHECK_TIMEOUT = env.float("LAYER_CHECK_TIMEOUT", default=30)
# Each socket's outgoing queue (ws/outbox.py): a client more than this far
# behind, or one whose pending write waits longer than the timeout, is
# closed with 4408 and resumes by seq; no other socket waits for it.
WS_OUTBOX_FRAMES = _positive_int("WS_OUTBOX_FRAMES", 1000)
WS_OUTBOX_BYTES = _positive_int("WS_OUTBOX_BYTES", 4 * 1024 * 1024)
WS_SEND_TIMEOUT_SECONDS = env.float("WS_SEND_TIMEOUT_SECONDS", default=10)
# A publish after commit gives up after this long (reported, never raised):
# a hung Redis must not hold the request that committed. Clients recover
# the event from the database (`seq`, unread replay). A fan-out batch
# (announcements, from the job loop) has the second budget as a whole.
PUBLISH_TIMEOUT_SECONDS = env.float("PUBLISH_TIMEOUT_SECONDS", default=1)
PUBLISH_BATCH_TIMEOUT_SECONDS = env.float("PUBLISH_BATCH_TIMEOUT_SECONDS", default=10)
# Keep in step with uvicorn's --ws-max-size in the Procfile and Makefile.
WS_MAX_MESSAGE_BYTES = _positive_int("WS_MAX_MESSAGE_BYTES", 65536)
# Store streams: how often an idle dashboard socket hears the latest `seq`
# and each worker refreshes its presence rows (all at once); a presence row
# not refreshed for PRESENCE_TTL_SECONDS (a dead worker's) no longer counts.
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=25)
PRESENCE_TTL_SECONDS = env.float("PRESENCE_TTL_SECONDS", default=STREAM_HEARTBEAT_SECONDS * 3)
# Each worker writes the presence changes of this long in one batch (a
# user's first socket on a store, or their last one closing): a reconnect
# storm costs a few statements, not one per socket (stores/presence.py).
PRESENCE_FLUSH_SECONDS = env.float("PRESENCE_FLUSH_SECONDS", default=0.05)
# Every this often each worker checks the credentials of all its sockets at
# once and closes those that ended unannounced (an expired token or session).
ACCESS_SWEEP_SECONDS = env.float("ACCESS_SWEEP_SECONDS", default=60)
# Events read from the database per query when replaying a stream, and the
# most text one such page holds (UTF-8 bytes; a page has at least one event
# whatever its size). A page is held in memory until it is sent: 500 events
# of 180 KB each were 90 MB per replaying socket.
STREAM_REPLAY_BATCH = _positive_int("STREAM_REPLAY_BATCH", 500)
STREAM_REPLAY_PAGE_BYTES = _positive_int("STREAM_REPLAY_PAGE_BYTES", 1024 * 1024)
# A store frame that arrives before an earlier one (two commits published by
# two threads) waits this long for it in the worker's hub, so sockets get
# both in order instead of each reading the hole from the database.
STREAM_REORDER_SECONDS = env.float("STREAM_REORDER_SECONDS", default=0.05)
# How often each worker checks that no open bell missed a live push
# (alerts.consumers.BellWatch: one small query per tenant); 0 turns it off.
NOTIFICATIONS_HEARTBEAT_SECONDS = env.float("NOTIFICATIONS_HEARTBEAT_SECONDS", default=15)
# How many unread notifications the connect frame carries at most.
NOTIFICATIONS_ON_CONNECT = env.int("NOTIFICATIONS_ON_CONNECT", default=50)
# Read notifications older than this are deleted by `prune_notifications`.
NOTIFICATION_RETENTION_DAYS = env.float("NOTIFICATION_RETENTION_DAYS", default=90)

# --- Limits (docs/reliability.md) ---------------------------------------------
# Client messages per socket: a token bucket; over it, a message is dropped
# and answered with a `rate_limited` error frame.
WS_MESSAGES_PER_SECOND = env.float("WS_MESSAGES_PER_SECOND", default=10)
WS_MESSAGE_BURST = _positive_int("WS_MESSAGE_BURST", 20)
# Open sockets per user, per worker process; one more is closed with 4429.
SOCKETS_PER_USER = _positive_int("SOCKETS_PER_USER", 20)
# Verified webhook requests per integration per minute, across all workers: 429.
WEBHOOK_REQUESTS_PER_MINUTE = env.int("WEBHOOK_REQUESTS_PER_MINUTE", default=3000)
# Webhook requests that fail before their signature is verified (unknown
# integration, too large, bad signature), per client address per minute;
# over it, every webhook request from that address is 429 until the minute ends.
WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE = env.int("WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE", default=60)
# Failed sign-ins per username and per client address, per window: 429.
LOGIN_FAILURES_PER_USERNAME = env.int("LOGIN_FAILURES_PER_USERNAME", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_WINDOW_SECONDS = env.int("LOGIN_WINDOW_SECONDS", default=900)
# Passwords checked at once per worker process (platform_core/sign_in.py);
# twice as many sign-ins are let into Django at once, the others wait in the
# event loop. Each check is ~0.4 s of CPU and holds no database connection;
# keep this well below DB_POOL_MAX and near the cores a worker has, so a
# burst of sign-ins leaves CPU and connections to everyone else. A sign-in
# that waits longer than SIGN_IN_QUEUE_SECONDS for its turn is answered 503.
SIGN_IN_CONCURRENCY = _positive_int("SIGN_IN_CONCURRENCY", 4)
SIGN_IN_QUEUE_SECONDS = env.float("SIGN_IN_QUEUE_SECONDS", default=30)

# --- Deferred jobs (scheduled announcements, expiries) ------------------------
JOBS_IN_WEB = env.bool("JOBS_IN_WEB", default=True)  # run the job loop in each web worker
JOBS_POLL_SECONDS = env.float("JOBS_POLL_SECONDS", default=1)
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=300)
# A failed job runs again after JOB_RETRY_SECONDS × 2^(attempts − 1), at most
# JOB_MAX_ATTEMPTS times in all (platform_core/jobs.py).
JOB_RETRY_SECONDS = env.float("JOB_RETRY_SECONDS", default=10)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=5)
# E-mail digests (docs/notifications.md, "E-mail digests"): how often the
# sweep looks for users whose unread notifications are due (each tenant's
# email_digest_minutes after the first); a digest the mail server refused
# is tried again after EMAIL_DIGEST_RETRY_SECONDS, doubling, at most
# EMAIL_DIGEST_MAX_ATTEMPTS times in all; an unsubscribe link in a mail
# works for EMAIL_UNSUBSCRIBE_DAYS.
EMAIL_DIGEST_POLL_SECONDS = env.float("EMAIL_DIGEST_POLL_SECONDS", default=60)
EMAIL_DIGEST_RETRY_SECONDS = env.float("EMAIL_DIGEST_RETRY_SECONDS", default=60)
EMAIL_DIGEST_MAX_ATTEMPTS = env.int("EMAIL_DIGEST_MAX_ATTEMPTS", default=6)
EMAIL_UNSUBSCRIBE_DAYS = env.int("EMAIL_UNSUBSCRIBE_DAYS", default=180)
# Tests only: the deferred-work clock runs this far ahead (platform_core/clock.py).
CLOCK_OFFSET_SECONDS = env.float("CLOCK_OFFSET_SECONDS", default=0)

# --- JSON API -----------------------------------------------------------------
# Request bodies, enforced at the ASGI edge before Django reads them
# (platform_core/body_limits.py, routes in config/asgi.py): over the limit,
# declared or streamed, is 413 after reading at most the limit.
API_MAX_BODY_BYTES = _positive_int("API_MAX_BODY_BYTES", 65536)
# Signed webhooks are applied in batches (orders/integrations/batch.py):
# up to WEBHOOK_BATCH_SIZE requests per transaction, so one disk flush
# serves many; a request that finds no batch running waits
# WEBHOOK_BATCH_WAIT_MS for others to join. WEBHOOK_BATCHING=false answers
# each through Django, one transaction each.
WEBHOOK_BATCHING = env.bool("WEBHOOK_BATCHING", default=True)
# Each request of a batch is a savepoint (a subtransaction): PostgreSQL
# caches 64 per backend and past that every snapshot of every session
# consults pg_subtrans, so K stays well under 64.
WEBHOOK_BATCH_SIZE = _positive_int("WEBHOOK_BATCH_SIZE", 32)
WEBHOOK_BATCH_WAIT_MS = env.float("WEBHOOK_BATCH_WAIT_MS", default=1)
# Batches run side by side in this many lanes per worker (a store always in
# the same lane), each with its own thread and database connection.
WEBHOOK_BATCH_LANES = _positive_int("WEBHOOK_BATCH_LANES", 1)
WEBHOOK_MAX_BODY_BYTES = _positive_int("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
FORM_MAX_BODY_BYTES = _positive_int("FORM_MAX_BODY_BYTES", 1024 * 1024)  # /accounts/, /admin/
DEFAULT_MAX_BODY_BYTES = _positive_int("DEFAULT_MAX_BODY_BYTES", 16384)  # any other path
WEBHOOK_LOG_RETENTION_DAYS = env.float("WEBHOOK_LOG_RETENTION_DAYS", default=30)
WS_TICKET_SECONDS = env.int("WS_TICKET_SECONDS", default=30)
API_PAGE_SIZE = 25
API_MAX_PAGE_SIZE = 100
CSRF_FAILURE_VIEW = "platform_core.api.csrf_failure"

# --- Auth -----------------------------------------------------------------
# Django's ModelBackend, but a password is never checked while holding a
# pooled database connection (platform_core/sign_in.py). ModelBackend stays
# listed only because sessions made before name it (Django signs out a
# session whose backend is not listed); it never checks a password, since
# SignInBackend answers every sign-in first.
AUTHENTICATION_BACKENDS = ["platform_core.sign_in.SignInBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Password reset requests (docs/operations.md), per hour, counted in the
# tenant's schema. Over either, the form answers as usual and sends nothing.
PASSWORD_RESETS_PER_EMAIL = env.int("PASSWORD_RESETS_PER_EMAIL", default=5)
PASSWORD_RESETS_PER_ADDRESS = env.int("PASSWORD_RESETS_PER_ADDRESS", default=20)
PASSWORD_RESET_WINDOW_SECONDS = 3600

# --- Email (docs/operations.md) ---------------------------------------------
# EMAIL_URL: smtp://user:pass@host:587, smtp+tls://…, smtp+ssl://…,
# consolemail:// … (django-environ). A local run without it prints mail to
# the console, so `make run` shows the password-reset link. A production
# process without it sends no mail at all: the "forgot password" pages are
# not routed (config/urls.py) rather than accepting requests that go nowhere.
# The URL itself is not kept as a setting: it holds the SMTP password, and
# Django's debug page hides EMAIL_HOST_PASSWORD but would show EMAIL_URL.
if env.str("EMAIL_URL", default=""):
    # Only the EMAIL_* keys: the parser also returns OPTIONS (from a query
    # string), which is not an email setting.
    globals().update({k: v for k, v in env.email_url("EMAIL_URL").items() if k.startswith("EMAIL_")})
    EMAIL_CONFIGURED = True
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    EMAIL_CONFIGURED = True
else:
    # Nothing sends without EMAIL_CONFIGURED; should something try, it is a
    # no-op rather than a connection to localhost:25.
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    EMAIL_CONFIGURED = False
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Pregón <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Django waits forever on a silent SMTP server by default; a request would hang.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Web Push (docs/notifications.md, "Web Push") ---------------------------
# The VAPID pair that signs every push (RFC 8292), base64url: the private
# key's 32 bytes, and the public key browsers subscribe with (derived from
# the private one when unset; refused if it does not match). VAPID_SUBJECT
# is a mailto: or https: contact for the push services. `python manage.py
# vapid_keys` prints a new pair. Unset, push is off (the bell says so) and
# nothing stops. A DEBUG run reads the pair `make run` wrote once under
# var/, unless the environment sets one.
_local_vapid = {} if not DEBUG or "VAPID_PRIVATE_KEY" in env.ENVIRON else vapid.read_env_file(VAR_DIR / "vapid.env")
try:
    VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY, VAPID_SUBJECT = vapid.checked(
        env.str("VAPID_PRIVATE_KEY", default=_local_vapid.get("VAPID_PRIVATE_KEY", "")),
        env.str("VAPID_PUBLIC_KEY", default=_local_vapid.get("VAPID_PUBLIC_KEY", "")),
        env.str("VAPID_SUBJECT", default=_local_vapid.get("VAPID_SUBJECT", "mailto:admin@localhost" if DEBUG else "")),
    )
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
# We POST to whatever endpoint a browser's subscription names: only https
# hosts of the push services are accepted, when a device subscribes and
# again when we send. `*.example.com` is any subdomain of it; `host:port`
# that port only; `http://host:port` allows plain http there (tests' local
# push service, never a real one).
WEB_PUSH_HOSTS = env.list(
    "WEB_PUSH_HOSTS",
    default=[
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.services.mozilla.com",
        "*.notify.windows.com",
        "web.push.apple.com",
        "*.push.apple.com",
    ],
)
# Connecting to a push service, and waiting for its answer, per device.
WEB_PUSH_CONNECT_TIMEOUT = env.float("WEB_PUSH_CONNECT_TIMEOUT", default=5)
WEB_PUSH_TIMEOUT = env.float("WEB_PUSH_TIMEOUT", default=10)
# How long a push service keeps a push for a device that is off (RFC 8030 TTL).
WEB_PUSH_TTL_SECONDS = env.int("WEB_PUSH_TTL_SECONDS", default=24 * 3600)
# Devices per user; registering one more deletes the oldest.
WEB_PUSH_DEVICES_PER_USER = env.int("WEB_PUSH_DEVICES_PER_USER", default=10)

# --- Links in mail and on the command line --------------------------------
# A request knows its own scheme and host; a command (create_tenant) does
# not, so links it prints are built as SITE_URL_SCHEME://<domain>[:SITE_URL_PORT]/….
# Locally that is http on the port `make run` serves; in production https
# on the default port, behind the proxy that terminates TLS.
SITE_URL_SCHEME = env.str("SITE_URL_SCHEME", default="http" if DEBUG else "https")
_site_port = env.str("SITE_URL_PORT", default=env.str("PORT", default="8000") if DEBUG else "")
SITE_URL_PORT = int(_site_port) if _site_port else None  # an empty SITE_URL_PORT means none

# --- HTTPS and security headers (docs/reliability.md, "Production headers") ---
# Behind a TLS-terminating proxy, uvicorn is started with --proxy-headers
# and --forwarded-allow-ips (Procfile): for a request from a trusted proxy
# it takes the scheme from X-Forwarded-Proto into the ASGI scope, which is
# what Django's request.is_secure() reads. So the redirect and HSTS work
# behind a proxy with no SECURE_PROXY_SSL_HEADER, and a client that is not
# a trusted proxy cannot claim HTTPS by sending the header itself.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe health over plain HTTP by the instance's address,
# which no redirect could serve (it is in no ALLOWED_HOSTS).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# One year once deployed; never on a DEBUG run, whose browser would then
# refuse plain http://localhost for a year.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
# Tenants are subdomains of the public host (acme.example.com under
# example.com) and are served by this same app over the same TLS, so the
# public host's HSTS should protect a first visit to any tenant. Turn it off
# only if the public host's domain has other subdomains that are not HTTPS.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading puts the domain into browsers' built-in lists, which takes
# months to undo: the operator's decision for their domain, not a default.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if "SECURE_PROXY_SSL_HEADER" in env.ENVIRON:
    # Only for a server in front that does not set the ASGI scheme itself
    # (see above), and only if the proxy always overwrites the header:
    # Django then trusts it from any client. "HTTP_X_FORWARDED_PROTO,https".
    SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER")
SILENCED_SYSTEM_CHECKS = [
    # W021: SECURE_HSTS_PRELOAD is off by default (above); an operator who
    # opts in with SECURE_HSTS_PRELOAD=true gets the preload directive.
    "security.W021",
]

# Content-Security-Policy (django-csp), on every host and in DEBUG too, so
# the browser tests run under it: no inline script or style anywhere (the
# pages load their JS and CSS from /static/), no eval. `connect-src 'self'`
# also allows ws:// and wss:// to the page's own host (CSP 3), which is
# where the pages' sockets go.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- I18n / static ----------------------------------------------------------
# Spanish first for people (a tenant's default, a user's choice, the
# browser's); English when a client states no preference at all (API
# integrators, curl). platform_core/i18n.py chooses per request.
LANGUAGE_CODE = "en"
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from the apps' static folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# WhiteNoise streams files with sync iterators; under ASGI Django warns on
# every static response. The files are small and the warning is noise.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logging: everything to stdout, one line per record ---------------------
# Credentials in URLs (`?ticket=`) are blanked in every record written here;
# config/asgi.py adds the same filter to uvicorn's own loggers, which this
# dict must not name (platform_core/observability.py says why).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# When LOG_LEVEL is set, uvicorn's own loggers are no chattier than it
# (config/asgi.py): at INFO they write two lines per socket opened,
# "[accepted]" and "connection open". Unset, uvicorn's `--log-level` rules
# them alone (`--log-level trace` for debugging a handshake).
UVICORN_LOG_CEILING = LOG_LEVEL if "LOG_LEVEL" in env.ENVIRON else None
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_credentials": {"()": "platform_core.observability.RedactCredentials"}},
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["redact_credentials"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

# --- Sentry -----------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from platform_core import observability

    observability.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
