"""Stored forecasts: method and intervals kept per product and location, orders reused, demand for replenishment."""

from datetime import date, timedelta
from decimal import Decimal as D

import numpy as np
import pytest

from reports import forecasting, selectors, services, simulation
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
    # Not END itself: the night after it would have no sales, which rightly fails the stored model.
    search_day = next(
        END - timedelta(days=d) for d in range(1, 8) if forecasting.search_night(product.pk, END - timedelta(days=d))
    )
    methods = services.forecasts_make(product_ids=[product.pk], location=floor, history_end=search_day, horizon=5)
    assert methods == {"arima": 1}
    forecast = Forecast.objects.get(product=product, location=floor)
    assert forecast.method == ForecastMethod.ARIMA and forecast.searched_on == search_day
    assert tuple(forecast.order) in forecasting.ARIMA_ORDERS
    days = list(forecast.days.all())
    assert [d.day for d in days] == [search_day + timedelta(days=i) for i in range(1, 6)]
    assert all(d.lower <= d.mean <= d.upper for d in days)
    assert all(abs(d.mean - D(WEEK[d.day.weekday()])) < D("1.5") for d in days)

    searched = (forecast.order, forecast.params)
    assert len(forecast.params) == sum(forecast.order) + 2
    # The next night is not the product's search night: the stored model still fits and is reused as is.
    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=search_day + timedelta(days=1))
    forecast = Forecast.objects.get(product=product, location=floor)  # still one, its days replaced
    assert forecast.days.count() == 7 and forecast.history_end == search_day + timedelta(days=1)
    assert (forecast.order, forecast.params) == searched and forecast.searched_on == search_day


@pytest.mark.django_db
def test_a_stored_model_that_no_longer_fits_is_searched_afresh_on_an_ordinary_night(floor):
    product = ProductFactory()
    sell_weekly_pattern(product, floor)
    night = next(
        END - timedelta(days=d)
        for d in range(1, 8)
        if not forecasting.search_night(product.pk, END - timedelta(days=d))
    )
    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=night - timedelta(days=7))
    before = Forecast.objects.get(product=product, location=floor)
    sales_daily_add(  # the week up to `night` sells three times the pattern
        lines=[
            SoldLine(product.pk, floor.pk, day, D(2 * WEEK[day.weekday()]), D(1), D(1))
            for day in (night - timedelta(days=d) for d in range(7))
        ]
    )
    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=night)
    after = Forecast.objects.get(product=product, location=floor)
    assert after.searched_on == night and after.params != before.params


def test_each_series_is_searched_on_exactly_one_night_a_week():
    nights = [END + timedelta(days=d) for d in range(7)]
    for series_id in range(1, 30):
        assert sum(forecasting.search_night(series_id, night) for night in nights) == 1


@pytest.mark.django_db
def test_stored_daily_demand_is_the_mean_forecast_per_day_or_none(floor, backroom):
    product = ProductFactory()
    sell_weekly_pattern(product, floor)
    assert selectors.stored_daily_demand(product, floor) is None
    services.forecasts_make(product_ids=[product.pk], location=floor, history_end=END, horizon=7)
    demand = selectors.stored_daily_demand(product, floor)
    assert abs(demand - D(sum(WEEK)) / 7) < D("0.7")  # a week of the pattern averages 13.14 a day
    assert selectors.stored_daily_demand(product, backroom) is None


def weekly_demand(seed: int, growth: float) -> tuple[np.ndarray, date]:
    rng = np.random.default_rng(seed)
    days = 182 + 84
    start = END - timedelta(days=83)
    weekday = (np.arange(days) + (start - timedelta(days=182)).weekday()) % 7
    rate = np.array(WEEK, dtype=float)[weekday] * np.linspace(1.0, growth, days)
    return rng.poisson(rate).astype(float), start


@pytest.mark.parametrize("seed", [7, 8])
def test_on_a_steady_weekly_pattern_forecast_ordering_holds_less_stock_without_more_stockouts(seed):
    demand, start = weekly_demand(seed, growth=1.0)
    fixed, driven = simulation.simulate_product(demand, first=182, lead_time=3, start=start, whole_units=True)
    assert driven.stockout_days <= fixed.stockout_days
    assert driven.stock_units < fixed.stock_units


@pytest.mark.parametrize("seed", [7, 8])
def test_on_growing_demand_forecast_ordering_keeps_up_with_far_less_stock(seed):
    # The store's rule covers lead time + review + a safety stock of lead time + 2 days of the training mean: 15
    # days, enough to ride out 75% growth. The forecast follows the growth instead of carrying that buffer.
    demand, start = weekly_demand(seed, growth=1.75)
    fixed, driven = simulation.simulate_product(demand, first=182, lead_time=3, start=start, whole_units=True)
    assert driven.stock_units < 0.8 * fixed.stock_units
    assert driven.lost_units < 0.02 * demand[182:].sum()
