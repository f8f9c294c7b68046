"""Replenishment simulation: replay daily demand against two ordering policies and count what each costs.

Both policies see only the days before the one they decide on, and both work the same way, as the
replenishment page does (stock/replenishment.py): every STOCK_REVIEW_PERIOD_DAYS days (the same days for both) the
stock position (on hand plus on order) is brought up to an order-up-to level, in whole units for
products sold by the piece; an order placed in the evening arrives the morning after `lead_time` full
days (the supplier's lead time, the same for both). Stock ordered on one review must last until the
next review's order arrives: lead time + review period. Demand that finds no stock is lost; a stockout day is a day with lost demand.

They differ only in how they set the level:
- fixed min/max: the store's own rule (stock/replenishment.py: expected demand over lead time + review period,
  plus the product's safety stock) with the flat mean of all training days as the expected demand and the
  demo's safety stock, lead time + BUFFER_DAYS days of that mean;
- forecast-driven: the day-by-day forecast of reports.forecasting over lead time + review period
  (weekday rhythm, recent level), made on each review day from what has sold so far, plus safety
  stock from the forecast's own error: a daily standard deviation (from ARIMA's 80% interval; for the
  flat intermittent-demand forecasts, the spread of the last RECENT_DAYS days around the forecast),
  summed over the days as independent errors, times the normal quantile of SERVICE_LEVEL: the chance of no
  stockout before the next order arrives (the textbook 95% cycle service level; chosen before any run,
  not tuned; the command takes others to show the trade-off).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import NormalDist

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from reports import forecasting, selectors
from reports.models import ForecastMethod, SalesDaily
from stock.models import Location
from supermarket.money import money

BUFFER_DAYS = 2
SERVICE_LEVEL = 0.95
Z_INTERVAL = 1.2816  # an 80% two-sided interval's upper bound lies this many standard deviations above the mean


@dataclass
class Outcome:
    """Units are floats while replaying; the caller prices them in Decimal."""

    stockout_days: int = 0
    lost_units: float = 0.0
    stock_units: float = 0.0  # end-of-day stock summed over the days: divide by days for the average
    days: int = 0
    orders: int = 0


def _replay(demand: np.ndarray, first: int, lead_time: int, review_days: int, start_stock: float, level) -> Outcome:
    """Replay demand[first:]; on every review day (first, first + review_days, ...) order level(t) - position."""
    outcome = Outcome(days=demand.size - first)
    on_hand, arriving = start_stock, {}
    for t in range(first, demand.size):
        on_hand += arriving.pop(t, 0.0)
        sold = min(on_hand, demand[t])
        lost = demand[t] - sold
        on_hand -= sold
        if lost > 1e-9:
            outcome.stockout_days += 1
            outcome.lost_units += lost
        outcome.stock_units += on_hand
        if (t - first) % review_days == 0:
            order = level(t) - (on_hand + sum(arriving.values()))
            if order > 1e-9:
                # Ordered in the evening, on the shelf the morning after lead_time full days.
                arriving[t + 1 + lead_time] = arriving.get(t + 1 + lead_time, 0.0) + order
                outcome.orders += 1
    return outcome


def simulate_product(
    demand: np.ndarray,
    *,
    first: int,
    lead_time: int,
    start: date,
    whole_units: bool,
    review_days: int | None = None,
    service_level: float = SERVICE_LEVEL,
) -> tuple[Outcome, Outcome]:
    """Replay demand[first:] (days from `start`, demand[0] being start - first days) under both policies;
    returns the fixed and the forecast-driven outcome."""
    review_days = review_days or settings.STOCK_REVIEW_PERIOD_DAYS
    z = NormalDist().inv_cdf(service_level)
    cover = lead_time + review_days  # what one order must last: until the next one arrives
    rounding = np.ceil if whole_units else (lambda x: round(x, 3))
    mean = float(np.mean(np.maximum(demand[:first], 0)))
    safety_stock = mean * (lead_time + BUFFER_DAYS)
    fixed_level = float(rounding(mean * cover + safety_stock))
    fixed = _replay(demand, first, lead_time, review_days, fixed_level, lambda t: fixed_level)

    fitted = {}

    def forecast_level(t: int) -> float:
        result = forecasting.forecast_series(
            demand[: t + 1],
            start=start + timedelta(days=t - first + 1),
            horizon=cover,
            order=fitted.get("order"),
            params=fitted.get("params"),
            search="order" not in fitted,
        )
        if result.order:
            fitted.update(order=result.order, params=result.params)
        if result.method == ForecastMethod.ARIMA:
            sigma = (result.upper - result.mean) / Z_INTERVAL
        else:
            # A flat forecast's own error: the spread of recent days around it. (Its empirical 80% band is a pair
            # of whole-unit quantiles, too coarse for a slow mover: 0 or 1 where the truth is 0.4.)
            recent = demand[max(0, t + 1 - forecasting.RECENT_DAYS) : t + 1]
            sigma = np.full(cover, float(np.sqrt(np.mean((recent - result.mean[0]) ** 2))))
        return float(rounding(result.mean.sum() + z * float(np.sqrt(np.sum(sigma**2)))))

    with forecasting.blas_single_thread():
        driven = _replay(demand, first, lead_time, review_days, fixed_level, forecast_level)
    return fixed, driven


@dataclass
class PolicyTotals:
    policy: str
    stockout_days: int
    lost_units: Decimal
    lost_sales: Decimal
    average_stock_value: Decimal


def simulate_store(
    *, location: Location, end: date, days: int = 84, products: int = 200, service_level: float = SERVICE_LEVEL
) -> tuple[PolicyTotals, PolicyTotals, int]:
    """Replay the last `days` days up to `end` for an evenly spread sample of active products that sold in the
    training part (all the history before those days); returns the totals of the fixed and the forecast-driven
    policy and the number of products."""
    if days < 7 or products < 1:
        raise ValueError(_("Simulate at least a week and one product."))
    if not 0.5 <= service_level < 1:
        raise ValueError(_("The service level must be at least 0.5 and below 1."))
    first_day = SalesDaily.objects.filter(location=location).order_by("day").values_list("day", flat=True).first()
    history = (end - first_day).days + 1 - days if first_day else 0
    if history < 28:
        raise ValueError(_("Fewer than 28 days of sales before the simulated days: nothing to learn from."))
    candidates = list(Product.objects.filter(active=True).select_related("supplier").order_by("pk"))
    series = selectors.daily_demand(
        product_ids=[p.pk for p in candidates], location_id=location.pk, end=end, days=history + days
    )
    selling = [p for p in candidates if series[p.pk][:history].sum() > 0]
    step = max(1, len(selling) // products)
    sample = selling[::step][:products]
    totals = {"fixed": [0, Decimal(0), Decimal(0), Decimal(0)], "forecast": [0, Decimal(0), Decimal(0), Decimal(0)]}
    start = end - timedelta(days=days - 1)
    for product in sample:
        lead_time = product.supplier.lead_time_days if product.supplier else 2
        outcomes = simulate_product(
            series[product.pk],
            first=history,
            lead_time=lead_time,
            start=start,
            whole_units=not product.sold_by_weight,
            service_level=service_level,
        )
        for name, outcome in zip(totals, outcomes, strict=True):
            lost = Decimal(f"{outcome.lost_units:.3f}")
            total = totals[name]
            total[0] += outcome.stockout_days
            total[1] += lost
            total[2] += lost * product.selling_price
            total[3] += Decimal(f"{outcome.stock_units:.3f}") * product.purchase_price / days
    fixed, driven = (PolicyTotals(name, t[0], t[1], money(t[2]), money(t[3])) for name, t in totals.items())
    return fixed, driven, len(sample)


def stock_matched_service_level(
    *, location: Location, end: date, days: int = 84, products: int = 200, steps: int = 6
) -> float:
    """The highest service level at which forecast-driven ordering holds no more stock than fixed min/max, found by
    bisection over [0.5, 0.99] on the days just before the `days` replayed up to `end` (half as many, at least 28).

    The comparison the policies are judged by is "fewer stockout days at equal or lower stock": this sets the
    forecast policy's stock to the fixed policy's on days it will not be judged on, so the judged days stay out of
    sample. 0.5 if even that level holds more stock there.
    """
    calibration_days = max(28, days // 2)
    calibration_end = end - timedelta(days=days)

    def holds_no_more(level: float) -> bool:
        fixed, driven, _count = simulate_store(
            location=location, end=calibration_end, days=calibration_days, products=products, service_level=level
        )
        return driven.average_stock_value <= fixed.average_stock_value

    low, high = 0.5, 0.99
    if not holds_no_more(low):
        return low
    for _step in range(steps):
        middle = (low + high) / 2
        low, high = (middle, high) if holds_no_more(middle) else (low, middle)
    return round(low, 3)
