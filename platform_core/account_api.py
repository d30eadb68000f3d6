"""A user's own settings and credentials: their language, API tokens and
socket tickets."""

from django.conf import settings
from django.http import JsonResponse

from platform_core.access import Credential
from platform_core.api import api_view, read_json, session_only
from platform_core.i18n import language_for, user_language_set
from platform_core.models import ApiToken
from platform_core.tokens import api_token_create, api_token_revoke, ws_ticket_issue


def _credential(request) -> Credential:
    """What this request signed in with: its API token, else its session."""
    if request.api_token is not None:
        return Credential(token_id=request.api_token.pk)
    return Credential(session_key=request.session.session_key)


@api_view("POST")
def ws_tickets(request):
    """A single-use ticket for `?ticket=` on a socket, bound to this tenant,
    this user and the credential asking: the socket closes when that token
    is revoked or that session ends."""
    ticket = ws_ticket_issue(user=request.user, credential=_credential(request))
    return JsonResponse({"ticket": ticket, "expires_in": settings.WS_TICKET_SECONDS}, status=201)


def _token_json(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": f"pgn_{token.prefix}_…",
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


@api_view("GET", "POST")
def tokens(request):
    if request.method == "GET":
        return JsonResponse(
            {"results": [_token_json(t) for t in ApiToken.objects.filter(user=request.user).order_by("-id")]}
        )
    session_only(request, "create API tokens")
    body = read_json(request, required={"name"}, optional={"expires_in_days"})
    token, plaintext = api_token_create(
        user=request.user, name=body["name"], expires_in_days=body.get("expires_in_days")
    )
    return JsonResponse({**_token_json(token), "token": plaintext}, status=201)


@api_view("DELETE")
def token(request, token_id: int):
    api_token_revoke(user=request.user, token_id=token_id)
    return JsonResponse({"revoked": token_id})


@api_view("GET", "PUT")
def language(request):
    """The user's own language: `{"language": "es"|"en"|""}` ("" follows the
    tenant's default, then the browser's). `effective` is the one pages
    are shown in now."""
    if request.method == "PUT":
        body = read_json(request, required={"language"})
        user_language_set(user=request.user, language=body["language"])
    tenant = getattr(request, "tenant", None)
    effective = language_for(user=request.user, tenant=tenant, accept_language=request.headers.get("Accept-Language"))
    return JsonResponse({"language": request.user.language, "effective": effective})
