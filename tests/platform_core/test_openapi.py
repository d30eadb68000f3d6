"""The OpenAPI document is valid and describes exactly the /api/ routes that exist."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from platform_core.openapi import DOCUMENT, document

NOT_DESCRIBED = {"/api/openapi.json", "/api/docs"}


def routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver("config.urls").url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), pattern.callback


def test_the_document_is_valid_openapi():
    validate(document())


def test_every_api_route_and_method_is_described_and_nothing_else():
    served = {
        (path, method.lower()) for path, view in routes() if path not in NOT_DESCRIBED for method in view.api_methods
    }
    described = {(path, method) for path, operations in DOCUMENT["paths"].items() for method in operations}
    assert served == described


@pytest.mark.django_db
def test_the_document_and_its_page_are_served(tenants):
    client = Client(HTTP_HOST="acme.localhost")
    document = client.get("/api/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"
    assert client.get("/api/docs").status_code == 200
