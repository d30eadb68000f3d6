import sys

from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse

from platform_core.availability import is_outage

RETRY_AFTER_SECONDS = 5


class ServiceUnavailableMiddleware:
    """Answer 503 "try again", not 500, while PostgreSQL or Redis is down.

    Outermost but for the security headers (SecurityMiddleware and the
    CSP, which never fail on an outage, and so put their headers on this
    answer too). Django turns an exception raised anywhere
    inside (the tenant lookup, a view, a session save) into a 500 response
    before it gets here; `got_request_exception` (below) keeps the exception
    on the request, so an outage can be told apart from a bug. Nothing was
    committed by the failed request, so retrying it is safe.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = getattr(request, "pregon_exception", None)
        if response.status_code == 500 and error is not None and is_outage(error):
            return unavailable(request)
        return response


@receiver(got_request_exception)
def _keep_exception(sender, request=None, **kwargs):
    if request is not None:
        request.pregon_exception = sys.exc_info()[1]


def unavailable(request) -> HttpResponse:
    message = "Pregón is briefly unavailable (a database or Redis restart); retry in a few seconds."
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "unavailable", "message": message, "fields": {}}}, status=503)
    else:
        response = HttpResponse(f"<!doctype html><title>Try again shortly</title><p>{message}</p>", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class RefuseNulMiddleware:
    """A 400 for a NUL character anywhere in the path or the query string;
    a cookie holding one is dropped.

    PostgreSQL cannot store or compare text holding NUL: a filter like the
    admin's `?type__exact=%00` reached the database and became a 500.
    Forms already refuse NUL (Django's ProhibitNullCharactersValidator);
    JSON bodies do in platform_core.parsing. No legitimate client sends one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or "\x00" in value for key, value in request.COOKIES.items()):
            # A quoted cookie may spell NUL ("…\000"), which Django decodes:
            # the session's query would then fail in PostgreSQL. No cookie
            # we set holds one: read the request as if it had not come.
            request.COOKIES = {k: v for k, v in request.COOKIES.items() if "\x00" not in k and "\x00" not in v}
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            message = "NUL characters are not allowed in the address"
            if request.path.startswith("/api/"):
                return JsonResponse({"error": {"code": "bad_request", "message": message, "fields": {}}}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
