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


def sold_daily_then_stopped(quiet_days: int) -> np.ndarray:
    y = np.zeros(365)
    y[365 - quiet_days - 60 : 365 - quiet_days] = 4  # 4 a day for 60 days, then nothing
    return y


@pytest.mark.parametrize("quiet_days", [30, 90, 200])
def test_a_product_that_stopped_selling_weeks_ago_is_forecast_to_sell_nothing(quiet_days):
    result = forecasting.forecast_series(sold_daily_then_stopped(quiet_days), start=START, horizon=7)
    assert result.method == ForecastMethod.STOPPED
    assert result.mean.tolist() == [0.0] * 7 and result.upper.tolist() == [0.0] * 7


def test_a_best_seller_quiet_for_less_than_four_weeks_keeps_its_forecast():
    # an empty shelf sells nothing too: a zero forecast would stop the orders that refill it
    result = forecasting.forecast_series(sold_daily_then_stopped(20), start=START, horizon=7)
    assert result.method == ForecastMethod.CROSTON and result.mean[0] > 3


def test_a_slow_mover_in_an_ordinary_gap_between_sales_keeps_its_croston_rate():
    y = np.zeros(140)
    y[: 140 - 35 : 10] = 3  # one sale of 3 every tenth day, the last 35 days ago: 3.5 intervals
    result = forecasting.forecast_series(y, start=START, horizon=7)
    assert result.method == ForecastMethod.CROSTON and result.mean[0] > 0.2


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


def test_a_stored_model_that_still_fits_is_reused_without_a_fit(monkeypatch):
    y = weekly_series(27, noise=0.5)
    first = forecasting.forecast_series(y[:-7], start=START - timedelta(days=7))
    assert first.fit == "searched" and first.params

    from statsmodels.tsa.arima.model import ARIMA

    def no_fit(*args, **kwargs):
        raise AssertionError("a model that still fits must not be fitted again")

    monkeypatch.setattr(ARIMA, "fit", no_fit)
    again = forecasting.forecast_series(y, start=START, order=first.order, params=first.params, search=False)
    assert again.method == ForecastMethod.ARIMA and again.fit == "reused" and not again.searched
    assert again.order == first.order and again.params == first.params
    assert np.max(np.abs(again.mean - PATTERN[forecasting.weekdays(START, 7)])) < 1.5


def test_a_stored_model_that_no_longer_fits_is_searched_afresh():
    y = weekly_series(27, noise=0.5)
    first = forecasting.forecast_series(y[:-7], start=START - timedelta(days=7))
    shifted = y.copy()
    shifted[-7:] *= 3  # the last week sells three times as much: last night's model is wrong now
    again = forecasting.forecast_series(shifted, start=START, order=first.order, params=first.params, search=False)
    assert again.fit == "searched" and again.searched and again.params != first.params
    assert again.mean.mean() > PATTERN.mean() * 1.3  # the fresh fit follows the new level


def test_stored_parameters_that_do_not_match_the_order_are_searched_afresh_without_error():
    result = forecasting.forecast_series(
        weekly_series(26, 0.5), start=START, order=[2, 0, 1], params=[1.0, 0.5], search=False
    )
    assert result.method == ForecastMethod.ARIMA and result.fit == "searched"
    assert len(result.params) == sum(result.order) + 2  # constant, AR and MA terms, variance


def test_a_fit_that_raises_inside_statsmodels_falls_back_to_seasonal_naive(monkeypatch):
    from statsmodels.tsa.arima.model import ARIMA

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("Schur decomposition solver error")

    monkeypatch.setattr(ARIMA, "fit", broken)
    y = weekly_series(10)
    result = forecasting.forecast_series(y, start=START)
    assert result.method == ForecastMethod.SEASONAL_NAIVE and "Schur" in result.note
    assert result.mean.tolist() == y[-7:].tolist() and result.params is None
