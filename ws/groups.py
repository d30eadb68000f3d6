"""Channel-layer group names. Built here and nowhere else.

Groups are global across tenants while ids repeat in every schema (store 1
exists in acme and in globex), so every name carries the tenant's primary
key. Channels accepts only ``[A-Za-z0-9._-]`` and fewer than 100
characters; ids are integers, so names stay far below that.
"""

from tenants.models import Tenant


def store_orders(tenant: Tenant, store_id: int) -> str:
    """The live stream of one store's orders (`pedidos_<store_id>`)."""
    return f"t{int(tenant.pk)}.pedidos_{int(store_id)}"


def user_notifications(tenant: Tenant, user_id: int) -> str:
    """Every open socket of one user (`notificaciones_<user_id>`)."""
    return f"t{int(tenant.pk)}.notificaciones_{int(user_id)}"


def access_control() -> str:
    """Every worker process: access changed for someone (ws/access.py). The
    tenant travels in the message; workers hold sockets of every tenant."""
    return "access"
