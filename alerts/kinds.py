"""What each kind of notification says, in the reader's language.

A notification is stored with its `kind` and `params` (JSON primitives:
an order's reference and status code, a store's name, counts), and its
title and body are rendered from them when someone reads it, in the
language that is active then (the request's, or the socket's). So a
reader who switches language sees old notifications in the new one, and
a status change made by an English-speaking colleague reaches a
Spanish-speaking customer in Spanish.

Kinds whose text is written by a person (announcements, system messages)
have no template: their stored title and body are shown as they are. A
kind's body may be free text too (a comment's words): then only the title
is rendered. Rows stored before params existed (`params` is null) keep
their stored title and body.

Order statuses are named here by their codes, with the same msgids as
orders.models.Order.Status (one translation for both): the alerts layer
does not import orders.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

CHANNELS = ("in_app", "push", "email")

# LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM.
NO_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
# Line breaks and other control characters in a value (an integrator's
# order reference) become spaces: a value is a word in our sentence, never
# lines of its own in a mail or a push.
NO_CONTROLS = {**NO_BIDI_CONTROLS, **dict.fromkeys([*range(0x00, 0x20), 0x7F, 0x85, 0x2028, 0x2029], " ")}

# Until a user chooses: everything in the inbox, live and counted, and
# pushed to the devices they turned on; e-mail (a digest of what stays
# unread) only for what happens to their own orders.
DEFAULT_CHANNELS = {"in_app": True, "push": True, "email": False}
EMAIL_BY_DEFAULT = frozenset({"order_status", "order_comment"})


def default_channels(kind: str) -> dict[str, bool]:
    """The channels a user gets `kind` on until they choose."""
    return {**DEFAULT_CHANNELS, "email": kind in EMAIL_BY_DEFAULT}


STATUS_LABELS = {
    "new": gettext_lazy("New"),
    "accepted": gettext_lazy("Accepted"),
    "preparing": gettext_lazy("Preparing"),
    "ready": gettext_lazy("Ready"),
    "completed": gettext_lazy("Completed"),
    "cancelled": gettext_lazy("Cancelled"),
}


@dataclass(frozen=True)
class Texts:
    # params → text in the active language; None: the stored text is shown.
    title: Callable[[dict], str] | None = None
    body: Callable[[dict], str] | None = None


def _status(params: dict) -> str:
    return str(STATUS_LABELS.get(params["status"], params["status"]))


def _order_status_title(params: dict) -> str:
    return _("Order %(ref)s is now %(status)s") % {"ref": params["ref"], "status": _status(params)}


def _order_status_body(params: dict) -> str:
    reason = params.get("reason")
    return _("Reason: %(reason)s") % {"reason": reason} if reason else ""


def _comment_title(params: dict) -> str:
    return _("New comment on order %(ref)s") % {"ref": params["ref"]}


def _mention_title(params: dict) -> str:
    author = params.get("author") or _("An integration")
    return _("%(author)s mentioned you on order %(ref)s") % {"author": author, "ref": params["ref"]}


def _unattended_title(params: dict) -> str:
    return _("Nobody is on the board of %(store)s") % {"store": params["store"]}


def _unattended_body(params: dict) -> str:
    return ngettext(
        "Order %(ref)s came in %(seconds)s seconds ago and is still waiting: no staff has the board open.",
        "%(count)s orders are waiting, the oldest (%(ref)s) for %(seconds)s seconds: no staff has the board open.",
        params["count"],
    ) % {"count": params["count"], "ref": params["ref"], "seconds": params["seconds"]}


TEXTS: dict[str, Texts] = {
    "order_status": Texts(title=_order_status_title, body=_order_status_body),
    "order_comment": Texts(title=_comment_title),  # the body is the comment
    "mention": Texts(title=_mention_title),  # the body is the comment
    "board_unattended": Texts(title=_unattended_title, body=_unattended_body),
}


def render(kind: str, params: dict | None, title: str, body: str) -> tuple[str, str]:
    """The title and body to show, in the active language. `title` and
    `body` are the stored ones: shown for free-text kinds, for rows
    without params, and for params of a shape this code no longer reads
    (never a 500 for an old row)."""
    texts = TEXTS.get(kind)
    if params is None or texts is None:
        return title, body
    # What integrators and people typed (an order's reference, a name) is
    # put in a sentence of ours: a right-to-left override in it would turn
    # the rest of the sentence around ("El pedido Rodatpeca…"). Bidi
    # controls are invisible; without them the text reads as typed.
    params = {key: value.translate(NO_CONTROLS) if isinstance(value, str) else value for key, value in params.items()}
    try:
        return (
            texts.title(params) if texts.title else title,
            texts.body(params) if texts.body else body,
        )
    except (KeyError, TypeError, ValueError):
        return title, body
