import hashlib
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from platform_core import limits

logger = logging.getLogger(__name__)


@login_required
def home(request):
    return render(request, "home.html")


def public_home(request):
    return render(request, "public_home.html")


def _sign_in_limits(request) -> list[tuple[str, int]]:
    # The username is whatever the client typed: a digest keeps the key short
    # and free of characters PostgreSQL will not store (NUL).
    username = (request.POST.get("username") or "").strip().lower()
    digest = hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()
    address = request.META.get("REMOTE_ADDR") or "unknown"
    return [
        (f"login:username:{digest}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"login:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def _sign_in_lockout(request) -> int | None:
    """Seconds until this username or address may try again, or None."""
    window = settings.LOGIN_WINDOW_SECONDS
    waits = [limits.exceeded(key, limit=limit, window=window) for key, limit in _sign_in_limits(request)]
    return max((wait for wait in waits if wait is not None), default=None)


def _sign_in_failed(request) -> None:
    for key, limit in _sign_in_limits(request):
        limits.hit(key, limit=limit, window=settings.LOGIN_WINDOW_SECONDS)


def _sign_in_succeeded(request) -> None:
    limits.clear(_sign_in_limits(request)[0][0])  # the address keeps its count


class SignInView(LoginView):
    """Django's sign-in, with failed attempts limited per username and per
    client address (LOGIN_FAILURES_PER_*). Over either, every attempt —
    even with the right password — gets 429 until the window ends."""

    def post(self, request, *args, **kwargs):
        wait = _sign_in_lockout(request)
        if wait is not None:
            # An unbound form: a bound one would check the password.
            context = self.get_context_data(form=self.get_form_class()(request), locked_seconds=wait)
            response = self.response_class(request, self.get_template_names(), context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        _sign_in_failed(self.request)
        return super().form_invalid(form)

    def form_valid(self, form):
        _sign_in_succeeded(self.request)
        return super().form_valid(form)


def admin_sign_in(request, site, extra_context=None):
    """The sign-in of an admin site (/admin/login/), under the same limits."""
    if request.method == "POST":
        wait = _sign_in_lockout(request)
        if wait is not None:
            response = HttpResponse(
                f"<!doctype html><title>Too many attempts</title><p>Too many failed sign-ins. "
                f"Try again in {wait} seconds.</p>",
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
    response = site.login(request, extra_context)
    if request.method == "POST" and response.status_code == 200:
        _sign_in_failed(request)  # the form again: the credentials were refused
    elif request.method == "POST" and response.status_code == 302:
        _sign_in_succeeded(request)
    return response


class PasswordResetRequestView(PasswordResetView):
    """Django's "forgot password" form, in the active schema (the tenant of
    the host, so one tenant's form never finds another tenant's user; the
    link in the mail is on the host the form was posted to).

    Requests are limited per email address and per client address
    (PASSWORD_RESETS_PER_*), counted whether or not an account matches.
    Over either, the answer is the usual "check your email" page and nothing
    is sent: like the page itself, which never says whether an account
    exists, it tells whoever asks nothing about an address.
    """

    def form_valid(self, form):
        # A digest: short, and the address stays out of the counters table.
        email = hashlib.sha256(form.cleaned_data["email"].strip().lower().encode()).hexdigest()
        address = self.request.META.get("REMOTE_ADDR") or "unknown"
        window = settings.PASSWORD_RESET_WINDOW_SECONDS
        over = [
            limits.hit(f"reset:email:{email}", limit=settings.PASSWORD_RESETS_PER_EMAIL, window=window),
            limits.hit(f"reset:address:{address}", limit=settings.PASSWORD_RESETS_PER_ADDRESS, window=window),
        ]
        if any(wait is not None for wait in over):
            logger.info("password reset request over its limit (address %s): nothing sent", address)
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
