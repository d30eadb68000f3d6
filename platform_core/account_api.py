"""A user's own credentials for other clients: API tokens and socket tickets."""

from django.conf import settings
from django.http import JsonResponse

from platform_core.api import api_view, read_json
from platform_core.models import ApiToken
from platform_core.tokens import api_token_create, api_token_revoke, ws_ticket_issue


@api_view("POST")
def ws_tickets(request):
    """A single-use ticket for `?ticket=` on a socket, bound to this tenant and user."""
    return JsonResponse(
        {"ticket": ws_ticket_issue(user=request.user), "expires_in": settings.WS_TICKET_SECONDS}, status=201
    )


def _token_json(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": f"pgn_{token.prefix}_…",
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


@api_view("GET", "POST")
def tokens(request):
    if request.method == "GET":
        return JsonResponse({"results": [_token_json(t) for t in ApiToken.objects.filter(user=request.user).order_by("-id")]})
    token, plaintext = api_token_create(user=request.user, name=read_json(request, required={"name"})["name"])
    return JsonResponse({**_token_json(token), "token": plaintext}, status=201)


@api_view("DELETE")
def token(request, token_id: int):
    api_token_revoke(user=request.user, token_id=token_id)
    return JsonResponse({"revoked": token_id})
