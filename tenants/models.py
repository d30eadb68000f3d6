from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A customer company. Lives in the public schema; owns one schema."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True

    def __str__(self):
        return self.name


class Domain(DomainMixin):
    """A host name that selects a tenant, e.g. ``acme.example.com``."""
