"""The demo of the contract: run by `manage.py seed_demo` (and `make run`).

Idempotent: running it again leaves the same tenants, domains, users and
passwords, and adds no duplicate rows.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from alerts.models import Notification
from alerts.services import notification_create
from orders.models import Order
from orders.services import order_change_status, order_create
from stores.models import StaffMembership, Store
from tenants.models import Domain, Tenant

PASSWORD = "demo-pass-123"
PUBLIC_DOMAINS = ["localhost", "127.0.0.1"]
# (schema, name, domain, default language, time zone): acme reads Spanish
# in Madrid, globex English in New York (docs/i18n.md).
TENANTS = [
    ("acme", "Acme", "acme.localhost", "es", "Europe/Madrid"),
    ("globex", "Globex", "globex.localhost", "en", "America/New_York"),
]
# username → (is tenant admin)
USERS = {"admin": True, "staff1": False, "staff2": False, "customer": False}
STORES = {1: "Centro", 2: "Norte"}
STAFF = {"staff1": 1, "staff2": 2}
# The customer's orders in store 1: (external_id, total, status)
ORDERS = [("DEMO-1001", "18.50", Order.Status.NEW), ("DEMO-1002", "7.25", Order.Status.PREPARING)]


def seed(*, log=print) -> None:
    with schema_context(get_public_schema_name()):
        _tenant(get_public_schema_name(), "Pregón operators", PUBLIC_DOMAINS, language="", time_zone="UTC")
        # Operators sign in to the public admin with the same demo account.
        _user("admin", operator=True)
        log(f"public schema: {', '.join(PUBLIC_DOMAINS)}")
        tenants = [
            _tenant(schema, name, [domain], language=language, time_zone=zone)
            for schema, name, domain, language, zone in TENANTS
        ]
    for tenant in tenants:
        with tenant_context(tenant):
            users = {username: _user(username, tenant_admin=is_admin) for username, is_admin in USERS.items()}
            for user in users.values():
                _welcome(user, tenant)
            _stores()
            for username, store_id in STAFF.items():
                StaffMembership.objects.get_or_create(user=users[username], store_id=store_id)
            _orders(users["customer"])
        log(f"tenant {tenant.schema_name}: {tenant.domains.get(is_primary=True).domain} users {', '.join(USERS)}")


def _tenant(schema: str, name: str, domains: list[str], *, language: str, time_zone: str) -> Tenant:
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is None:
        # Creating a tenant creates and migrates its schema.
        tenant = Tenant(schema_name=schema, name=name, language=language, time_zone=time_zone)
        tenant.save()
    elif (tenant.language, tenant.time_zone) != (language, time_zone):
        # A demo database seeded before languages existed catches up.
        tenant.language, tenant.time_zone = language, time_zone
        tenant.save(update_fields=["language", "time_zone"])
    for index, domain in enumerate(domains):
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": index == 0})
    return tenant


@transaction.atomic
def _user(username: str, *, operator: bool = False, tenant_admin: bool = False):
    """An operator (public schema: Django superuser) or a tenant's user. A
    tenant admin is never a superuser: that flag means "platform operator"."""
    user, _created = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = operator
    user.is_tenant_admin = tenant_admin
    if not user.check_password(PASSWORD):
        user.set_password(PASSWORD)
    user.save()
    return user


def _stores() -> None:
    """Stores with exactly the ids 1 and 2, in every tenant."""
    for store_id, name in STORES.items():
        Store.objects.get_or_create(id=store_id, defaults={"name": name})
    # Explicit ids do not move the sequence; later stores must not collide.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Store]):
            cursor.execute(sql)


def _orders(customer) -> None:
    for external_id, total, status in ORDERS:
        if Order.objects.filter(store_id=1, external_id=external_id).exists():
            continue
        with transaction.atomic():
            order = order_create(
                store_id=1,
                external_id=external_id,
                total=total,
                customer=customer,
                line_items=[{"name": "Menú del día", "quantity": 1}],
            )
            for step in (Order.Status.ACCEPTED, Order.Status.PREPARING):
                if order.status != status:
                    order = order_change_status(order_id=order.pk, status=step)


def _welcome(user, tenant: Tenant) -> None:
    """One unread notification per demo user, so the first connect shows the inbox."""
    if Notification.objects.filter(recipient=user, kind=Notification.Kind.SYSTEM).exists():
        return
    # Free text (a system message is stored as written): in the tenant's language.
    with translation.override(tenant.language or settings.LANGUAGE_CODE):
        notification_create(
            recipient=user,
            kind=Notification.Kind.SYSTEM,
            title=_("Welcome to %(name)s") % {"name": tenant.name},
            body=_("Signed in at %(host)s.") % {"host": tenant.domains.get(is_primary=True).domain},
        )
