"""The JSON API's edge: authentication, bodies, errors and paging.

Every error answers `{"error": {"code", "message", "fields"}}` with a
status chosen from the code, never an HTML page or a bare 500 for bad
input.
"""

import functools
import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from platform_core.errors import ApplicationError
from platform_core.parsing import BIGINT_MAX, parse_client_int, parse_json
from platform_core.tokens import token_for_plaintext

STATUS_BY_CODE = {
    "invalid_json": 400,
    "bad_request": 400,
    "not_authenticated": 401,
    "missing_signature": 401,
    "bad_signature": 401,
    "stale_timestamp": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "push_unavailable": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "invalid": 422,
    "invalid_transition": 422,
    "critical_kind": 422,
    "rate_limited": 429,
}


def error_response(error: ApplicationError) -> JsonResponse:
    body = {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
    return JsonResponse(body, status=STATUS_BY_CODE.get(error.code, 400))


def api_view(*methods: str):
    """A JSON endpoint for signed-in users: method check, auth, error translation.

    Two ways in: `Authorization: Bearer <token>` (API clients; no CSRF,
    since browsers never add that header on their own), or the session
    cookie (the browser; Django's CSRF check applies to unsafe methods).
    A Bearer header that is wrong is a 401 even if a session exists.
    `request.api_token` is the token used, or None for the session.
    """

    def decorate(view):
        @functools.wraps(view)
        @csrf_exempt  # enforced below for session-authenticated requests only
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error_response(ApplicationError("method_not_allowed", f"use {' or '.join(methods)}"))
                response["Allow"] = ", ".join(methods)
                return response
            authorization = request.headers.get("Authorization", "")
            request.api_token = None
            if authorization:
                scheme, _space, credential = authorization.partition(" ")
                token = token_for_plaintext(credential.strip()) if scheme.lower() == "bearer" else None
                if token is None:
                    response = error_response(
                        ApplicationError("not_authenticated", _("invalid, expired or revoked API token"))
                    )
                    response["WWW-Authenticate"] = "Bearer"
                    return response
                request.user, request.api_token = token.user, token
            elif not request.user.is_authenticated:
                return error_response(ApplicationError("not_authenticated", _("sign in first")))
            elif request.method not in ("GET", "HEAD", "OPTIONS"):
                rejected = _CSRF.process_view(request, None, (), {})
                if rejected is not None:
                    return rejected
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as error:
                return error_response(error)

        wrapper.api_methods = methods  # the OpenAPI test checks them against the document
        return wrapper

    return decorate


_CSRF = CsrfViewMiddleware(lambda request: None)


def session_only(request, what: str) -> None:
    """Refuse `what` to a request signed with an API token: credentials
    (tokens, integration secrets) are minted from a signed-in browser
    session only, so revoking a leaked token ends everything it could do."""
    if request.api_token is not None:
        raise ApplicationError(
            "forbidden", _("%(what)s from a signed-in browser session, not with an API token") % {"what": what}
        )


def read_json(request, *, required: set[str] = frozenset(), optional: set[str] = frozenset()) -> dict:
    """The request body as a JSON object with exactly the `required` keys
    (and any `optional` ones), or an ApplicationError naming each bad field."""
    if declared_length(request) > settings.API_MAX_BODY_BYTES:
        raise ApplicationError("too_large", _too_large())
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise ApplicationError("unsupported_media_type", _("send Content-Type: application/json"))
    try:
        body = request.body
    except RequestDataTooBig:  # a chunked body with no Content-Length, past Django's own cap
        raise ApplicationError("too_large", _too_large()) from None
    if len(body) > settings.API_MAX_BODY_BYTES:
        raise ApplicationError("too_large", _too_large())
    try:
        data = parse_json(body)
    except ValueError as error:
        raise ApplicationError("invalid_json", _("the body is not valid JSON: %(error)s") % {"error": error}) from None
    if not isinstance(data, dict):
        raise ApplicationError("invalid_json", _("the body must be a JSON object"))
    fields = {key: _("unexpected field") for key in set(data) - required - optional}
    fields.update({key: _("required") for key in required - set(data)})
    if fields:
        raise ApplicationError("invalid", _("wrong fields"), fields=fields)
    return data


def _too_large() -> str:
    return _("bodies are limited to %(count)s bytes") % {"count": settings.API_MAX_BODY_BYTES}


def declared_length(request) -> int:
    """The Content-Length a client declared (0 if none); a malformed one is
    as good as too large (the caller refuses it with 413)."""
    try:
        return parse_client_int(request.META.get("CONTENT_LENGTH") or "0", "Content-Length")
    except ApplicationError:
        return BIGINT_MAX


def paginate(request, queryset, serialize) -> dict:
    """`?page=` (from 1) and `?page_size=` (1..API_MAX_PAGE_SIZE) over `queryset`."""
    errors = {}
    try:
        page = parse_client_int(request.GET.get("page", "1"), "page", minimum=1, maximum=10**9)
    except ApplicationError:
        errors["page"] = _("must be a positive integer")
    try:
        page_size = parse_client_int(
            request.GET.get("page_size", str(settings.API_PAGE_SIZE)),
            "page_size",
            minimum=1,
            maximum=settings.API_MAX_PAGE_SIZE,
        )
    except ApplicationError:
        errors["page_size"] = _("must be an integer from 1 to %(max)s") % {"max": settings.API_MAX_PAGE_SIZE}
    if errors:
        raise ApplicationError("bad_request", _("invalid paging"), fields=errors)
    count = queryset.count()
    pages = max(1, math.ceil(count / page_size))
    rows = queryset[(page - 1) * page_size : page * page_size]
    return {
        "results": [serialize(row) for row in rows],
        "count": count,
        "page": page,
        "page_size": page_size,
        "pages": pages,
        "next": page + 1 if page < pages else None,
        "previous": page - 1 if page > 1 else None,
    }


def csrf_failure(request, reason=""):
    """JSON for API calls that fail Django's CSRF check; the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(ApplicationError("csrf_failed", _("CSRF check failed: %(reason)s") % {"reason": reason}))
    from django.views.csrf import csrf_failure as default

    return default(request, reason)
