import uuid
from decimal import Decimal

import pytest
from django.urls import URLPattern

from checkout import api_urls
from checkout.services import api_token_for

pytestmark = pytest.mark.django_db


def _route(pattern: URLPattern) -> str:
    route = str(pattern.pattern)
    for converter in ("<str:", "<int:"):
        route = route.replace(converter, "{")
    return "/" + route.replace(">", "}")


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_api_route_is_described_and_nothing_else(spec):
    routes = {_route(p) for p in api_urls.urlpatterns if p.name != "openapi"}
    assert set(spec["paths"]) == routes


def test_each_described_route_resolves_with_the_documented_methods(spec, client):
    for path, operations in spec["paths"].items():
        url = "/api" + path.replace("{code}", "6901234567892").replace("{number}", "X")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if method in operations:
                assert response.status_code != 405, (method, path)
            else:
                assert response.status_code == 405, (method, path)


def _check(schema: dict, value, where: str) -> None:
    """A small JSON-schema check: types and required and documented properties."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    python = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "null": type(None)}
    if kinds:
        assert any(isinstance(value, python[k]) for k in kinds), f"{where}: {value!r} is not {kinds}"
    if isinstance(value, dict) and "properties" in schema:
        for name in schema.get("required", []):
            assert name in value, f"{where}: missing {name}"
        assert set(value) <= set(schema["properties"]), (
            f"{where}: undocumented {set(value) - set(schema['properties'])}"
        )
        for name, item in value.items():
            _check(schema["properties"][name], item, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, f"{where}[{i}]")


def test_real_responses_match_the_documented_schemas(spec, client, cashier, stocked):
    (product,) = stocked(1, on_hand=Decimal(5))
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token_for(cashier).key}"}
    responses = spec["paths"]
    product_response = client.get(f"/api/products/{product.barcode}", **auth)
    _check(
        responses["/products/{code}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        product_response.json(),
        "product",
    )
    body = {
        "client_token": str(uuid.uuid4()),
        "lines": [{"code": product.barcode, "quantity": "2"}],
        "payments": [{"method": "cash", "amount": "10.00"}],
    }
    import json

    sale = client.post("/api/sales", data=json.dumps(body), content_type="application/json", **auth)
    assert str(sale.status_code) in responses["/sales"]["post"]["responses"]
    _check(
        responses["/sales"]["post"]["responses"]["201"]["content"]["application/json"]["schema"], sale.json(), "sale"
    )
    refused = client.post("/api/sales", data="[]", content_type="application/json", **auth)
    _check(
        responses["/sales"]["post"]["responses"]["400"]["content"]["application/json"]["schema"],
        refused.json(),
        "error",
    )
