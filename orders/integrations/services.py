"""Writes for integrations: their secrets, and the orders their signed
webhooks create and update. The tenant's schema must be active.

An applied delivery, its order change, the stream event and the
notifications it triggers are one transaction; a refused one writes only
its delivery log row.
"""

import base64
import secrets
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.integrations.webhooks import SECRET_PREFIX, OrderEvent
from orders.models import Integration, IntegrationSecret, Order, WebhookDelivery
from orders.services import (
    check_customer_name,
    check_order_fields,
    new_order,
    order_change_status,
    order_comment_add,
    order_create,
    orders_create_new,
)
from orders.stream import holds_store_lock
from platform_core import jobs
from platform_core.errors import ApplicationError
from stores.models import Store


def customer_for_email(*, email: str, name: str = ""):
    """The customer account an integration's order belongs to, by email; None
    to attach none. The tenant's schema must be active.

    Integrations reach customer accounts only, never the people who run the
    tenant: an order names whatever email the shop system holds, and
    attaching it to a tenant admin or staff member would send them a
    customer's alerts and links. So (docs/integrations.md):
    - the email is compared case-insensitively, after trimming;
    - an account that is a tenant admin, staff of any store, or a Django
      staff user or superuser is never matched; if such an account has this
      address, no account is attached, and none is created (a second
      account with that person's address would be a shadow identity);
    - otherwise the oldest customer account with the address is attached,
      or a new one is created (no password: they sign in after a reset, or
      never).
    """
    User = get_user_model()
    email = email.strip()
    matching = User.objects.filter(email__iexact=email)
    privileged = Q(is_tenant_admin=True) | Q(is_staff=True) | Q(is_superuser=True) | Q(memberships__isnull=False)
    if matching.filter(privileged).exists():
        return None
    user = matching.order_by("pk").first()
    if user is not None:
        return user
    base = (email.split("@", 1)[0] or "customer")[:100]
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}{n}"
    first, _space, last = name.strip().partition(" ")
    user = User(username=username, email=email, first_name=first[:150], last_name=last[:150])
    user.set_unusable_password()
    user.save()
    return user


# No savepoint of its own: its callers (webhook_receive, under the
# batcher's savepoint per request) roll back as a whole on any error, and a
# savepoint costs two round trips.
@transaction.atomic(savepoint=False)
def order_upsert(*, store_id: int, external_id: str, fields: dict) -> Order:
    """Create the order (store, external_id), or update what `fields` carries.

    An update that changes nothing writes nothing (no event).
    """
    # Lock the store row first: two deliveries creating the same new order at
    # once queue here, and the second finds the first's order (an update)
    # instead of failing on the unique (store, external_id).
    if not holds_store_lock(store_id):
        Store.objects.select_for_update().filter(pk=store_id).exists()
    order = Order.objects.filter(store_id=store_id, external_id=external_id).first()
    sent_customer = fields.get("customer")
    # Checked before an account is made with it.
    customer_name = check_customer_name(sent_customer.get("name", "")) if sent_customer else ""
    customer = customer_for_email(email=sent_customer["email"], name=customer_name) if sent_customer else None
    if order is None:
        if "total" not in fields:
            raise ApplicationError(
                "invalid", "a new order needs a total", fields={"total": "required to create the order"}
            )
        return order_create(
            store_id=store_id,
            external_id=external_id,
            total=fields["total"],
            currency=fields.get("currency", "EUR"),
            customer=customer,
            customer_name=customer_name,
            line_items=fields.get("line_items"),
            notes=fields.get("notes", ""),
        )
    merged = check_order_fields(
        external_id=external_id,
        total=fields.get("total", order.total),
        currency=fields.get("currency", order.currency),
        line_items=fields.get("line_items", []),
        notes=fields.get("notes", order.notes),
        customer_name=customer_name if sent_customer else order.customer_name,
    )
    # Only what the event carries: line items stored before their schema
    # existed are not read again (nor refused) by an update that omits them.
    changes = {
        key: merged[key]
        for key in ("total", "currency", "line_items", "notes")
        if key in fields and merged[key] != getattr(order, key)
    }
    if sent_customer and merged["customer_name"] != order.customer_name:
        changes["customer_name"] = merged["customer_name"]
    if customer and customer.pk != order.customer_id:
        changes["customer"] = customer
    if changes:
        for key, value in changes.items():
            setattr(order, key, value)
        order.save()
    return order


def _order_by_external_id(store_id: int, external_id: str) -> Order:
    order = Order.objects.filter(store_id=store_id, external_id=external_id).first()
    if order is None:
        raise ApplicationError(
            "invalid", "no such order", fields={"external_id": "no order with this id in this store"}
        )
    return order


def _check_store(*, integration: Integration, event: OrderEvent, stores: set[int] | None) -> None:
    if event.store_id not in stores if stores is not None else not Store.objects.filter(pk=event.store_id).exists():
        raise ApplicationError("invalid", "unknown store", fields={"store_id": "no such store"})
    if not integration.may_write(event.store_id):
        raise ApplicationError(
            "forbidden", "store not allowed", fields={"store_id": "this integration may not write to it"}
        )


def webhook_apply(*, integration: Integration, event: OrderEvent, stores: set[int] | None = None) -> Order:
    """Apply a verified, parsed event. Field names in errors are the payload's.
    `stores`: the ids of the tenant's stores, if the caller read them (the
    batcher reads them once per batch)."""
    _check_store(integration=integration, event=event, stores=stores)
    if event.type in ("order.created", "order.updated"):
        return order_upsert(store_id=event.store_id, external_id=event.external_id, fields=event.fields)
    order = _order_by_external_id(event.store_id, event.external_id)
    if event.type == "order.status_changed":
        if event.fields["status"] == order.status:
            return order  # already there: a retry under a new webhook-id changes nothing
        return order_change_status(order_id=order.pk, status=event.fields["status"])
    order_comment_add(order_id=order.pk, author=None, body=event.fields["body"])
    return order


@transaction.atomic(savepoint=False)  # the batcher gives each request its savepoint
def webhook_receive(
    *, integration: Integration, webhook_id: str, body_digest: str, event: OrderEvent, stores: set[int] | None = None
) -> tuple[bool, Order | None]:
    """Apply a delivery exactly once per `webhook-id`. Returns (applied, order).

    The delivery row is inserted first, in the same transaction as the
    change. A second copy of the same request, even one arriving at the same
    moment, waits on the unique index until the first commits and then sees
    the conflict: with the same body (`body_digest`, the SHA-256 of the raw
    body) it is a duplicate and changes nothing; with another body it is
    refused as a conflict, and nothing is written. If the first fails and
    rolls back, the second goes ahead.

    Field names in errors are the payload's (`data.total`, `webhook-id`).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {WebhookDelivery._meta.db_table}
                    (integration_id, webhook_id, event_type, received_at, accepted, status_code, error, body_digest)
                VALUES (%s, %s, %s, now(), true, 200, '', %s)
                ON CONFLICT (integration_id, webhook_id) WHERE accepted DO NOTHING RETURNING id""",
            [integration.pk, webhook_id, event.type, body_digest],
        )
        row = cursor.fetchone()
    if row is None:
        # The applied row is committed (the INSERT waited for it if it was
        # not), and under READ COMMITTED this new statement sees it. Blank:
        # stored before digests were kept, taken as the same body.
        applied = (
            WebhookDelivery.objects.filter(integration=integration, webhook_id=webhook_id, accepted=True)
            .values_list("body_digest", flat=True)
            .first()
        )
        if applied and applied != body_digest:
            raise ApplicationError(
                "conflict",
                "this webhook-id was already applied with a different body",
                fields={"webhook-id": "already used for another body: a new event needs a new id"},
            )
        return False, None
    try:
        order = webhook_apply(integration=integration, event=event, stores=stores)
    except ApplicationError as error:
        # Services name their own fields; the integrator sent them under `data`.
        error.fields = {f"data.{name}": why for name, why in error.fields.items()}
        raise
    WebhookDelivery.objects.filter(pk=row[0]).update(order=order)
    return True, order


class WebhookIdTaken(Exception):
    """`webhook_create_new` found a webhook-id already used."""


class Received(NamedTuple):
    """A verified delivery, as `webhook_create_new` takes it."""

    integration: Integration
    webhook_id: str
    body_digest: str
    event: OrderEvent


def orders_absent(keys: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (store_id, external_id) have no order yet. In one query; true
    until the commit only for stores whose row lock the caller holds.

    The pairs are looked up as pairs, each in the unique (store,
    external_id) index: `store_id IN (…) AND external_id IN (…)` was
    planned as a scan of the stores' orders (8.6 ms at 54,000 orders
    against 0.25 ms, measured), which grew with every order taken."""
    if not keys:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT o.store_id, o.external_id FROM {Order._meta.db_table} o
                JOIN unnest(%s::bigint[], %s::text[]) AS k (store_id, external_id)
                    ON o.store_id = k.store_id AND o.external_id = k.external_id""",
            [[store_id for store_id, _ in keys], [external_id for _, external_id in keys]],
        )
        return keys - set(cursor.fetchall())


def webhook_create_new(*, received: list[Received], stores: set[int]) -> list[Order]:
    """`webhook_receive` for `order.created` deliveries whose orders do not
    exist (`orders_absent`) and are all different, in two INSERTs for the
    whole list: the orders (`orders_create_new`), then their delivery rows.
    Returns the orders, in order.

    The delivery rows come last here, not first: they cannot serve as the
    lock on the webhook-ids, so a webhook-id already used (or twice in the
    list) raises WebhookIdTaken, and the caller rolls back the whole
    transaction and applies its requests one at a time (`webhook_receive`,
    which tells a duplicate from a conflict). No savepoint: any error is
    for the caller to roll back whole.
    """
    # Checked before any account is made with them.
    names = []
    for delivery in received:
        _check_store(integration=delivery.integration, event=delivery.event, stores=stores)
        if "total" not in delivery.event.fields:
            raise ApplicationError(
                "invalid", "a new order needs a total", fields={"data.total": "required to create the order"}
            )
        customer = delivery.event.fields.get("customer")
        names.append(check_customer_name(customer.get("name", "")) if customer else "")
    # Accounts are found or made in the order of their addresses, as the
    # orders and delivery rows are inserted in a sorted order: two workers'
    # batches making some of the same rows wait for each other in one
    # order, never in a cycle (a deadlock).
    customers = {}
    by_address = sorted(zip(received, names, strict=True), key=lambda pair: (_email_of(pair[0]) or "").lower())
    for delivery, name in by_address:
        email = _email_of(delivery)
        if email is not None and email.lower() not in customers:
            customers[email.lower()] = customer_for_email(email=email, name=name)
    orders = []
    for delivery, customer_name in zip(received, names, strict=True):
        event, fields, email = delivery.event, delivery.event.fields, _email_of(delivery)
        orders.append(
            new_order(
                store_id=event.store_id,
                external_id=event.external_id,
                total=fields["total"],
                currency=fields.get("currency", "EUR"),
                customer=customers[email.lower()] if email is not None else None,
                customer_name=customer_name,
                line_items=fields.get("line_items"),
                notes=fields.get("notes", ""),
            )
        )
    orders_create_new(orders)
    rows = sorted(  # sorted, as the orders are inserted
        (delivery.integration.pk, delivery.webhook_id, delivery.event.type, delivery.body_digest, order.pk)
        for delivery, order in zip(received, orders, strict=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {WebhookDelivery._meta.db_table} (integration_id, webhook_id, event_type, received_at,
                    accepted, status_code, error, body_digest, order_id)
                SELECT integration_id, webhook_id, event_type, now(), true, 200, '', body_digest, order_id
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[])
                    AS delivery (integration_id, webhook_id, event_type, body_digest, order_id)
                ON CONFLICT (integration_id, webhook_id) WHERE accepted DO NOTHING RETURNING 1""",
            [list(column) for column in zip(*rows, strict=True)],
        )
        if len(cursor.fetchall()) < len(received):
            raise WebhookIdTaken()
    return orders


def _email_of(delivery: Received) -> str | None:
    """The customer's address as `customer_for_email` compares it, or None."""
    customer = delivery.event.fields.get("customer")
    return customer["email"].strip() if customer else None


def webhook_refused(
    *, integration: Integration, webhook_id: str, body_digest: str, event_type: str, status_code: int, error: str
) -> None:
    """Log an authenticated delivery that was refused (its own transaction)."""
    WebhookDelivery.objects.create(
        integration=integration,
        webhook_id=webhook_id[:200],
        body_digest=body_digest,
        event_type=event_type[:40],
        accepted=False,
        status_code=status_code,
        error=error[:2000],
    )


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@transaction.atomic
def integration_create(*, name: str, store_ids: list[int] | None = None) -> tuple[Integration, str]:
    """A new integration and its first secret (returned once, in plaintext)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ApplicationError("invalid", _("invalid name"), fields={"name": _("1 to 100 characters")})
    integration = Integration.objects.create(name=name.strip(), all_stores=store_ids is None)
    if store_ids is not None:
        unknown = sorted(set(store_ids) - set(Store.objects.filter(pk__in=store_ids).values_list("pk", flat=True)))
        if unknown:
            raise ApplicationError(
                "invalid", _("unknown stores"), fields={"stores": _("unknown: %(ids)s") % {"ids": unknown}}
            )
        integration.stores.set(store_ids)
    return integration, integration_secret_add(integration=integration)


@transaction.atomic
def integration_secret_add(*, integration: Integration) -> str:
    """Rotation: add a secret; the old ones stay valid until revoked."""
    secret = IntegrationSecret.objects.create(integration=integration, secret=new_secret())
    return secret.secret


@transaction.atomic
def integration_secret_revoke(*, integration: Integration, secret_id: int) -> None:
    updated = IntegrationSecret.objects.filter(pk=secret_id, integration=integration, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise ApplicationError("not_found", "no such active secret")


def webhook_deliveries_prune(*, older_than) -> int:
    return WebhookDelivery.objects.filter(received_at__lt=timezone.now() - older_than).delete()[0]


@jobs.periodic("orders.webhook_log_retention", every=timedelta(hours=1))
def webhook_deliveries_retention() -> None:
    """Every tenant's webhook delivery log older than WEBHOOK_LOG_RETENTION_DAYS."""
    days = settings.WEBHOOK_LOG_RETENTION_DAYS
    jobs.for_each_tenant(lambda: webhook_deliveries_prune(older_than=timedelta(days=days)))
