"""Stored forecasts: method and intervals kept per product and location, orders reused, demand for replenishment."""

from datetime import date, timedelta
from decimal import Decimal as D

import numpy as np
import pytest

from reports import selectors, services, simulation
from reports.models import Forecast, ForecastMethod
from reports.services import SoldLine, sales_daily_add
from tests.factories import ProductFactory

END = date(2026, 11, 22)
WEEK = [10, 9, 10, 11, 14, 20, 18]  # Mon..Sun


def sell_weekly_pattern(product, location, days: int = 120):
    sales_daily_add(
        lines=[
            SoldLine(product.pk, location.pk, day, D(WEEK[day.weekday()]), D(WEEK[day.weekday()]) * 4, D(1))
            for day in (END - timedelta(days=d) for d in range(days))
        ]
    )


@pytest.mark.django_db
def test_a_forecast_is_stored_with_method_days_and_interval_and_replaced_by_the_next(floor):
    product = ProductFactory()
    sell_weekly_pattern(product, floor)
    methods = services.forecasts_make(product_ids=[product.pk], location=floor, history_end=END, horizon=5)
    assert methods == {"arima": 1}
    forecast = Forecast.objects.get(product=product, location=floor)
    assert forecast.method == ForecastMethod.ARIMA and forecast.searched_on == END and len(forecast.order) == 3
    days = list(forecast.days.all())
    assert [d.day for d in days] == [END + timedelta(days=i) for i in range(1, 6)]
    assert all(d.lower <= d.mean <= d.upper for d in days)
    assert abs(days[0].mean - D(WEEK[0])) < 1  # the 23rd is a Monday

    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=END + timedelta(days=1))
    forecast = Forecast.objects.get(product=product, location=floor)  # still one, its days replaced
    assert forecast.days.count() == 7 and forecast.searched_on == END  # the order is kept for a week


@pytest.mark.django_db
def test_stored_daily_demand_is_the_mean_forecast_per_day_or_none(floor, backroom):
    product = ProductFactory()
    sell_weekly_pattern(product, floor)
    assert selectors.stored_daily_demand(product, floor) is None
    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=END, horizon=7)
    demand = selectors.stored_daily_demand(product, floor)
    assert abs(demand - D(sum(WEEK)) / 7) < D("0.7")  # a week of the pattern averages 13.14 a day
    assert selectors.stored_daily_demand(product, backroom) is None


def test_forecast_driven_ordering_beats_min_max_on_a_seasonal_trending_series():
    rng = np.random.default_rng(7)
    days = 182 + 84
    start = END - timedelta(days=83)
    weekday = (np.arange(days) + (start - timedelta(days=182)).weekday()) % 7
    rate = np.array(WEEK, dtype=float)[weekday] * np.linspace(0.8, 1.4, days)
    demand = rng.poisson(rate).astype(float)
    fixed, driven = simulation.simulate_product(demand, first=182, lead_time=3, start=start, whole_units=True)
    assert driven.stockout_days < fixed.stockout_days
    assert driven.stock_units <= fixed.stock_units * 1.05
