"""Links that leave the site (a push, a mail): a path made absolute on the
active tenant's host, where no request is there to say its address."""

from django.db import connection

from platform_core.provisioning import site_url


def tenant_url(path: str) -> str:
    """`path` on the active tenant's primary domain, as
    SITE_URL_SCHEME://<domain>[:SITE_URL_PORT]<path> (the same address
    `create_tenant` prints links with); `path` as it is when it is a full
    URL already, or when the tenant has no primary domain."""
    if "://" in path:
        return path
    domain = connection.tenant.get_primary_domain()
    if domain is None:
        return path
    return site_url(domain=domain.domain, path=path)
