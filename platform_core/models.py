from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person of one tenant (or an operator, in the public schema).

    The table exists in every schema, so user ids repeat across tenants:
    never use a user id without the tenant it belongs to.
    """

    # Tenant admins manage stores, staff and integrations, and broadcast
    # announcements. Django's is_staff/is_superuser only govern /admin/.
    is_tenant_admin = models.BooleanField(_("tenant admin"), default=False)
