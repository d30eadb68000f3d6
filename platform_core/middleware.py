from platform_core.views import healthz


class HealthCheckMiddleware:
    """Answer `/healthz` before tenant routing.

    django-tenants resolves the tenant from the database; with the database
    down that would raise (a 500) instead of the 503 that tells a load
    balancer what is wrong. Health is a property of the process, not of a
    tenant, so it answers on any Host: load balancers and orchestrators
    probe by the instance's IP, which is in no ALLOWED_HOSTS. It reveals
    nothing but "ok"/"fail" per dependency.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return healthz(request)
        return self.get_response(request)
