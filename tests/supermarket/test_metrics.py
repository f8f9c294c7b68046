from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stock.models import MovementKind
from stock.services import stock_move
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[str, dict]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def test_metrics_parse_and_report_stock_figures(client, floor):
    product = ProductFactory(safety_stock=Decimal(10))
    stock_move(product=product, location=floor, quantity=Decimal(12), kind=MovementKind.RECEIPT)
    stock_move(product=product, location=floor, quantity=Decimal(-5), kind=MovementKind.SALE)
    samples = scrape(client)
    assert samples["supermarket_open_replenishment_suggestions"][0].value == 1
    assert samples["supermarket_products_below_safety_stock"][0].value == 1


def test_request_counter_moves_after_a_request(client):
    def healthz_count(samples):
        return sum(
            s.value for s in samples.get("supermarket_http_requests_total", []) if s.labels.get("view") == "healthz"
        )

    before = healthz_count(scrape(client))
    client.get("/healthz")
    client.get("/healthz")
    assert healthz_count(scrape(client)) == before + 2


def test_metrics_are_refused_outside_the_allow_list(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.9.9.0/24"]
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def value(samples, name, **labels) -> float:
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


def test_business_counters_move_after_api_scans_and_a_sale(client, floor, django_user_model):
    import uuid

    from checkout.models import Register
    from checkout.pricing import LineInput, PaymentInput
    from checkout.services import sale_complete

    product = ProductFactory(selling_price=Decimal("4.50"))
    stock_move(product=product, location=floor, quantity=Decimal(10), kind=MovementKind.RECEIPT)
    before = scrape(client)
    online = Register.online_register()
    sale_complete(
        client_token=uuid.uuid4(),
        register=online,
        lines=[LineInput(product=product, quantity=Decimal(2), code=product.barcode)],
        payments=[PaymentInput(method="card", amount=Decimal("9.00"))],
        user=django_user_model.objects.create_user("api-cashier"),
    )
    after = scrape(client)
    register = {"register": online.code}
    assert (
        value(after, "supermarket_sales_total", **register) == value(before, "supermarket_sales_total", **register) + 1
    )
    assert value(after, "supermarket_sales_amount_yuan_total", **register) == pytest.approx(
        value(before, "supermarket_sales_amount_yuan_total", **register) + 9.0
    )


def test_api_scans_and_failed_lookups_are_counted(client, django_user_model):
    from supermarket.roles import CASHIER, user_set_role
    from tests.factories import ean13

    cashier = django_user_model.objects.create_user("scanner")
    user_set_role(user=cashier, role=CASHIER)
    product = ProductFactory()
    before = scrape(client)
    client.force_login(cashier)
    assert client.get(f"/api/products/{product.barcode}").status_code == 200
    assert client.get(f"/api/products/{ean13(987654)}").status_code == 404
    client.logout()
    after = scrape(client)
    for name, labels in (
        ("supermarket_scans_total", {"outcome": "api"}),
        ("supermarket_scans_total", {"outcome": "unknown"}),
        ("supermarket_failed_lookups_total", {"reason": "unknown"}),
    ):
        assert value(after, name, **labels) == value(before, name, **labels) + 1, (name, labels)
