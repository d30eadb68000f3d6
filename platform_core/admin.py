"""Two Django admin sites, one per kind of host, that share nothing.

- `operator_site`, at /admin/ on the public host only: the platform's
  operators (public-schema superusers) manage tenants and their domains,
  and their own accounts. Nothing of a tenant's schema is registered here.
- `tenant_site`, at /admin/ on each tenant's host: that tenant's admins
  (`is_tenant_admin`) manage their own stores, staff and users, and look at
  orders and notifications. Only tenant-schema models are registered, each
  with its own permissions (`TenantModelAdmin`), and Django's
  `is_superuser`/`is_staff` flags mean nothing here: a tenant admin is not a
  platform superuser, and no tenant host serves a page that reads or writes
  a public-schema model (the URLs do not exist there).

Django's default `admin.site` is served nowhere.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name

from platform_core.errors import ApplicationError
from platform_core.models import User
from platform_core.provisioning import tenant_provision, tenant_provision_check
from tenants.models import Domain, Tenant


def _on_public_schema() -> bool:
    return connection.schema_name == get_public_schema_name()


# --- the operators' site (public host) ----------------------------------------------
class OperatorSite(admin.AdminSite):
    site_header = _("Pregón operators")
    site_title = _("Pregón operators")

    def has_permission(self, request):
        # The URLs are routed on the public host only (config/urls_public.py);
        # the schema check keeps it so if someone routes them elsewhere.
        return _on_public_schema() and request.user.is_active and request.user.is_superuser


operator_site = OperatorSite(name="operator_admin")


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


class TenantProvisionForm(forms.ModelForm):
    """A new tenant is created usable: with its domain and first admin
    (`tenant_provision`, as `manage.py create_tenant` does)."""

    domain = forms.CharField(label=_("Domain"), help_text=_("e.g. initech.example.com"))
    admin_email = forms.EmailField(
        label=_("First admin's email"), help_text=_("They get a one-time link to choose a password.")
    )

    class Meta:
        model = Tenant
        fields = ("name", "schema_name", "language", "time_zone")

    FIELD_OF = {"schema": "schema_name"}  # tenant_provision's names → this form's

    def clean(self):
        data = super().clean()
        try:
            tenant_provision_check(
                schema=data.get("schema_name", ""),
                name=data.get("name", ""),
                domain=data.get("domain", ""),
                admin_email=data.get("admin_email", ""),
                language=data.get("language", ""),
                time_zone=data.get("time_zone", ""),
            )
        except ApplicationError as error:
            for field, message in error.fields.items():
                name = self.FIELD_OF.get(field, field)
                if name not in self.errors:
                    self.add_error(name, message)
        return data


@admin.register(Tenant, site=operator_site)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "schema_name", "language", "time_zone", "created_at")
    search_fields = ("name", "schema_name")
    inlines = [DomainInline]
    add_form = TenantProvisionForm
    add_fieldsets = ((None, {"fields": ("name", "schema_name", "domain", "admin_email", "language", "time_zone")}),)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines  # the add form asks for the primary domain itself

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        provisioned = tenant_provision(
            schema=data["schema_name"],
            name=data["name"],
            domain=data["domain"],
            admin_email=data["admin_email"],
            language=data["language"],
            time_zone=data["time_zone"],
        )
        # The admin goes on with the row tenant_provision made.
        obj.pk, obj.created_at, obj._state.adding = provisioned.tenant.pk, provisioned.tenant.created_at, False
        messages.success(
            request,
            _("First admin %(admin)s signs in once with: %(link)s")
            % {"admin": provisioned.admin.username, "link": provisioned.sign_in_link},
        )

    def get_actions(self, request):
        # The bulk delete runs `QuerySet.delete()`, which skips the model's
        # own delete() and its checks. A tenant is deleted one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        # The public tenant carries the operators' site itself.
        if obj is not None and obj.schema_name == get_public_schema_name():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Domain, site=operator_site)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
    list_select_related = ("tenant",)


@admin.register(User, site=operator_site)
class OperatorUserAdmin(UserAdmin):
    """The operators' own accounts (public schema). Deactivated, never
    deleted: the delete would follow the user model's relations into tables
    that exist only in tenant schemas."""

    def has_delete_permission(self, request, obj=None):
        return False


# --- the tenant admins' site (each tenant's host) -----------------------------------
class TenantAdminAuthenticationForm(AdminAuthenticationForm):
    """Sign-in for the tenant's admin site: tenant admins, not `is_staff`."""

    def confirm_login_allowed(self, user):
        if not (user.is_active and user.is_tenant_admin):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class TenantSite(admin.AdminSite):
    site_header = _("Pregón")
    site_title = _("Pregón")
    login_form = TenantAdminAuthenticationForm

    def has_permission(self, request):
        return not _on_public_schema() and request.user.is_active and request.user.is_tenant_admin

    def get_urls(self):
        # Drop the "view on site" redirect (`r/<content type>/<id>/`): it
        # loads any model by content type, public-schema ones included, and
        # its 404 message would tell which tenant ids exist.
        return [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]


tenant_site = TenantSite(name="tenant_admin")


class TenantModelAdmin(admin.ModelAdmin):
    """A tenant-schema model on `tenant_site`, with permissions stated per model.

    `can` lists what tenant admins may do ("view", "add", "change",
    "delete"); Django's per-user permission rows are not consulted, so no
    flag on a user (`is_superuser` included) grants more than this.
    """

    can: frozenset[str] = frozenset({"view"})

    def _allowed(self, request, action: str) -> bool:
        return action in self.can and self.admin_site.has_permission(request)

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, "view")

    def has_add_permission(self, request, *args):
        return self._allowed(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, "delete")


class TenantInline(admin.TabularInline):
    """An inline of a `TenantModelAdmin`, under the same kind of rule."""

    can: frozenset[str] = frozenset({"view"})

    def _allowed(self, request, action: str) -> bool:
        return action in self.can and self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, "view")

    def has_add_permission(self, request, obj=None):
        return self._allowed(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, "delete")


@admin.register(User, site=tenant_site)
class TenantUserAdmin(TenantModelAdmin, UserAdmin):
    """The tenant's people. Users are deactivated, not deleted (their orders
    and notifications stay); Django's superuser, staff, group and permission
    fields are not shown: they grant nothing on this site."""

    can = frozenset({"view", "add", "change"})
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Access"), {"fields": ("is_active", "is_tenant_admin")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "email", "first_name", "last_name", "is_active", "is_tenant_admin")
    list_filter = ("is_active", "is_tenant_admin")
    filter_horizontal = ()
