"""Error reporting to Sentry (or any Sentry-compatible endpoint), and
credentials kept out of log lines.

Each event is tagged with the tenant (set by the HTTP middleware below and
by the socket front door, ws/middleware.py). Nothing secret leaves: no
cookies or user details (send_default_pii off), request fields and headers
named like secrets are filtered by the SDK's scrubber (extended with ours),
and credentials in query strings (`?ticket=`) are blanked before sending.

The same credentials are blanked in every log record (`RedactCredentials`):
uvicorn writes each request line and each socket handshake with its query
string, and socket clients pass their ticket there.
"""

import logging
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

import sentry_sdk
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

# Beyond the SDK's list: our own secret-bearing names.
DENYLIST = DEFAULT_DENYLIST + [
    "credential",
    "plaintext",
    "ticket",
    "webhook-signature",
    "webhook_signature",
    "secret_key",
    "whsec",
]
# Query parameters whose value is a credential: ours (`ticket`), the names
# clients and libraries commonly put secrets under, and Django's session and
# CSRF cookies (a Cookie header in a repr reads `sessionid=…; csrftoken=…`).
CREDENTIAL_PARAMS = frozenset(
    {
        "ticket",
        "token",
        "access_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "signature",
        "password",
        "sessionid",
        "csrftoken",
        "csrfmiddlewaretoken",
    }
)
# Any `name=value` that starts a query string or follows a separator (or a
# quote, space or bracket, as in a repr or a log line). The name is compared
# after percent-decoding: `?%74icket=` is read as `ticket` by the server.
# A value may be a quoted repr (`ticket=b'…'`, from a %r or %s of bytes).
# Only a credential's value is consumed: a quote in another parameter's
# value (`?a=b'&ticket=…&c='`) must not hide the parameters after it.
_PARAM_NAME = re.compile(r"(?:^|(?<=[?&;\s'\"(\[,]))(?P<name>[^=&;\s'\"#?]+)=")
_PARAM_VALUE = re.compile(r"b?'[^']*'|b?\"[^\"]*\"|[^&;\s'\"#]*")
# An Authorization header in a line or a repr of headers (`Authorization:
# Bearer …`, `'HTTP_AUTHORIZATION': '…'`, `(b'authorization', b'…')`): the
# rest of the value, to the closing quote or the end of the line.
_AUTHORIZATION = re.compile(
    r"(?<![a-z])(authorization(?![a-z])['\"]?\s*[:,=]\s*(?:b?['\"])?)[^'\"\r\n]+", re.IGNORECASE
)


def redact_credentials(text: str, mask: str = "[redacted]") -> str:
    """`text` with the value of every credential parameter, and of an
    Authorization header, replaced by `mask`."""
    if "=" in text:
        text = _mask_params(text, mask)
    if "authorization" in text.lower():
        text = _AUTHORIZATION.sub(lambda match: match[1] + mask, text)
    return text


def _mask_params(text: str, mask: str) -> str:
    kept, done = [], 0
    for name in _PARAM_NAME.finditer(text):
        if name.start() < done or unquote_plus(name["name"]).strip().lower() not in CREDENTIAL_PARAMS:
            continue
        value = _PARAM_VALUE.match(text, name.end())
        kept += [text[done : name.end()], mask]
        done = value.end()
    return "".join(kept) + text[done:]


def init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        event_scrubber=EventScrubber(denylist=DENYLIST, recursive=True),
        before_send=_scrub_event,
    )


def _scrub_event(event, hint):
    return _blank(event)


def _blank(value):
    if isinstance(value, str):
        return redact_credentials(value, "[Filtered]")
    if isinstance(value, dict):
        return {key: _blank(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blank(item) for item in value]
    return value


def tag_tenant(schema_name: str) -> None:
    """Tag events of the current request or socket with its tenant."""
    sentry_sdk.set_tag("tenant", schema_name)


class SentryTenantMiddleware:
    """After django-tenants' middleware: tag this request's events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            tag_tenant(tenant.schema_name)
        return self.get_response(request)


class RedactCredentials(logging.Filter):
    """Blank credential query parameters (`ticket=[redacted]`) in a record.

    String arguments are redacted in place, so formatters that read
    `record.args` keep working (uvicorn's access formatter unpacks the
    request line from them). If the formatted message still shows a
    credential (one built by the template itself, or a non-string argument),
    the record is replaced by its redacted text. A traceback is redacted too.
    Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_redact_arg(value) for value in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a broken record: logging reports it itself
            return True
        clean = redact_credentials(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if redact_credentials(text) != text:
                record.exc_text = redact_credentials(text)
        if record.stack_info:
            record.stack_info = redact_credentials(record.stack_info)
        return True


def _redact_arg(value):
    return redact_credentials(value) if isinstance(value, str) else value


_log_filter = RedactCredentials()


def redact_credentials_in_logs() -> None:
    """Put `RedactCredentials` where uvicorn's and our records are written.

    Call after logging is configured: uvicorn configures its own before it
    imports the app, Django applies LOGGING in django.setup(). uvicorn's
    loggers keep their handlers (LOGGING must not name them: dictConfig
    would replace their handlers, and with propagate off they would go
    silent); the filter is added to them and to every handler that writes
    (the root's, uvicorn's), which also covers records of child loggers.
    Idempotent.
    """
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    for filterer in loggers[2:] + [handler for logger in loggers for handler in logger.handlers]:
        if not any(isinstance(existing, RedactCredentials) for existing in filterer.filters):
            filterer.addFilter(_log_filter)


def uvicorn_logs_at(level: str) -> None:
    """uvicorn sets its loggers' level from its own `--log-level` (INFO by
    default) before it imports the app, whatever LOG_LEVEL says: at INFO it
    writes two lines for every socket opened. Make them no chattier than
    LOG_LEVEL (a stricter `--log-level` still holds). Set, not configured:
    LOGGING must not name them (see above)."""
    threshold = logging.getLevelName(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), threshold))
