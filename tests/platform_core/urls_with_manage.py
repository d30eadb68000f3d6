"""The tenant urlconf plus a /manage/ page, as the tenant admins' pages will
route it: the header shows "Manage" only once the path is routed."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as tenant_urlpatterns

urlpatterns = [*tenant_urlpatterns, path("manage/", lambda request: HttpResponse("manage"))]
