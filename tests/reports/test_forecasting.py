from datetime import date, timedelta

import numpy as np
import pytest

from reports import forecasting
from reports.models import ForecastMethod

END = date(2026, 11, 22)  # a Sunday
START = END + timedelta(days=1)
PATTERN = np.array([10.0, 9, 10, 11, 14, 20, 18])  # Mon..Sun


def weekly_series(weeks: int, noise: float = 0.0, seed: int = 3) -> np.ndarray:
    first = END - timedelta(days=7 * weeks - 1)
    days = forecasting.weekdays(first, 7 * weeks)
    rng = np.random.default_rng(seed)
    return PATTERN[days] + rng.normal(0, noise, days.size)


def test_a_pure_weekly_pattern_is_recovered_by_arima():
    result = forecasting.forecast_series(weekly_series(26, noise=0.5), start=START, horizon=7)
    assert result.method == ForecastMethod.ARIMA
    expected = PATTERN[forecasting.weekdays(START, 7)]
    assert np.max(np.abs(result.mean - expected)) < 1.0
    assert np.all(result.lower <= result.mean) and np.all(result.mean <= result.upper)
    assert result.order in forecasting.ARIMA_ORDERS and result.searched


def test_a_stored_order_is_refitted_without_a_search():
    result = forecasting.forecast_series(weekly_series(26, 0.5), start=START, order=[2, 0, 0], search=False)
    assert result.order == (2, 0, 0) and not result.searched


def test_an_all_zero_series_falls_back_to_zero_without_error():
    result = forecasting.forecast_series(np.zeros(365), start=START, horizon=7)
    assert result.method == ForecastMethod.ZERO
    assert result.mean.tolist() == [0.0] * 7 and result.upper.tolist() == [0.0] * 7


def test_intermittent_demand_uses_croston_with_the_sba_rate():
    y = np.zeros(140)
    y[::5] = 3  # one sale of 3 every fifth day: 0.6 a day, SBA shrinks by (1 - alpha/2)
    result = forecasting.forecast_series(y, start=START, horizon=7)
    assert result.method == ForecastMethod.CROSTON
    assert result.mean == pytest.approx(np.full(7, 0.6 * (1 - forecasting.SBA_ALPHA / 2)), rel=0.02)


def test_a_short_history_uses_seasonal_naive_or_the_mean():
    two_weeks = np.concatenate([np.zeros(300), weekly_series(3)])
    assert forecasting.forecast_series(two_weeks, start=START).method == ForecastMethod.SEASONAL_NAIVE
    ten_days = np.concatenate([np.zeros(300), np.full(10, 4.0)])
    result = forecasting.forecast_series(ten_days, start=START)
    assert result.method == ForecastMethod.MEAN and result.mean.tolist() == [4.0] * 7


def test_a_failed_arima_fit_falls_back_to_seasonal_naive_with_a_note(monkeypatch):
    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(forecasting, "_arima", broken)
    y = weekly_series(10)
    result = forecasting.forecast_series(y, start=START)
    assert result.method == ForecastMethod.SEASONAL_NAIVE and "singular matrix" in result.note
    assert result.mean.tolist() == y[-7:].tolist()


def test_horizon_below_one_is_refused():
    with pytest.raises(ValueError, match="horizon"):
        forecasting.forecast_series(np.ones(60), start=START, horizon=0)


def test_backtest_scores_a_seasonal_series_far_below_one_and_naive_on_a_repeat_at_zero():
    noisy = forecasting.backtest_series(weekly_series(30, noise=1.0), end=END)
    assert noisy.method == ForecastMethod.ARIMA
    assert noisy.mase < 1.0
    exact = forecasting.backtest_series(np.concatenate([np.arange(7.0), weekly_series(20)]), end=END)
    assert exact.naive_mase == pytest.approx(0.0)


def test_backtest_of_a_series_without_variation_is_none():
    assert forecasting.backtest_series(np.full(90, 5.0), end=END) is None


def test_backtest_scale_ignores_the_days_before_the_first_sale():
    series = weekly_series(20, noise=1.0)
    padded = np.concatenate([np.zeros(200), series])
    assert forecasting.backtest_series(padded, end=END).mase == pytest.approx(
        forecasting.backtest_series(series, end=END).mase
    )
