"""Tenant admins' pages under /manage/: the index, stores (create, rename,
board settings) and each store's staff (add by email, change role, remove).

Plain forms posted with Django's CSRF token; every write goes through
stores/services.py, whose ApplicationError is shown next to the field it
names. Ids in URLs are looked up in the host's tenant schema only, so store
1 of another tenant is never reached (it is another row in another schema).
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from platform_core.errors import ApplicationError
from platform_core.views import tenant_admin_required
from stores import selectors, services
from stores.forms import StaffAddForm, StaffRoleForm, StoreCreateForm, StoreSettingsForm
from stores.models import StaffMembership, Store


def _show(form, error: ApplicationError) -> None:
    """A service's refusal on the form: next to each field it names."""
    for field, why in error.fields.items():
        form.add_error(field if field in form.fields else None, why)
    if not error.fields:
        form.add_error(None, error.message)


@tenant_admin_required
def index(request):
    return render(request, "manage/index.html", {"stores": selectors.stores_overview()})


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def stores(request):
    form = StoreCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            store = services.store_create(name=form.cleaned_data["name"])
        except ApplicationError as error:
            _show(form, error)
        else:
            messages.success(request, _("Store “%(name)s” created.") % {"name": store.name})
            return redirect("manage-store", store_id=store.pk)
    status = 422 if form.errors else 200
    return render(request, "manage/stores.html", {"stores": selectors.stores_overview(), "form": form}, status=status)


def _store(store_id: int) -> Store:
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise Http404
    return store


def _store_page(request, store: Store, *, settings_form=None, add_form=None, status=200):
    memberships = list(selectors.store_staff(store_id=store.pk))
    return render(
        request,
        "manage/store.html",
        {
            "store": store,
            "settings_form": settings_form or StoreSettingsForm(instance=store),
            "add_form": add_form or StaffAddForm(prefix="staff"),
            "memberships": memberships,
            "roles": StaffMembership.Role.choices,
        },
        status=status,
    )


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def store(request, store_id: int):
    store = _store(store_id)
    if request.method == "GET":
        return _store_page(request, store)
    form = StoreSettingsForm(request.POST, instance=Store.objects.get(pk=store.pk))
    if form.is_valid():
        changes = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS}
        try:
            services.store_update(store_id=store.pk, **changes)
        except ApplicationError as error:
            _show(form, error)
        else:
            messages.success(request, _("Saved. Boards use the new settings when they next load."))
            return redirect("manage-store", store_id=store.pk)
    return _store_page(request, store, settings_form=form, status=422)


@tenant_admin_required
@require_POST
def staff_add(request, store_id: int):
    store = _store(store_id)
    form = StaffAddForm(request.POST, prefix="staff")
    if form.is_valid():
        try:
            added = services.membership_add(
                store_id=store.pk,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                site=f"{request.scheme}://{request.get_host()}",
                tenant_name=request.tenant.name,
            )
        except ApplicationError as error:
            _show(form, error)
        else:
            person = added.invitee.user.get_username()
            if added.emailed:
                note = _("%(person)s was added and emailed a one-time sign-in link.")
            elif added.sign_in_link:
                note = _("%(person)s was added. No mail is sent from here: give them this one-time sign-in link.")
                messages.info(request, added.sign_in_link, extra_tags="sign-in-link")
            else:
                note = _("%(person)s was added. Their board is at the store's page.")
            messages.success(request, note % {"person": person})
            return redirect("manage-store", store_id=store.pk)
    return _store_page(request, store, add_form=form, status=422)


@tenant_admin_required
@require_POST
def staff_role(request, store_id: int, membership_id: int):
    store = _store(store_id)
    form = StaffRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role: manager or staff."))
        return redirect("manage-store", store_id=store.pk)
    try:
        membership = services.membership_change_role(
            store_id=store.pk, membership_id=membership_id, role=form.cleaned_data["role"]
        )
    except ApplicationError as error:
        if error.code == "not_found":
            raise Http404 from None
        raise
    messages.success(
        request,
        _("%(person)s is now %(role)s.")
        % {"person": membership.user.get_username(), "role": membership.get_role_display().lower()},
    )
    return redirect("manage-store", store_id=store.pk)


@tenant_admin_required
@require_POST
def staff_remove(request, store_id: int, membership_id: int):
    store = _store(store_id)
    try:
        membership = services.membership_remove(store_id=store.pk, membership_id=membership_id)
    except ApplicationError as error:
        if error.code == "not_found":
            raise Http404 from None
        raise
    messages.success(
        request,
        _("%(person)s is no longer staff of %(store)s; their open boards of it close within seconds.")
        % {"person": membership.user.get_username(), "store": store.name},
    )
    return redirect("manage-store", store_id=store.pk)
