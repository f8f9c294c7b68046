"""Replenishment simulation on short known series, checked by hand."""

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from reports import forecasting, simulation
from reports.models import ForecastMethod

START = date(2026, 11, 2)
TRAINING = np.full(28, 2.0)  # two a day: the fixed policy's mean
# Fourteen replayed days: two a day, except 15 on day 3.
REPLAY = np.array([2, 2, 2, 15, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], dtype=float)


def test_fixed_min_max_runs_out_after_a_spike_until_the_next_review_delivers():
    # Lead time 1, review every 7 days: the level is 2 x (1 + 7) plus a safety stock of 2 x (1 + 2) = 22, reviewed
    # on days 0 and 7 and also the stock at the start. Day 0 sells 2 and orders 2 (arrives day 2); the spike on
    # day 3 leaves 3; day 5 sells 1 and days 5-8 run out (1 + 2 + 2 + 2 = 7 lost) until the 22 ordered on day 7
    # arrive on day 9.
    fixed, _ = simulation.simulate_product(
        np.concatenate([TRAINING, REPLAY]), first=28, lead_time=1, start=START, whole_units=True, review_days=7
    )
    assert (fixed.stockout_days, fixed.lost_units, fixed.orders) == (4, 7.0, 2)
    assert fixed.stock_units == 20 + 18 + 18 + 3 + 1 + 0 + 0 + 0 + 0 + 20 + 18 + 16 + 14 + 12  # end-of-day stock


def known_forecast(per_day: float, sigma: float, method=ForecastMethod.ARIMA):
    """A forecast of `per_day` a day whose 80% interval says a standard deviation of `sigma` a day."""

    def forecast_series(y, *, start, horizon, **kwargs):
        mean = np.full(horizon, per_day)
        return forecasting.SeriesForecast(method, mean, mean * 0, mean + simulation.Z_INTERVAL * sigma)

    return forecast_series


@pytest.mark.parametrize(
    ("sigma", "stockout_days", "lost"),
    [
        # No uncertainty: level 2 x 8 = 16, starting from the fixed policy's 22. Day 0 leaves 20 (no order), the
        # spike on day 3 leaves 1, day 4 sells it (1 lost), days 5-8 lose 2 each until the 16 ordered on day 7
        # arrive on day 9.
        (0.0, 5, 9.0),
        # One unit a day: safety stock 1.645 x sqrt(8) = 4.65, level ceil(20.65) = 21. Day 0 orders 1 (day 2),
        # the spike leaves 2, day 4 sells them, days 5-8 lose 2 each.
        (1.0, 4, 8.0),
    ],
)
def test_forecast_ordering_sets_its_level_from_the_forecast_and_its_interval(monkeypatch, sigma, stockout_days, lost):
    monkeypatch.setattr(forecasting, "forecast_series", known_forecast(2.0, sigma))
    _, driven = simulation.simulate_product(
        np.concatenate([TRAINING, REPLAY]), first=28, lead_time=1, start=START, whole_units=True, review_days=7
    )
    assert (driven.stockout_days, driven.lost_units) == (stockout_days, lost)


def test_a_flat_forecast_takes_its_safety_stock_from_the_spread_of_recent_days(monkeypatch):
    # Its interval (a standard deviation of 5) is ignored: on day 0 all 29 days so far were 2, so no safety
    # stock, level 16 and the same stockouts as above. On day 7 the spike is among the 36 days: a spread of
    # sqrt(13^2 / 36) = 2.167 a day, safety 1.645 x 2.167 x sqrt(8) = 10.08, level ceil(26.08) = 27, on the
    # shelf on day 9.
    monkeypatch.setattr(forecasting, "forecast_series", known_forecast(2.0, 5.0, ForecastMethod.CROSTON))
    _, driven = simulation.simulate_product(
        np.concatenate([TRAINING, REPLAY]), first=28, lead_time=1, start=START, whole_units=True, review_days=7
    )
    assert (driven.stockout_days, driven.lost_units) == (5, 9.0)
    assert driven.stock_units == 20 + 18 + 16 + 1 + 0 + 0 + 0 + 0 + 0 + 25 + 23 + 21 + 19 + 17


def test_stock_matched_level_is_the_highest_holding_no_more_stock_found_before_the_judged_days(monkeypatch):
    calls = []

    def fake_store(*, location, end, days, products, service_level):
        calls.append((end, days))
        fixed = simulation.PolicyTotals("fixed", 10, Decimal(0), Decimal(0), Decimal("80.00"))
        driven = simulation.PolicyTotals("forecast", 5, Decimal(0), Decimal(0), Decimal(100 * service_level))
        return fixed, driven, products

    monkeypatch.setattr(simulation, "simulate_store", fake_store)
    level = simulation.stock_matched_service_level(location=None, end=date(2026, 6, 30), days=84, products=10, steps=12)
    assert 0.79 <= level <= 0.80  # forecast stock 100 x level against the fixed policy's 80
    # Found on the 42 days before the replayed 84 (which end on June 30), never on the replayed days themselves.
    assert set(calls) == {(date(2026, 4, 7), 42)}
