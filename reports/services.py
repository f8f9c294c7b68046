"""Writes of the reports app: daily sales rollups, stored forecasts, background job records."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from reports import selectors
from reports.models import Forecast, ForecastDay, JobRun, SalesDaily
from stock.models import Location
from supermarket.jobs import enqueue
from supermarket.sql import Statement


@dataclass(frozen=True)
class SoldLine:
    """Net sales of one line: negative quantity, amount and cost for a return."""

    product_id: int
    location_id: int
    day: date
    quantity: Decimal
    amount: Decimal
    cost: Decimal


def sales_daily_add(*, lines: Iterable[SoldLine]) -> None:
    """Add sold (or returned) lines to the daily rollups, inside the caller's transaction."""
    statement = sales_daily_statement(lines)
    if statement is not None:
        with connection.cursor() as cursor:
            cursor.execute(*statement)


def sales_daily_statement(lines: Iterable[SoldLine]) -> Statement | None:
    """The statement adding these lines to the daily rollups (None for no lines), for sales_daily_add or for a
    caller that runs it along with its other writes (a sale, with its stock: `stock_move_batch(along=...)`).

    One INSERT ... ON CONFLICT DO UPDATE adds to existing rows, so concurrent sales
    of the same product on the same day never lose an increment. Rows are written in
    category, then key order so that two sales touching the same rollup rows (and the
    category rows the trigger keeps) cannot deadlock.
    """
    totals: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for line in lines:
        total = totals[(line.product_id, line.location_id, line.day)]
        total[0] += line.quantity
        total[1] += line.amount
        total[2] += line.cost
    if not totals:
        return None
    table = SalesDaily._meta.db_table
    params = [v for key in sorted(totals) for v in (*key, *totals[key])]
    upsert = f"""ON CONFLICT (product_id, location_id, day) DO UPDATE SET
                    quantity = {table}.quantity + excluded.quantity,
                    amount = {table}.amount + excluded.amount,
                    cost = {table}.cost + excluded.cost"""
    if connection.vendor == "postgresql":
        # A trigger adds each row to its category's rollup row too. Writing the rows in category order
        # locks those category rows in one order in every sale, so two sales can never deadlock on them.
        values = ", ".join(["(%s::bigint, %s::bigint, %s::date, %s::numeric, %s::numeric, %s::numeric)"] * len(totals))
        return (
            f"""INSERT INTO {table} (product_id, location_id, day, quantity, amount, cost)
                SELECT v.* FROM (VALUES {values}) AS v(product_id, location_id, day, quantity, amount, cost)
                JOIN {Product._meta.db_table} p ON p.id = v.product_id
                ORDER BY p.category_id, v.product_id, v.location_id, v.day
                {upsert}""",
            params,
        )
    # SQLite writes one transaction at a time: no lock order to keep
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(totals))
    return (
        f"INSERT INTO {table} (product_id, location_id, day, quantity, amount, cost) VALUES {values} {upsert}",
        params,
    )


# Forecasts ------------------------------------------------------------------------------

HISTORY_DAYS = 365
FORECAST_STEP = 100  # products read, computed and stored together; progress moves by this much


def _three_places(value: float) -> Decimal:
    return Decimal(f"{value:.3f}")


def forecasts_make(
    *,
    product_ids: Sequence[int],
    location: Location,
    history_end: date,
    horizon: int = 7,
    on_step: Callable[[int], None] | None = None,
) -> Counter:
    """Forecast daily demand of the products at the location from the rollups up to `history_end` and replace
    their stored forecasts. Returns how many used each method.

    Each product's ARIMA order is searched once a week, on the night its id comes up in a seven-night
    rotation (forecasting.search_night), so every night searches about a seventh of the series; the rest
    reuse the stored order and parameters without a fit while these still fit the recent days, and are
    searched afresh when they do not. statsmodels runs outside any transaction; each step of FORECAST_STEP
    products is stored in one short transaction, so a failure keeps the steps already stored.
    """
    # numpy (and statsmodels when fitting) only where forecasts are made: checkout imports this module for
    # the rollups, and every web worker would otherwise carry them.
    from reports import forecasting

    if horizon < 1:
        raise ValueError(_("The horizon must be at least one day."))
    methods: Counter = Counter()
    ids = list(product_ids)
    with forecasting.blas_single_thread():
        for at in range(0, len(ids), FORECAST_STEP):
            _forecasts_step(ids[at : at + FORECAST_STEP], location, history_end, horizon, methods)
            if on_step:
                on_step(len(ids[at : at + FORECAST_STEP]))
    return methods


def _forecasts_step(step: list[int], location: Location, history_end: date, horizon: int, methods: Counter) -> None:
    from reports import forecasting

    start = history_end + timedelta(days=1)
    series = selectors.daily_demand(product_ids=step, location_id=location.pk, end=history_end, days=HISTORY_DAYS)
    known = {f.product_id: f for f in Forecast.objects.filter(product_id__in=step, location=location)}
    made = []
    for product_id in step:
        previous = known.get(product_id)
        result = forecasting.forecast_series(
            series[product_id],
            start=start,
            horizon=horizon,
            order=previous.order if previous else None,
            params=previous.params if previous else None,
            search=forecasting.search_night(product_id, history_end),
        )
        methods[str(result.method)] += 1
        searched_on = history_end if result.searched else (previous.searched_on if previous else None)
        made.append((product_id, result, searched_on))
    _forecasts_store(made, location, history_end, start)


@transaction.atomic
def _forecasts_store(made: list, location: Location, history_end: date, start: date) -> None:
    now = timezone.now()
    forecasts = Forecast.objects.bulk_create(
        [
            Forecast(
                product_id=product_id,
                location=location,
                made_at=now,
                history_end=history_end,
                method=result.method,
                order=list(result.order) if result.order else None,
                searched_on=searched_on if result.order else None,
                params=result.params,
                note=result.note,
            )
            for product_id, result, searched_on in made
        ],
        update_conflicts=True,
        unique_fields=["product", "location"],
        update_fields=["made_at", "history_end", "method", "order", "searched_on", "params", "note"],
    )
    ForecastDay.objects.filter(forecast__in=[f.pk for f in forecasts]).delete()
    ForecastDay.objects.bulk_create(
        [
            ForecastDay(
                forecast_id=forecast.pk,
                day=start + timedelta(days=i),
                mean=_three_places(result.mean[i]),
                lower=_three_places(result.lower[i]),
                upper=_three_places(result.upper[i]),
            )
            for forecast, (_pid, result, _s) in zip(forecasts, made, strict=True)
            for i in range(result.mean.size)
        ]
    )


# Background jobs --------------------------------------------------------------------------


class JobNotRetryable(Exception):
    pass


def job_run_create(*, kind: str, arguments: dict, queue: str, total: int = 0, parent: JobRun | None = None) -> JobRun:
    """Record a job and enqueue it after the surrounding transaction commits."""
    from reports import jobs

    job = JobRun.objects.create(kind=kind, arguments=arguments, queue=queue, total=total, parent=parent)
    enqueue(jobs.job_run, job.pk, queue=queue)
    return job


def history_end_latest() -> date:
    """The last day a forecast may read as history: yesterday, as the nightly batch. Today's sales are not over, and
    later days have none yet; read as days without sales they would pull the forecast down."""
    return timezone.localdate() - timedelta(days=1)


def history_end_problem(history_end: date) -> str | None:
    latest = history_end_latest()
    if history_end <= latest:
        return None
    return gettext(
        "The last day of history can be yesterday (%(latest)s) at the latest: today's sales are not over yet."
    ) % {"latest": latest.isoformat()}


@transaction.atomic
def forecast_batch_start(
    *,
    location: Location,
    history_end: date,
    horizon: int = 7,
    chunk_size: int = 500,
    product_ids: Sequence[int] | None = None,
) -> JobRun:
    """The nightly batch: all active products at the location, split into jobs of `chunk_size` products on
    the "forecasts" queue so that every worker takes its share. The returned batch job shows their progress.

    Jobs are large because each one costs a fork and a statsmodels import (about 1.4 s of CPU) on the worker,
    as much as 150 products' forecasts; 500 products (about 5 s of CPU) still leave ten jobs for 5,000
    products to share out between the workers."""
    if chunk_size < 1:
        raise ValueError(_("The chunk size must be at least one product."))
    if problem := history_end_problem(history_end):
        raise ValueError(problem)  # the run would replace the stored forecasts
    if product_ids is None:
        product_ids = list(Product.objects.filter(active=True).order_by("pk").values_list("pk", flat=True))
    batch = JobRun.objects.create(
        kind=JobRun.Kind.FORECAST_BATCH,
        queue="forecasts",
        total=len(product_ids),
        arguments={"location_id": location.pk, "history_end": history_end.isoformat(), "horizon": horizon},
        status=JobRun.Status.QUEUED if product_ids else JobRun.Status.DONE,
    )
    for at in range(0, len(product_ids), chunk_size):
        chunk = list(product_ids[at : at + chunk_size])
        job_run_create(
            kind=JobRun.Kind.FORECAST_CHUNK,
            queue="forecasts",
            total=len(chunk),
            parent=batch,
            arguments={**batch.arguments, "product_ids": chunk},
        )
    return batch


def job_progress(*, job: JobRun, done: int) -> None:
    """Count `done` more units of work on the job and on the batch it belongs to."""
    JobRun.objects.filter(pk=job.pk).update(done=F("done") + done)
    if job.parent_id:
        JobRun.objects.filter(pk=job.parent_id).update(done=F("done") + done)


def job_claim(*, job_id: int) -> bool:
    """Mark a queued job running; False when another worker already has it (the row count says who won)."""
    claimed = JobRun.objects.filter(pk=job_id, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1, error=""
    )
    if claimed:
        parent_id = JobRun.objects.filter(pk=job_id).values_list("parent_id", flat=True).get()
        JobRun.objects.filter(pk=parent_id, status=JobRun.Status.QUEUED).update(
            status=JobRun.Status.RUNNING, started_at=timezone.now()
        )
    return bool(claimed)


def job_finish(*, job: JobRun, error: str = "") -> None:
    """Record the outcome; a batch is finished when its last part is, and failed if any part failed."""
    status = JobRun.Status.FAILED if error else JobRun.Status.DONE
    JobRun.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now())
    if job.parent_id:
        parts = JobRun.objects.filter(parent_id=job.parent_id)
        if not parts.exclude(status__in=[JobRun.Status.DONE, JobRun.Status.FAILED]).exists():
            failed = parts.filter(status=JobRun.Status.FAILED).count()
            JobRun.objects.filter(pk=job.parent_id).update(
                status=JobRun.Status.FAILED if failed else JobRun.Status.DONE,
                error=gettext("%(failed)d of %(parts)d parts failed.") % {"failed": failed, "parts": parts.count()}
                if failed
                else "",
                finished_at=timezone.now(),
            )


@transaction.atomic
def job_retry(*, job: JobRun) -> JobRun:
    """Queue a failed job again (for a batch: its failed parts). Raises JobNotRetryable for any other state."""
    from reports import jobs

    job = JobRun.objects.select_for_update().get(pk=job.pk)
    if job.status != JobRun.Status.FAILED:
        raise JobNotRetryable(
            _("Only a failed job can be retried; this one is %(status)s.") % {"status": job.get_status_display()}
        )
    retry = list(job.parts.filter(status=JobRun.Status.FAILED)) if job.parts.exists() else [job]
    for part in retry:
        if part.parent_id:
            JobRun.objects.filter(pk=part.parent_id).update(done=F("done") - part.done)
        JobRun.objects.filter(pk=part.pk).update(status=JobRun.Status.QUEUED, done=0, error="", finished_at=None)
        enqueue(jobs.job_run, part.pk, queue=part.queue)
    if job.parts.exists() or job.parent_id:
        batch_id = job.pk if job.parts.exists() else job.parent_id
        JobRun.objects.filter(pk=batch_id).update(status=JobRun.Status.RUNNING, error="", finished_at=None)
    job.refresh_from_db()
    return job
