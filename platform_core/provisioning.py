"""New tenants that can be used at once: the tenant, its schema, its domain
and its first tenant admin, who gets a one-time sign-in link.

`tenant_provision` is the one way to do it; the `create_tenant` command and
the operators' admin call it. It lives here, not in `tenants/`, because it
creates a user (platform_core) and `tenants` imports nothing above it.
"""

import re
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http.request import validate_host
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists, tenant_context

from platform_core.errors import ApplicationError
from platform_core.i18n import language_for
from platform_core.mail import send_rendered
from platform_core.models import User
from tenants.models import Domain, Tenant, validate_time_zone

# Lowercase only, so the name needs no quoting and cannot collide with
# another in case alone; PostgreSQL keeps 63 bytes and reserves "pg_".
SCHEMA_NAME = re.compile(r"(?!pg_)[a-z][a-z0-9_]{0,62}")
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True)
class Provisioned:
    tenant: Tenant
    domain: Domain
    # A row of the tenant's schema: query through it only inside tenant_context(tenant).
    admin: User
    # Lets the admin choose a password, once (see sign_in_link).
    sign_in_link: str


def tenant_provision(
    *, schema: str, name: str, domain: str, admin_email: str, language: str = "", time_zone: str = "UTC"
) -> Provisioned:
    """Create a tenant, its schema (migrated), its primary domain, and its
    first tenant admin, and return a one-time sign-in link for that admin.

    The admin's username is their email address (lowercased); they are a
    tenant admin and staff of the tenant's own /admin/, never a superuser,
    and have no password until they choose one from the link. When email is
    configured, the link is also mailed to them once the caller's
    transaction commits (a failed send is logged; the link is still
    returned).

    Switches to the public schema itself. Creating the schema runs every
    tenant migration: seconds, not milliseconds. Input is checked before
    anything is created; a failure after the schema exists removes it and
    its rows again.

    Raises ApplicationError("invalid", fields={...}) naming each bad field
    among schema, name, domain and admin_email.
    """
    with schema_context(get_public_schema_name()):
        schema, name, domain, admin_email = tenant_provision_check(
            schema=schema, name=name, domain=domain, admin_email=admin_email, language=language, time_zone=time_zone
        )
        tenant = Tenant(schema_name=schema, name=name, language=language, time_zone=time_zone)
        tenant.save(verbosity=0)  # creates and migrates the schema (django-tenants)
        try:
            # A savepoint: should this fail inside a caller's transaction,
            # the transaction stays usable for removing the schema.
            with transaction.atomic():
                primary = Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
                with tenant_context(tenant):
                    admin = get_user_model().objects.create_user(
                        username=admin_email,
                        email=admin_email,
                        password=None,  # unusable until chosen
                        is_tenant_admin=True,
                        is_staff=True,
                        is_superuser=False,
                    )
                link = sign_in_link(user=admin, domain=domain)
        except Exception:
            tenant.delete(force_drop=True)
            raise
    if settings.EMAIL_CONFIGURED:
        transaction.on_commit(
            partial(
                _email_sign_in_link,
                email=admin_email,
                tenant_name=name,
                domain=domain,
                link=link,
                language=language_for(user=admin, tenant=tenant),
            )
        )
    return Provisioned(tenant=tenant, domain=primary, admin=admin, sign_in_link=link)


def sign_in_link(*, user, domain: str) -> str:
    """A link on `domain` where `user` chooses a password: the password-reset
    page (/accounts/reset/<uidb64>/<token>/) with Django's token.

    It works once, for PASSWORD_RESET_TIMEOUT (3 days): the token covers the
    password hash and last sign-in, which choosing a password changes. It
    works only on a domain of the user's tenant (the user is looked up in
    that host's schema, and the same id in another schema is another user
    with another password hash). SITE_URL_SCHEME and SITE_URL_PORT make the
    rest of the address, as no request is there to tell them.
    """
    return site_url(domain=domain, path=sign_in_path(user=user))


def site_url(*, domain: str, path: str) -> str:
    """`path` on `domain`, for code with no request to tell the scheme and
    port (a command, a mail): SITE_URL_SCHEME://domain[:SITE_URL_PORT]path."""
    port = f":{settings.SITE_URL_PORT}" if settings.SITE_URL_PORT else ""
    return f"{settings.SITE_URL_SCHEME}://{domain}{port}{path}"


def sign_in_path(*, user) -> str:
    """The path of `user`'s one-time sign-in link (see sign_in_link), for a
    caller that knows the rest of the address (a request does)."""
    return reverse(
        "password_reset_confirm",
        urlconf=settings.ROOT_URLCONF,  # the tenants' urlconf
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


def tenant_provision_check(
    *, schema: str, name: str, domain: str, admin_email: str, language: str = "", time_zone: str = "UTC"
) -> tuple[str, str, str, str]:
    """The input of `tenant_provision`, normalized; ApplicationError naming
    every bad field. The public schema must be active (forms call it to
    show errors before anything is created)."""
    errors = {}
    schema, name = (schema or "").strip(), (name or "").strip()
    domain, admin_email = (domain or "").strip().lower(), (admin_email or "").strip().lower()

    if schema == get_public_schema_name():
        errors["schema"] = "reserved for the operators' site"
    elif not SCHEMA_NAME.fullmatch(schema):
        errors["schema"] = "1 to 63 lowercase letters, digits or _, starting with a letter (not pg_)"
    # A schema without a tenant row (left by hand) counts too: django-tenants
    # would adopt it, tables and all.
    elif Tenant.objects.filter(schema_name__iexact=schema).exists() or schema_exists(schema, case_sensitive=False):
        errors["schema"] = "already exists"

    if not 1 <= len(name) <= Tenant._meta.get_field("name").max_length:
        errors["name"] = "1 to 100 characters"

    labels = domain.split(".")
    if len(domain) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        errors["domain"] = "a host name such as initech.example.com (no scheme, port or path)"
    elif not validate_host(domain, settings.ALLOWED_HOSTS):
        errors["domain"] = "not in ALLOWED_HOSTS: this deployment would refuse its requests"
    elif Domain.objects.filter(domain__iexact=domain).exists():  # rows made elsewhere may not be lowercase
        errors["domain"] = "already used by another tenant"

    username_field = get_user_model()._meta.get_field("username")
    try:
        validate_email(admin_email)
        # The address is also the username, whose rules are narrower.
        username_field.run_validators(admin_email)
        if len(admin_email) > username_field.max_length:
            raise ValidationError("too long")
    except ValidationError:
        errors["admin_email"] = "a valid email address (letters, digits and @.+-_ only, at most 150 characters)"

    # Its people's default language ("" = each browser's) and the zone its times are shown in.
    if language not in {"", *(code for code, _name in settings.LANGUAGES)}:
        codes = ", ".join(code for code, _name in settings.LANGUAGES)
        errors["language"] = f"one of {codes}, or empty for each browser's own"
    try:
        validate_time_zone(time_zone)
        if not time_zone:
            raise ValidationError("empty")
    except ValidationError:
        errors["time_zone"] = "an IANA time zone such as Europe/Madrid or America/New_York"

    if errors:
        raise ApplicationError("invalid", "cannot create the tenant", fields=errors)
    return schema, name, domain, admin_email


def _email_sign_in_link(*, email: str, tenant_name: str, domain: str, link: str, language: str) -> None:
    # The tenant exists and the caller has the link.
    send_rendered(
        subject_template="registration/first_admin_subject.txt",
        body_template="registration/first_admin_email.txt",
        context={"tenant_name": tenant_name, "domain": domain, "link": link, "username": email},
        to=email,
        language=language,
        failure=f"could not email the sign-in link of tenant {domain}'s first admin",
    )
