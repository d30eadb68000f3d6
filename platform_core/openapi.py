"""The OpenAPI 3.1 description of /api/*, written by hand next to the code.

`tests/platform_core/test_openapi.py` checks that it is a valid document and
that every /api/ route and method is described here (and nothing more).
Summaries and descriptions are translated (gettext_lazy): served in the
reader's language.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "") -> dict:
    return {"description": description or _("OK"), "content": {"application/json": {"schema": schema}}}


ERRORS = {
    code: {"$ref": f"#/components/responses/{name}"}
    for code, name in {
        "400": "BadRequest",
        "401": "Unauthorized",
        "403": "Forbidden",
        "404": "NotFound",
        "409": "Conflict",
        "413": "TooLarge",
        "422": "Invalid",
        "429": "RateLimited",
        "503": "Unavailable",
    }.items()
}


def _op(
    summary: str,
    ok: dict,
    *,
    status: str = "200",
    body: dict | None = None,
    errors=("401",),
    params=(),
    security: list | None = None,
    tags=(),
) -> dict:
    operation = {"summary": summary, "tags": list(tags), "responses": {status: ok, **{c: ERRORS[c] for c in errors}}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        operation["parameters"] = list(params)
    if security is not None:
        operation["security"] = security
    return operation


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = (
    _query("page", {"type": "integer", "minimum": 1}),
    _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
)
STATUS_FILTER = _query("status", _ref("OrderStatus"))


def _page(item: str, extra: dict | None = None) -> dict:
    return {
        "type": "object",
        "required": ["results", "count", "page", "page_size", "pages", "next", "previous"],
        "properties": {
            "results": {"type": "array", "items": _ref(item)},
            "count": {"type": "integer"},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "pages": {"type": "integer"},
            "next": {"type": ["integer", "null"]},
            "previous": {"type": ["integer", "null"]},
            **(extra or {}),
        },
    }


def _obj(required: list[str], properties: dict, *, closed: bool = True) -> dict:
    schema = {"type": "object", "required": required, "properties": properties}
    if closed:
        schema["additionalProperties"] = False
    return schema


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NOTIFICATION_KINDS = ["system", "order_status", "order_comment", "mention", "announcement", "board_unattended"]
IDS_BODY = {
    "type": "object",
    "required": ["ids"],
    "additionalProperties": False,
    "properties": {
        "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 1000}
    },
}
TIME = {"type": "string", "format": "date-time"}
DELIVERY_CHANNELS = ["push", "email"]
DELIVERY_STATUSES = ["queued", "sending", "sent", "skipped", "failed"]
DELIVERY_REASONS = ["", "read", "seen", "muted", "no_device", "no_address", "gone", "error"]
NULLABLE_STR = {"type": ["string", "null"]}

SCHEMAS = {
    "Error": _obj(
        ["error"],
        {
            "error": _obj(
                ["code", "message", "fields"],
                {
                    "code": STR,
                    "message": STR,
                    "fields": {
                        "type": "object",
                        "additionalProperties": STR,
                        "description": _("field name → what is wrong"),
                    },
                },
            )
        },
    ),
    "AccountLanguage": _obj(
        ["language", "effective"],
        {
            "language": {"type": "string", "enum": ["", "es", "en"]},
            "effective": {"type": "string", "enum": ["es", "en"]},
        },
    ),
    "OrderStatus": {"type": "string", "enum": ["new", "accepted", "preparing", "ready", "completed", "cancelled"]},
    "Order": _obj(
        ["id", "external_id", "store_id", "status", "total", "currency"],
        {
            "id": INT,
            "external_id": STR,
            "store_id": INT,
            "status": _ref("OrderStatus"),
            "total": {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": _("exact decimal")},
            "currency": STR,
            "customer": NULLABLE_STR,
            "line_items": {"type": "array", "items": _ref("LineItem")},
            "notes": STR,
            "created_at": TIME,
            "updated_at": TIME,
        },
        closed=False,
    ),
    "LineItem": _obj(
        [],
        {
            "name": STR,
            "sku": STR,
            "quantity": {"type": "string", "pattern": r"^\d+(\.\d{1,3})?$", "description": _("exact decimal")},
            "unit_price": {
                "type": ["string", "null"],
                "pattern": r"^\d+(\.\d{1,4})?$",
                "description": _("exact decimal"),
            },
            "options": {"description": _("any JSON, as sent (non-integer numbers as strings)")},
            "extra": {
                "type": "object",
                "description": _("the item's other keys, as sent (non-integer numbers as strings)"),
            },
        },
        closed=False,
    ),
    "LineItemIn": _obj(
        [],
        {
            "name": {"type": "string", "maxLength": 200, "description": _("a name or a sku is required")},
            "sku": {"type": "string", "maxLength": 100},
            "quantity": {"type": ["number", "string"], "description": _("default 1; ≥ 0, ≤ 3 decimals; exact")},
            "unit_price": {"type": ["number", "string", "null"], "description": _("≥ 0, ≤ 4 decimals; exact")},
            "options": {"description": _("any JSON (≤ 4096 bytes, ≤ 16 levels deep)")},
        },
        closed=False,
    ),
    "Comment": _obj(
        ["id", "order_id", "body"],
        {"id": INT, "order_id": INT, "author": NULLABLE_STR, "body": STR, "created_at": TIME},
    ),
    "TimelineEntry": _obj(
        ["status", "previous_status", "at", "reason"],
        {
            "status": STR,
            "previous_status": {"type": ["string", "null"], "description": _("null for the order's creation")},
            "at": TIME,
            "reason": {"type": "string", "description": _("why it was cancelled; empty otherwise")},
        },
    ),
    "Notification": _obj(
        ["id", "kind", "title", "body", "url", "created_at", "seen_at", "read_at", "archived_at", "order_id"],
        {
            "id": INT,
            "kind": {"type": "string", "enum": NOTIFICATION_KINDS},
            "title": {"type": "string", "description": _("in the reader's language")},
            "body": STR,
            "url": STR,
            "created_at": TIME,
            "read": BOOL,
            "seen_at": {"type": ["string", "null"], "format": "date-time"},
            "read_at": {"type": ["string", "null"], "format": "date-time"},
            "archived_at": {"type": ["string", "null"], "format": "date-time"},
            "order_id": {"type": ["integer", "null"]},
        },
    ),
    "NotificationStateChange": _obj(
        ["ids", "unknown_ids", "unread_count", "unseen_count"],
        {
            "ids": {"type": "array", "items": INT},
            "unknown_ids": {"type": "array", "items": INT},
            "unread_count": INT,
            "unseen_count": INT,
        },
    ),
    "NotificationPreferences": _obj(
        ["kinds"],
        {
            "kinds": {
                "type": "object",
                "additionalProperties": _obj(
                    ["label", "critical", "channels"],
                    {
                        "label": STR,
                        "critical": BOOL,
                        "channels": _obj(["in_app", "push", "email"], {"in_app": BOOL, "push": BOOL, "email": BOOL}),
                    },
                ),
            },
            "muted_kinds": {"type": "array", "items": STR},
        },
    ),
    "NotificationKinds": _obj(
        ["kinds"],
        {
            "kinds": {
                "type": "object",
                "additionalProperties": _obj(["label", "critical"], {"label": STR, "critical": BOOL}),
            }
        },
    ),
    "NotificationDelivery": _obj(
        ["id", "notification", "channel", "status", "reason", "detail", "created_at", "updated_at"],
        {
            "id": INT,
            "notification": _obj(
                ["id", "title", "url"],
                {"id": INT, "title": {"type": "string", "description": _("in the reader's language")}, "url": STR},
            ),
            "channel": {"type": "string", "enum": DELIVERY_CHANNELS},
            "status": {"type": "string", "enum": DELIVERY_STATUSES},
            "reason": {"type": "string", "enum": DELIVERY_REASONS, "description": _("why it was skipped or failed")},
            "detail": {"type": "string", "description": _("what the sender noted (how many devices, the answer)")},
            "created_at": TIME,
            "updated_at": {**TIME, "description": _("when it reached its status")},
        },
    ),
    "DeliverySummary": _obj(
        ["days", "since", "counts"],
        {
            "days": INT,
            "since": TIME,
            "counts": {
                "type": "array",
                "description": _("one item per channel, status and reason that occurs"),
                "items": _obj(
                    ["channel", "status", "reason", "count"],
                    {
                        "channel": {"type": "string", "enum": DELIVERY_CHANNELS},
                        "status": {"type": "string", "enum": DELIVERY_STATUSES},
                        "reason": {"type": "string", "enum": DELIVERY_REASONS},
                        "count": {"type": "integer", "minimum": 1},
                    },
                ),
            },
        },
    ),
    "NotificationSettings": _obj(
        ["push_after_seconds", "email_digest_minutes"],
        {
            "push_after_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
            "email_digest_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
        },
    ),
    "Audience": {
        "oneOf": [
            {"type": "string", "enum": ["everyone", "staff", "customers"]},
            _obj(["stores"], {"stores": {"type": "array", "items": INT, "minItems": 1}}),
        ]
    },
    "Announcement": _obj(
        ["id", "title", "audience", "status"],
        {
            "id": INT,
            "title": STR,
            "body": STR,
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "audience": _ref("Audience"),
            "author": NULLABLE_STR,
            "status": {"type": "string", "enum": ["scheduled", "sending", "delivered", "expired"]},
            "created_at": TIME,
            "publish_at": TIME,
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "recipients_count": INT,
            "read_count": {"type": ["integer", "null"]},
        },
    ),
    "WebhookEvent": _obj(
        ["type", "timestamp", "data"],
        {
            "type": {
                "type": "string",
                "enum": ["order.created", "order.updated", "order.status_changed", "order.comment_added"],
            },
            "timestamp": TIME,
            "data": _obj(
                ["store_id", "external_id"],
                {
                    "store_id": INT,
                    "external_id": {"type": "string", "maxLength": 100},
                    "total": {"type": ["string", "integer", "number"], "description": _("required by order.created")},
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "line_items": {"type": "array", "items": _ref("LineItemIn"), "maxItems": 500},
                    "notes": STR,
                    "customer": _obj(["email"], {"email": {"type": "string", "format": "email"}, "name": STR}),
                    "status": _ref("OrderStatus"),
                    "body": STR,
                },
            ),
        },
    ),
    "Integration": _obj(
        ["id", "name", "webhook_url"],
        {
            "id": INT,
            "name": STR,
            "all_stores": BOOL,
            "stores": {"type": "array", "items": INT},
            "created_at": TIME,
            "webhook_url": STR,
            "secret": {"type": "string", "description": _("only in the answer that created it")},
            "secrets": {
                "type": "array",
                "items": _obj(
                    ["id", "prefix", "active"], {"id": INT, "prefix": STR, "created_at": TIME, "active": BOOL}
                ),
            },
        },
    ),
    "Delivery": _obj(
        ["id", "webhook_id", "accepted", "status_code"],
        {
            "id": INT,
            "webhook_id": STR,
            "event_type": STR,
            "received_at": TIME,
            "accepted": BOOL,
            "status_code": INT,
            "error": STR,
            "order_id": {"type": ["integer", "null"]},
        },
    ),
    "PushDevice": _obj(
        ["id", "endpoint", "created_at"],
        {
            "id": INT,
            "endpoint": STR,
            "user_agent": STR,
            "created_at": TIME,
            "last_sent_at": {"type": ["string", "null"]},
        },
    ),
    "PushSubscription": _obj(
        ["endpoint", "keys"],
        {
            "endpoint": {
                "type": "string",
                "maxLength": 1000,
                "description": _("an https URL of a push service this server sends to (WEB_PUSH_HOSTS)"),
            },
            "expirationTime": {"type": ["number", "null"], "description": _("ignored")},
            "keys": _obj(
                ["p256dh", "auth"],
                {
                    "p256dh": {"type": "string", "description": _("the browser's P-256 public key, base64url")},
                    "auth": {"type": "string", "description": _("the 16-byte auth secret, base64url")},
                },
            ),
        },
    ),
    "ApiToken": _obj(
        ["id", "name", "prefix"],
        {
            "id": INT,
            "name": STR,
            "prefix": STR,
            "created_at": TIME,
            "last_used_at": {"type": ["string", "null"]},
            "revoked": BOOL,
            "token": {"type": "string", "description": _("only in the answer that created it")},
        },
    ),
}

ORDER_ID, STORE_ID, INTEGRATION_ID = _path_param("order_id"), _path_param("store_id"), _path_param("integration_id")
T_ORDERS, T_ALERTS, T_INTEGRATIONS, T_ACCOUNT = ("Orders",), ("Notifications",), ("Integrations",), ("Account",)

PATHS = {
    "/api/stores/{store_id}/orders": {
        "get": _op(
            _("A store's orders, newest first, with the stream position (staff of the store)"),
            _json(_page("Order", {"latest_seq": INT})),
            errors=("400", "401", "403", "404", "422"),
            params=(STORE_ID, STATUS_FILTER, *PAGING),
            tags=T_ORDERS,
        )
    },
    "/api/orders": {
        "get": _op(
            _("A customer's own orders; the orders of a staff member's stores"),
            _json(_page("Order")),
            errors=("400", "401", "422"),
            params=(STATUS_FILTER, *PAGING),
            tags=T_ORDERS,
        )
    },
    "/api/orders/{order_id}": {
        "get": _op(
            _("One order with its comments and its status timeline (oldest first, from its creation)"),
            _json(
                {
                    "allOf": [
                        _ref("Order"),
                        {
                            "type": "object",
                            "properties": {
                                "comments": {"type": "array", "items": _ref("Comment")},
                                "timeline": {"type": "array", "items": _ref("TimelineEntry")},
                            },
                        },
                    ]
                }
            ),
            errors=("401", "404"),
            params=(ORDER_ID,),
            tags=T_ORDERS,
        )
    },
    "/api/orders/{order_id}/status": {
        "post": _op(
            _("Move an order along new → accepted → preparing → ready → completed, or cancel it (staff)"),
            _json(_ref("Order")),
            body=_obj(["status"], {"status": _ref("OrderStatus")}),
            errors=("400", "401", "403", "404", "413", "422"),
            params=(ORDER_ID,),
            tags=T_ORDERS,
        )
    },
    "/api/orders/{order_id}/comments": {
        "post": _op(
            _("Comment on an order (staff); `@username` alerts a user who may see it"),
            _json(_ref("Comment"), _("Created")),
            status="201",
            body=_obj(["body"], {"body": {"type": "string", "minLength": 1, "maxLength": 2000}}),
            errors=("400", "401", "403", "404", "413", "422"),
            params=(ORDER_ID,),
            tags=T_ORDERS,
        )
    },
    "/api/notifications": {
        "get": _op(
            _(
                "A page of a box (all and unread leave archived ones out), newest first, and the cursor of the next;"
                " with page, page_size or unread: the older numbered pages of the inbox"
            ),
            _json(
                {
                    "oneOf": [
                        _obj(
                            ["results", "next", "unread_count", "unseen_count"],
                            {
                                "box": {"type": "string", "enum": ["all", "unread", "archived"]},
                                "before": {"type": ["integer", "null"]},
                                "results": {"type": "array", "items": _ref("Notification")},
                                "next": {"type": ["integer", "null"], "description": _("`before` of the next page")},
                                "unread_count": INT,
                                "unseen_count": INT,
                            },
                        ),
                        _page("Notification", {"unread_count": INT, "unseen_count": INT}),
                    ]
                }
            ),
            errors=("400", "401"),
            params=(
                _query("box", {"type": "string", "enum": ["all", "unread", "archived"]}),
                _query("before", {"type": "integer", "minimum": 1}, _("ids below this one (the previous page's next)")),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                _query("unread", {"type": "string", "enum": ["true", "false"]}, _("numbered pages (older form)")),
                *PAGING,
            ),
            tags=T_ALERTS,
        )
    },
    "/api/notifications/read": {
        "post": _op(
            _("Mark some or all read (and seen); every socket of the user hears it"),
            _json(_ref("NotificationStateChange")),
            body={"oneOf": [IDS_BODY, _obj(["all"], {"all": {"const": True}})]},
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        )
    },
    "/api/notifications/seen": {
        "post": _op(
            _("Mark some or all seen (the badge); every socket of the user hears it"),
            _json(_ref("NotificationStateChange")),
            body={"oneOf": [IDS_BODY, _obj(["all"], {"all": {"const": True}})]},
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        )
    },
    "/api/notifications/archive": {
        "post": _op(
            _("Archive some (which reads them), or every read one; every socket of the user hears it"),
            _json(_ref("NotificationStateChange")),
            body={"oneOf": [IDS_BODY, _obj(["read"], {"read": {"const": True}})]},
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        )
    },
    "/api/notifications/unarchive": {
        "post": _op(
            _("Put archived ones back in the inbox (still read); every socket of the user hears it"),
            _json(_ref("NotificationStateChange")),
            body=IDS_BODY,
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        )
    },
    "/api/notifications/preferences": {
        "get": _op(
            _("Every kind: its label, whether it is critical, and the channels the user gets it on"),
            _json(_ref("NotificationPreferences")),
            tags=T_ALERTS,
        ),
        "put": _op(
            _(
                "Change some channels of some kinds (a kind muted in the app is stored and listed, never pushed"
                " nor counted); a critical kind cannot be turned off (422 critical_kind). `muted_kinds` (the older"
                " form) replaces the kinds muted in the app"
            ),
            _json(_ref("NotificationPreferences")),
            body={
                "oneOf": [
                    _obj(
                        ["kinds"],
                        {
                            "kinds": {
                                "type": "object",
                                "additionalProperties": _obj([], {"in_app": BOOL, "push": BOOL, "email": BOOL}),
                            }
                        },
                    ),
                    _obj(["muted_kinds"], {"muted_kinds": {"type": "array", "items": STR}}),
                ]
            },
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        ),
    },
    "/api/notifications/deliveries": {
        "get": _op(
            _(
                "What became of the user's own notifications on each off-site channel (push, e-mail): queued,"
                " sending, sent, skipped (and why) or failed; newest notification first, with the cursor of the"
                " next page"
            ),
            _json(
                _obj(
                    ["before", "results", "next"],
                    {
                        "before": {"type": ["integer", "null"]},
                        "results": {"type": "array", "items": _ref("NotificationDelivery")},
                        "next": {"type": ["integer", "null"], "description": _("`before` of the next page")},
                    },
                )
            ),
            errors=("400", "401"),
            params=(
                _query(
                    "before",
                    {"type": "integer", "minimum": 1},
                    _("the deliveries after this one of yours (the previous page's next)"),
                ),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
            ),
            tags=T_ALERTS,
        )
    },
    "/api/manage/deliveries/summary": {
        "get": _op(
            _("How many deliveries made in the last `days` are in each channel, status and reason (tenant admins)"),
            _json(_ref("DeliverySummary")),
            errors=("400", "401", "403"),
            params=(_query("days", {"type": "integer", "minimum": 1, "maximum": 90, "default": 7}),),
            tags=T_ALERTS,
        )
    },
    "/api/manage/notification-settings": {
        "get": _op(
            _("The tenant's push and email timing (tenant admins)"),
            _json(_ref("NotificationSettings")),
            errors=("401", "403"),
            tags=T_ALERTS,
        ),
        "put": _op(
            _(
                "Change some of the tenant's timing (tenant admins): JSON integers only; notifications made"
                " after it use it, pushes already queued keep their time"
            ),
            _json(_ref("NotificationSettings")),
            body={
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "push_after_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                    "email_digest_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
                },
            },
            errors=("400", "401", "403", "413", "422"),
            tags=T_ALERTS,
        ),
    },
    "/api/manage/notification-kinds": {
        "get": _op(
            _("Every kind with its label and whether it is critical (tenant admins)"),
            _json(_ref("NotificationKinds")),
            errors=("401", "403"),
            tags=T_ALERTS,
        ),
        "put": _op(
            _("Mark kinds critical (nobody can mute them) or not (tenant admins)"),
            _json(_ref("NotificationKinds")),
            body=_obj(
                ["kinds"],
                {"kinds": {"type": "object", "additionalProperties": _obj(["critical"], {"critical": BOOL})}},
            ),
            errors=("400", "401", "403", "413", "422"),
            tags=T_ALERTS,
        ),
    },
    "/api/push/key": {
        "get": _op(
            _("The VAPID public key (base64url) browsers subscribe with; 404 push_unavailable when push is off"),
            _json(_obj(["public_key"], {"public_key": STR})),
            errors=("401", "404"),
            tags=T_ALERTS,
        )
    },
    "/api/push/devices": {
        "get": _op(
            _("My Web Push devices, newest first"),
            _json(_obj(["results"], {"results": {"type": "array", "items": _ref("PushDevice")}})),
            tags=T_ALERTS,
        ),
        "post": _op(
            _(
                "Register this browser's push subscription (PushSubscription.toJSON()): 201 when the device is new"
                " to me (an endpoint another user of the tenant had moves to me), 200 when it was mine already; the"
                " oldest of more than 10 devices is deleted"
            ),
            _json(_ref("PushDevice"), _("Created")),
            status="201",
            body=_ref("PushSubscription"),
            errors=("400", "401", "404", "413", "422"),
            tags=T_ALERTS,
        ),
        "delete": _op(
            _("Forget my device at this endpoint (`deleted` is 0 when it was not mine)"),
            _json(_obj(["deleted"], {"deleted": INT})),
            body=_obj(["endpoint"], {"endpoint": STR}),
            errors=("400", "401", "413", "422"),
            tags=T_ALERTS,
        ),
    },
    "/api/announcements": {
        "get": _op(
            _("History with received and read counts (tenant admins)"),
            _json(_page("Announcement")),
            errors=("400", "401", "403"),
            params=PAGING,
            tags=T_ALERTS,
        ),
        "post": _op(
            _("Announce to an audience (tenant admins); delivered after the answer, at publish_at"),
            _json(_ref("Announcement"), _("Created")),
            status="201",
            body=_obj(
                ["title", "audience"],
                {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "body": {"type": "string", "maxLength": 5000},
                    "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
                    "audience": _ref("Audience"),
                    "publish_at": TIME,
                    "expires_at": TIME,
                },
            ),
            errors=("400", "401", "403", "413", "422"),
            tags=T_ALERTS,
        ),
    },
    "/api/announcements/audience": {
        "post": _op(
            _("How many people an audience reaches now (tenant admins), to confirm before sending"),
            _json(_obj(["audience", "recipients"], {"audience": _ref("Audience"), "recipients": INT})),
            body=_obj(["audience"], {"audience": _ref("Audience")}),
            errors=("400", "401", "403", "413", "422"),
            tags=T_ALERTS,
        )
    },
    "/api/integrations/{integration_id}/webhook": {
        "post": _op(
            _("Standard Webhooks delivery: create or update orders. 2xx also for a duplicate webhook-id (same body)."),
            _json(
                _obj(
                    ["status", "webhook_id", "order"],
                    {
                        "status": {"type": "string", "enum": ["processed", "duplicate"]},
                        "webhook_id": STR,
                        "order": {"oneOf": [_ref("Order"), {"type": "null"}]},
                    },
                )
            ),
            body=_ref("WebhookEvent"),
            errors=("400", "401", "403", "404", "409", "413", "422", "429", "503"),
            params=(
                INTEGRATION_ID,
                {"name": "webhook-id", "in": "header", "required": True, "schema": STR},
                {
                    "name": "webhook-timestamp",
                    "in": "header",
                    "required": True,
                    "schema": STR,
                    "description": _("Unix seconds, ±5 minutes"),
                },
                {
                    "name": "webhook-signature",
                    "in": "header",
                    "required": True,
                    "schema": STR,
                    "description": _("space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`"),
                },
            ),
            security=[],
            tags=T_INTEGRATIONS,
        )
    },
    "/api/integrations": {
        "get": _op(
            _("Integrations (tenant admins)"),
            _json(_page("Integration")),
            errors=("400", "401", "403"),
            params=PAGING,
            tags=T_INTEGRATIONS,
        ),
        "post": _op(
            _("Create one; its first secret is in this answer only"),
            _json(_ref("Integration"), _("Created")),
            status="201",
            body=_obj(
                ["name"], {"name": {"type": "string", "maxLength": 100}, "stores": {"type": "array", "items": INT}}
            ),
            errors=("400", "401", "403", "413", "422"),
            tags=T_INTEGRATIONS,
        ),
    },
    "/api/integrations/{integration_id}/secrets": {
        "post": _op(
            _("Rotate: add a secret (in this answer only); older ones stay valid until revoked"),
            _json(_obj(["secret"], {"secret": STR}), _("Created")),
            status="201",
            errors=("401", "403", "404"),
            params=(INTEGRATION_ID,),
            tags=T_INTEGRATIONS,
        )
    },
    "/api/integrations/{integration_id}/secrets/{secret_id}": {
        "delete": _op(
            _("Revoke a secret"),
            _json(_obj(["revoked"], {"revoked": INT})),
            errors=("401", "403", "404"),
            params=(INTEGRATION_ID, _path_param("secret_id")),
            tags=T_INTEGRATIONS,
        )
    },
    "/api/integrations/{integration_id}/deliveries": {
        "get": _op(
            _("Recent deliveries, accepted and refused, newest first; filters combine"),
            _json(_page("Delivery")),
            errors=("400", "401", "403", "404"),
            params=(
                INTEGRATION_ID,
                *PAGING,
                _query("outcome", {"type": "string", "enum": ["accepted", "refused"]}),
                _query(
                    "event_type",
                    {
                        "type": "string",
                        "enum": ["order.created", "order.updated", "order.status_changed", "order.comment_added"],
                    },
                ),
                _query("since", TIME, _("received at or after this moment (with a UTC offset)")),
                _query("after", {"type": "integer", "minimum": 0}, _("only deliveries with a larger id (polling)")),
            ),
            tags=T_INTEGRATIONS,
        )
    },
    "/api/integrations/{integration_id}/test-event": {
        "post": _op(
            _(
                "Sign a test order.created with the integration's newest secret and apply it through the webhook's "
                "own code: a real order on the store's boards and a delivery in the log. `delivered` false when the "
                "webhook refused it (`status` and `answer` are what the shop would have got)."
            ),
            _json(
                _obj(
                    ["delivered", "status", "webhook_id", "answer"],
                    {"delivered": BOOL, "status": INT, "webhook_id": STR, "answer": {"type": "object"}},
                )
            ),
            body=_obj(["store_id"], {"store_id": {"type": "integer", "minimum": 1}}),
            errors=("400", "401", "403", "404", "413", "422"),
            params=(INTEGRATION_ID,),
            tags=T_INTEGRATIONS,
        )
    },
    "/api/ws-tickets": {
        "post": _op(
            _("A single-use socket ticket (`?ticket=`), valid 30 s, bound to this tenant and user"),
            _json(_obj(["ticket", "expires_in"], {"ticket": STR, "expires_in": INT}), _("Created")),
            status="201",
            tags=T_ACCOUNT,
        )
    },
    "/api/account/language": {
        "get": _op(
            _('My language: `language` as chosen ("" follows the tenant\'s default), `effective` as shown now'),
            _json(_ref("AccountLanguage")),
            tags=T_ACCOUNT,
        ),
        "put": _op(
            _("Choose my language: es, en, or \"\" for the tenant's default (then the browser's)"),
            _json(_ref("AccountLanguage")),
            body=_obj(["language"], {"language": {"type": "string", "enum": ["", "es", "en"]}}),
            errors=("400", "401", "403", "413", "422"),
            tags=T_ACCOUNT,
        ),
    },
    "/api/tokens": {
        "get": _op(
            _("My API tokens (never the token itself)"),
            _json(_obj(["results"], {"results": {"type": "array", "items": _ref("ApiToken")}})),
            tags=T_ACCOUNT,
        ),
        "post": _op(
            _("Create an API token; shown in this answer only"),
            _json(_ref("ApiToken"), _("Created")),
            status="201",
            body=_obj(["name"], {"name": {"type": "string", "minLength": 1, "maxLength": 100}}),
            errors=("400", "401", "413", "422"),
            tags=T_ACCOUNT,
        ),
    },
    "/api/tokens/{token_id}": {
        "delete": _op(
            _("Revoke one of my tokens"),
            _json(_obj(["revoked"], {"revoked": INT})),
            errors=("401", "404"),
            params=(_path_param("token_id"),),
            tags=T_ACCOUNT,
        )
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Pregón API",
        "version": "1",
        "description": _(
            "JSON over HTTPS on the tenant's host. Browser sessions send Django's CSRF token in "
            "X-CSRFToken on writes; other clients use `Authorization: Bearer pgn_…`. Errors are always "
            '`{"error": {"code", "message", "fields"}}`.'
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": _("an API token, `pgn_…`")},
            "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        },
        "responses": {
            name: _json(_ref("Error"), description)
            for name, description in {
                "BadRequest": _("Not a JSON object, or bad paging"),
                "Unauthorized": _("Not signed in, or a bad signature/token"),
                "Forbidden": _("Not allowed"),
                "NotFound": _("Unknown, or not visible to you"),
                "Conflict": _("This webhook-id was already applied with a different body; nothing was written"),
                "TooLarge": _("Body over the limit"),
                "Invalid": _("A field is wrong; `fields` names each"),
                "RateLimited": _(
                    "Over WEBHOOK_REQUESTS_PER_MINUTE signed requests for this integration, or over "
                    "WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE unverified ones from this address; see Retry-After"
                ),
                "Unavailable": _("PostgreSQL or Redis is briefly down; nothing was written, retry after Retry-After"),
            }.items()
        },
    },
}


def document() -> dict:
    """DOCUMENT in the active language: its summaries and descriptions are
    lazy translations, made text here (as JSON would)."""
    return json.loads(json.dumps(DOCUMENT, cls=DjangoJSONEncoder))


@require_GET
def openapi_json(request):
    """In the reader's language (LanguageMiddleware); the names, codes and
    schemas are the same in every language."""
    return JsonResponse(document(), json_dumps_params={"indent": 1})


@require_GET
def api_docs(request):
    return render(request, "api_docs.html")
