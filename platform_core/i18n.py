"""Which language and time zone a person reads in.

The order (PRODUCT.md): the user's own choice (`User.language`), then the
tenant's default (`Tenant.language`), then the browser's
`Accept-Language`, then `settings.LANGUAGE_CODE` for clients that state no
preference at all (API integrators, mostly). Times are shown in the
tenant's time zone (`Tenant.time_zone`), UTC on the public host.

`LanguageMiddleware` applies both to every page and API request;
`language_for` is the same choice for code that has no request (a socket
that renders, a mail that is sent).
"""

import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext

from platform_core.errors import ApplicationError


def supported(code: str | None) -> str | None:
    """`code` if it is one of settings.LANGUAGES (or a variant of one,
    "es-MX" → "es"), else None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def language_for(*, user=None, tenant=None, accept_language: str | None = None) -> str:
    """The language `user` of `tenant` reads in; `accept_language` is the
    browser's header when there is one."""
    for choice in (getattr(user, "language", ""), getattr(tenant, "language", "")):
        code = supported(choice)
        if code:
            return code
    if accept_language:
        for code, _quality in translation.trans_real.parse_accept_lang_header(accept_language):
            if code == "*":
                break
            found = supported(code)
            if found:
                return found
    return settings.LANGUAGE_CODE


def language_of(user) -> str:
    """`language_for` a user of the active tenant (its schema must be
    active), for code with no request: a notification rendered for its
    recipient, a mail."""
    return language_for(user=user, tenant=getattr(connection, "tenant", None))


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def time_zone_for(tenant) -> zoneinfo.ZoneInfo:
    name = getattr(tenant, "time_zone", "") or settings.TIME_ZONE
    try:
        return _zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return _zone(settings.TIME_ZONE)


class LanguageMiddleware:
    """After authentication: activate the reader's language and the
    tenant's time zone for this request (Django's LocaleMiddleware reads a
    cookie and the URL, not the user or the tenant)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        language = language_for(
            user=user if user is not None and user.is_authenticated else None,
            tenant=tenant,
            accept_language=request.headers.get("Accept-Language"),
        )
        translation.activate(language)
        request.LANGUAGE_CODE = language
        timezone.activate(time_zone_for(tenant))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        response.headers.setdefault("Content-Language", language)
        if "Accept-Language" not in response.headers.get("Vary", ""):
            vary = response.headers.get("Vary")
            response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
        return response


def language_choice(value) -> str:
    """A language a person may choose: one of settings.LANGUAGES' codes, or
    "" for their tenant's default. ApplicationError("invalid") naming
    `language` for anything else (a number, null, "ES", "es-MX", a list)."""
    codes = [code for code, _name in settings.LANGUAGES]
    if not isinstance(value, str) or value not in ("", *codes):
        raise ApplicationError(
            "invalid",
            gettext("unknown language"),
            fields={"language": gettext("one of %(codes)s, or empty for the default") % {"codes": ", ".join(codes)}},
        )
    return value


def user_language_set(*, user, language) -> str:
    """Store `user`'s own language ("" follows the tenant's default). The
    user's tenant must be active: the row lives in its schema."""
    language = language_choice(language)
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return language
