"""Daily demand forecasting for one series: method choice, ARIMA, intermittent-demand fallbacks, backtest.

Pure numpy/statsmodels code on arrays of daily demand (oldest first, zero days
included); reading and storing forecasts is in reports.services.

Method rule, first match wins:
1. no demand in the window: ZERO;
   no sale for STOPPED_INTERVALS mean intervals between sales, and at least
   STOPPED_MIN_DAYS: STOPPED, forecast zero (see stopped_selling);
2. fewer than SHORT_HISTORY days since the first sale: SEASONAL_NAIVE if at
   least two full weeks, else MEAN;
3. intermittent demand, average interval between demand days above 1.32 days
   (the Syntetos-Boylan cut-off): CROSTON with the SBA bias correction;
4. otherwise ARIMA on the weekday-adjusted series of the last ARIMA_WINDOW days.
   Weekly seasonality is a multiplicative weekday profile (the series is divided
   by it before the fit and the forecast multiplied back), which costs far less
   than a seasonal ARIMA term and fits a supermarket's weekly rhythm as well.
   The order is chosen by AIC among ARIMA_ORDERS once a week (search_night).
   On the other nights last night's order and parameters are reused without
   any fit (a Kalman filter pass over the new days, ~5 ms instead of 10-40 ms
   per fit) as long as they still fit: the last CHECK_DAYS one-step errors,
   standardized by the model's own variance, must pass a chi-square test at
   CHECK_LEVEL. A series that fails it is searched afresh that night. A
   stored order without parameters is refitted; DEFAULT_ORDER until a first
   search. A fit that raises or gives non-finite numbers falls back to
   SEASONAL_NAIVE, with a note.
BLAS runs single-threaded (blas_single_thread): the matrices are tiny, and
OpenBLAS threads only spin against the other worker on the same cores (they
cost 5-15 times the CPU of the fit itself on a 2-core machine).
Intervals are 80%: the model's own for ARIMA, empirical quantiles of recent
days otherwise. Demand below zero (more returns than sales) counts as zero.
"""

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from reports.models import ForecastMethod

SHORT_HISTORY = 28
ARIMA_WINDOW = 182
ARIMA_ORDERS = ((1, 0, 0), (2, 0, 0), (1, 0, 1))
DEFAULT_ORDER = (1, 0, 0)
ORDER_KEEP_DAYS = 7
CHECK_DAYS = 7
CHECK_LEVEL = 0.99  # a good model fails the test on 1% of nights and is searched afresh: cheap insurance
INTERMITTENT_ADI = 1.32
SBA_ALPHA = 0.1
INTERVAL = 0.8
RECENT_DAYS = 56
# A product that sold on one day in m has no sale for k*m days with a chance of about e^-k: five intervals is
# under 1%, the level at which a stored ARIMA model is judged not to fit any more (2 would stop one ordinary slow
# mover in seven). Four weeks at least, because an empty shelf also sells nothing: a best seller out of stock
# must keep its forecast, or replenishment would never order it again; four weeks outlast a supplier's lead
# time and a missed delivery.
STOPPED_INTERVALS = 5
STOPPED_MIN_DAYS = 28


@dataclass
class SeriesForecast:
    method: str
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    order: tuple[int, int, int] | None = None
    searched: bool = False
    params: list[float] | None = None  # ARIMA parameters (statsmodels order: const, ar, ma, sigma2)
    fit: str = ""  # "searched", "refitted" or "reused" for ARIMA
    note: str = ""


@dataclass
class Backtest:
    method: str
    mase: float | None  # model MAE over the holdout / in-sample MAE of the weekly naive forecast
    naive_mase: float | None  # the same for the weekly seasonal naive forecast itself
    errors: dict = field(default_factory=dict)


def blas_single_thread():
    """Context manager limiting BLAS to one thread; imports statsmodels first so that scipy's BLAS is limited too."""
    from statsmodels.tsa.arima.model import ARIMA  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def search_night(series_id: int, day: date) -> bool:
    """Whether the ARIMA order of this series is searched on this night: one night in ORDER_KEEP_DAYS,
    staggered by id so that the nightly cost stays even."""
    return (day.toordinal() - series_id) % ORDER_KEEP_DAYS == 0


def weekdays(start: date, days: int) -> np.ndarray:
    return (np.arange(days) + start.weekday()) % 7


def _empirical_band(y: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    recent = y[-RECENT_DAYS:]
    tail = (1 - INTERVAL) / 2
    low, high = np.quantile(recent, [tail, 1 - tail]) if recent.size else (0.0, 0.0)
    return np.minimum(np.full_like(mean, low), mean), np.maximum(np.full_like(mean, high), mean)


def seasonal_naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """Each future day repeats the same weekday of the last week (mean of the last two where there are two)."""
    weeks = 2 if y.size >= 14 else 1
    last = y[-7 * weeks :].reshape(weeks, 7).mean(axis=0)
    return np.resize(last, horizon)


def croston_sba(y: np.ndarray, horizon: int, alpha: float = SBA_ALPHA) -> np.ndarray:
    """Croston's method with the Syntetos-Boylan approximation: smoothed size over smoothed interval."""
    demand_days = np.flatnonzero(y > 0)
    if demand_days.size == 0:
        return np.zeros(horizon)
    sizes = y[demand_days]
    intervals = np.diff(demand_days).astype(float)
    # Start from the averages rather than the first demand, whose interval is unknown.
    size, interval = sizes.mean(), (y.size - demand_days[0]) / demand_days.size
    for s, i in zip(sizes[1:], intervals, strict=True):
        size += alpha * (s - size)
        interval += alpha * (i - interval)
    return np.full(horizon, (1 - alpha / 2) * size / interval)


def stopped_selling(demand_days: np.ndarray, days: int) -> bool:
    """Whether the days since the last sale are far more than the product's usual gap between sales.

    Croston's method updates only on days with demand, so it keeps forecasting the old rate however long a
    product (seasonal goods, a delisted line) has not sold. Needs two sales to know the usual gap.
    """
    if demand_days.size < 2:
        return False
    mean_interval = (demand_days[-1] - demand_days[0]) / (demand_days.size - 1)
    since_last_sale = days - 1 - demand_days[-1]
    return since_last_sale >= max(STOPPED_MIN_DAYS, STOPPED_INTERVALS * mean_interval)


def weekday_profile(y: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Multiplicative weekly profile (mean 1); a weekday without demand keeps a small share."""
    means = np.array([y[days == k].mean() if np.any(days == k) else 0.0 for k in range(7)])
    overall = means.mean()
    if overall <= 0:
        return np.ones(7)
    return np.maximum(means / overall, 0.05)


def _still_fits(result) -> bool:
    """Chi-square test of the last CHECK_DAYS standardized one-step errors: under the model their squares sum
    to a chi-square with CHECK_DAYS degrees of freedom."""
    from scipy.stats import chi2

    errors = np.asarray(result.filter_results.standardized_forecasts_error)[0, -CHECK_DAYS:]
    return bool(np.all(np.isfinite(errors))) and float(np.sum(errors**2)) <= chi2.ppf(CHECK_LEVEL, CHECK_DAYS)


def _arima(y: np.ndarray, start: date, horizon: int, order, search: bool, params=None) -> SeriesForecast:
    from statsmodels.tsa.arima.model import ARIMA

    y = y[-ARIMA_WINDOW:]
    start_day = start - timedelta(days=y.size)
    profile = weekday_profile(y, weekdays(start_day, y.size))
    adjusted = y / profile[weekdays(start_day, y.size)]
    future = profile[weekdays(start, horizon)]
    best, fit = None, ""
    with warnings.catch_warnings():
        # Convergence and start-parameter warnings on some series are expected; the AIC and the finiteness check decide.
        warnings.simplefilter("ignore")
        if not search and order and params:
            try:
                reused = ARIMA(adjusted, order=tuple(order), trend="c").filter(np.asarray(params, dtype=float))
            except (ValueError, IndexError, np.linalg.LinAlgError):  # e.g. parameters that do not match the order
                reused = None
            if reused is not None and _still_fits(reused):
                best, fit = (tuple(order), reused), "reused"
            else:
                search = True  # the stored model no longer fits the recent days: search afresh tonight
        if best is None:
            candidates = ARIMA_ORDERS if search else (tuple(order or DEFAULT_ORDER),)
            fit = "searched" if search else "refitted"
            for candidate in candidates:
                result = ARIMA(adjusted, order=candidate, trend="c").fit()
                if np.isfinite(result.aic) and (best is None or result.aic < best[1].aic):
                    best = (candidate, result)
    if best is None:
        raise ValueError("no ARIMA order gave a finite AIC")
    prediction = best[1].get_forecast(horizon)
    band = np.asarray(prediction.conf_int(alpha=1 - INTERVAL))
    mean = np.asarray(prediction.predicted_mean) * future
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(band))):
        raise ValueError("ARIMA forecast is not finite")
    mean = np.maximum(mean, 0)
    lower = np.minimum(np.maximum(band[:, 0] * future, 0), mean)
    upper = np.maximum(band[:, 1] * future, mean)
    return SeriesForecast(
        ForecastMethod.ARIMA,
        mean,
        lower,
        upper,
        order=best[0],
        searched=fit == "searched",
        params=[float(v) for v in best[1].params],
        fit=fit,
    )


def forecast_series(
    y: np.ndarray, *, start: date, horizon: int = 7, order=None, search: bool = True, params=None
) -> SeriesForecast:
    """Forecast `horizon` days from `start` (the day after the last of `y`).

    `order` and `params` are the ARIMA model stored last night. With search=False the parameters are reused
    while they still fit the recent days (else the orders are searched afresh); an order without parameters
    is refitted as is.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least one day")
    y = np.maximum(np.asarray(y, dtype=float), 0)
    demand_days = np.flatnonzero(y > 0)
    if demand_days.size == 0:
        zero = np.zeros(horizon)
        return SeriesForecast(ForecastMethod.ZERO, zero, zero, zero)
    if stopped_selling(demand_days, y.size):
        zero = np.zeros(horizon)
        return SeriesForecast(ForecastMethod.STOPPED, zero, zero, zero)
    history = y[demand_days[0] :]
    if history.size < SHORT_HISTORY:
        if history.size >= 14:
            mean = seasonal_naive(history, horizon)
            return SeriesForecast(ForecastMethod.SEASONAL_NAIVE, mean, *_empirical_band(history, mean))
        mean = np.full(horizon, history.mean())
        return SeriesForecast(ForecastMethod.MEAN, mean, *_empirical_band(history, mean))
    adi = history.size / demand_days.size
    if adi > INTERMITTENT_ADI:
        mean = croston_sba(history, horizon)
        return SeriesForecast(ForecastMethod.CROSTON, mean, *_empirical_band(history, mean))
    try:
        return _arima(history, start, horizon, order, search, params)
    except (ValueError, np.linalg.LinAlgError) as error:
        mean = seasonal_naive(history, horizon)
        lower, upper = _empirical_band(history, mean)
        return SeriesForecast(ForecastMethod.SEASONAL_NAIVE, mean, lower, upper, note=f"ARIMA failed: {error}"[:200])


def backtest_series(y: np.ndarray, *, end: date, holdout: int = 28, horizon: int = 7) -> Backtest | None:
    """Hold out the last `holdout` days (ending on `end`) and forecast them week by week from rolling origins.

    MASE scales the holdout MAE by the in-sample MAE of the weekly naive forecast
    (y[t] predicted by y[t-7]) on the training part; the weekly seasonal naive
    forecast gets the same score for comparison. None when the training part is
    too short to scale or has no variation at lag 7.
    """
    y = np.maximum(np.asarray(y, dtype=float), 0)
    demand_days = np.flatnonzero(y > 0)
    if demand_days.size == 0:
        return None
    y = y[demand_days[0] :]  # days before the product first sold would shrink the scale and flatter every method
    train = y[:-holdout]
    if train.size < 14:
        return None
    scale = np.mean(np.abs(train[7:] - train[:-7]))
    if scale == 0:
        return None
    first = end - timedelta(days=holdout - 1)
    model_errors, naive_errors, methods, order, params = [], [], [], None, None
    for offset in range(0, holdout, horizon):
        seen = y[: y.size - holdout + offset]
        actual = y[seen.size : seen.size + horizon]
        # As on the nightly batch: search once, then reuse the model while it still fits.
        result = forecast_series(
            seen,
            start=first + timedelta(days=offset),
            horizon=actual.size,
            order=order,
            params=params,
            search=order is None,
        )
        order, params = result.order or order, result.params or params
        methods.append(str(result.method))
        model_errors.append(np.abs(actual - result.mean))
        naive_errors.append(np.abs(actual - seasonal_naive(seen, actual.size)))
    model = np.concatenate(model_errors).mean() / scale
    naive = np.concatenate(naive_errors).mean() / scale
    return Backtest(max(set(methods), key=methods.count), float(model), float(naive))
