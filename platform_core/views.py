import functools
import hashlib
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from django_tenants.utils import tenant_context

from platform_core import limits
from platform_core.errors import ApplicationError
from platform_core.i18n import language_for, supported, user_language_set
from platform_core.middleware import RETRY_AFTER_SECONDS
from platform_core.sign_in import BUSY_MESSAGE, SignInAttempt, SignInBusy

logger = logging.getLogger(__name__)


def tenant_admin_required(view):
    """A page of the tenant admins (/manage/, integrations, announcements):
    anonymous visitors go to sign in, anyone else signed in gets 403."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_tenant_admin):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _in_the_requests_tenant(view):
    """An error page rendered in the request's tenant. Under ASGI Django
    renders error pages on a thread of its own, whose connection is in no
    tenant's schema: the signed-in user (read lazily from the session, a
    tenant table) and the header's links would be looked up in the public
    schema, and a signed-in user would see a signed-out page."""

    def handler(request, exception=None):
        tenant = getattr(request, "tenant", None)  # none for an unknown host
        if tenant is None:
            return view(request, exception)
        with tenant_context(tenant):
            return view(request, exception)

    return handler


permission_denied = _in_the_requests_tenant(defaults.permission_denied)
page_not_found = _in_the_requests_tenant(defaults.page_not_found)


@login_required
def home(request):
    return render(request, "home.html")


def public_home(request):
    return render(request, "public_home.html")


class SignInView(LoginView):
    """Django's sign-in (form errors, `next`, a new session key), with
    attempts counted before any password is checked (platform_core/sign_in.py).
    Over LOGIN_FAILURES_PER_USERNAME or LOGIN_FAILURES_PER_ADDRESS, every
    attempt — even with the right password — gets 429 until the window ends."""

    def post(self, request, *args, **kwargs):
        self.attempt = SignInAttempt.begin(request)
        if self.attempt.refused_for is not None:
            wait = self.attempt.refused_for
            return self._refused(status=429, retry_after=wait, locked_seconds=wait)
        try:
            return super().post(request, *args, **kwargs)
        except SignInBusy:
            self.attempt.give_back()
            return self._refused(status=503, retry_after=RETRY_AFTER_SECONDS, busy=True)

    def form_valid(self, form):
        self.attempt.give_back()  # its own attempt only: failures meanwhile stay counted
        return super().form_valid(form)

    def _refused(self, *, status: int, retry_after: int, **context):
        # An unbound form: a bound one would check the password.
        context = self.get_context_data(form=self.get_form_class()(self.request), **context)
        response = self.response_class(self.request, self.get_template_names(), context, status=status)
        response["Retry-After"] = str(retry_after)
        return response


def admin_sign_in(request, site, extra_context=None):
    """The sign-in of an admin site (/admin/login/), under the same limits."""
    if request.method != "POST":
        return site.login(request, extra_context)
    attempt = SignInAttempt.begin(request)
    if attempt.refused_for is not None:
        message = _("Too many failed sign-ins. Try again in %(seconds)s seconds.") % {"seconds": attempt.refused_for}
        return _plain_refusal(message, status=429, retry_after=attempt.refused_for)
    try:
        response = site.login(request, extra_context)
    except SignInBusy:
        attempt.give_back()
        return _plain_refusal(BUSY_MESSAGE, status=503, retry_after=RETRY_AFTER_SECONDS)
    if response.status_code == 302:  # signed in; the form again means refused (it stays counted)
        attempt.give_back()
    return response


def _plain_refusal(message, *, status: int, retry_after: int) -> HttpResponse:
    response = HttpResponse(
        format_html("<!doctype html><title>{}</title><p>{}</p>", _("Sign in"), message), status=status
    )
    response["Retry-After"] = str(retry_after)
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


@login_required
def language(request):
    """The signed-in person's own language: Español, English, or their
    tenant's default (then their browser's). A form POST, then back here,
    already in the new language."""
    tenant = getattr(request, "tenant", None)
    if request.method == "POST":
        try:
            user_language_set(user=request.user, language=request.POST.get("language"))
        except ApplicationError as error:
            return render(
                request, "registration/language.html", _language_context(request, tenant, error.fields), status=422
            )
        # Activated for this request, so the message reads in the new language.
        translation.activate(language_for(user=request.user, tenant=tenant))
        messages.success(request, _("Saved. Pages are now shown in %(language)s.") % {"language": _current_name()})
        return redirect("account-language")
    return render(request, "registration/language.html", _language_context(request, tenant, {}))


def _current_name() -> str:
    code = translation.get_language()
    return dict(settings.LANGUAGES).get(code, code)


def _language_context(request, tenant, errors: dict) -> dict:
    tenant_language = supported(getattr(tenant, "language", ""))
    if tenant_language:
        default = _("The default of %(company)s (%(language)s)") % {
            "company": tenant.name,
            "language": dict(settings.LANGUAGES)[tenant_language],
        }
    else:
        default = _("My browser's language")
    return {
        # Each language named in itself: a reader lost in the wrong one finds theirs.
        "choices": [("", default), *((code, name) for code, name in settings.LANGUAGES)],
        "chosen": request.user.language,
        "errors": errors,
    }
