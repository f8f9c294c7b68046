"""The product's admin page shows its latest forecast, and links to the forecast chart for managers."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.models import Forecast, ForecastDay
from reports.selectors import latest_forecast_days
from supermarket.roles import BUYER, MANAGER, user_set_role
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def login(client, django_user_model, role):
    user = django_user_model.objects.create_user(role.lower(), password="x")
    user_set_role(user=user, role=role)
    client.force_login(user)
    return client


def forecast(product, location, made: datetime, means):
    stored = Forecast.objects.create(
        product=product, location=location, made_at=made, history_end=date(2026, 11, 22), method="seasonal_naive"
    )
    for offset, mean in enumerate(means):
        ForecastDay.objects.create(
            forecast=stored,
            day=date(2026, 11, 23) + timedelta(days=offset),
            mean=D(mean),
            lower=D(0),
            upper=D(mean) * 2,
        )
    return stored


def test_the_change_page_shows_the_latest_forecast_with_a_link_to_its_chart(client, django_user_model, floor, backroom):
    product = ProductFactory()
    forecast(product, backroom, timezone.now() - timedelta(days=3), ["1.000"])
    latest = forecast(product, floor, timezone.now(), ["4.250", "6.500"])
    page = login(client, django_user_model, MANAGER).get(reverse("admin:catalog_product_change", args=[product.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="product-forecast"' in body
    assert "4.250" in body and "13.000" in body and "1.000" not in body  # the newer forecast, upper bound of day 2
    assert f"{reverse('reports:forecast', args=[product.pk])}?location={latest.location_id}" in body


def test_latest_forecast_for_the_admin_page_is_one_query(floor):
    product = ProductFactory()
    forecast(product, floor, timezone.now(), ["2"])
    with CaptureQueriesContext(connection) as queries:
        days = latest_forecast_days(product.pk)
        assert days[0].forecast.location.code and days[0].forecast.method == "seasonal_naive"
    assert len(queries) == 1


def test_a_product_without_forecast_has_no_forecast_panel(client, django_user_model, floor):
    product = ProductFactory()
    page = login(client, django_user_model, MANAGER).get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert page.status_code == 200 and 'id="product-forecast"' not in page.content.decode()


def test_the_product_list_links_managers_to_forecasts_but_not_buyers(client, django_user_model):
    product = ProductFactory()
    link = reverse("reports:forecast", args=[product.pk])
    as_manager = login(client, django_user_model, MANAGER).get(reverse("admin:catalog_product_changelist"))
    assert link in as_manager.content.decode()
    as_buyer = login(client, django_user_model, BUYER).get(reverse("admin:catalog_product_changelist"))
    assert as_buyer.status_code == 200 and link not in as_buyer.content.decode()
