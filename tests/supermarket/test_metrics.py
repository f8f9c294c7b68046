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
