"""Background jobs: progress, failures recorded (not swallowed), retry."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.utils import translation

from reports import jobs, services
from reports.models import Forecast, JobRun
from reports.services import SoldLine, sales_daily_add
from tests.factories import ProductFactory

END = date(2026, 11, 22)


@pytest.fixture
def inline(settings):
    settings.JOBS_INLINE = True


@pytest.fixture
def rq_forecasts(settings):
    """The real RQ queue on the test Redis database, worked in this process."""
    import django_rq
    from rq import SimpleWorker

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    settings.JOBS_INLINE = False
    queue = django_rq.get_queue("forecasts")
    queue.empty()
    yield lambda: SimpleWorker([queue], connection=queue.connection).work(burst=True)
    queue.empty()


@pytest.fixture
def selling_products(floor):
    products = [ProductFactory() for _ in range(5)]
    lines = [
        SoldLine(p.pk, floor.pk, END - timedelta(days=d), D(3 + (d % 7)), D("13.50"), D(9))
        for p in products[:3]
        for d in range(70)
    ]
    sales_daily_add(lines=lines)
    return products


@pytest.mark.django_db(transaction=True)
def test_the_batch_is_split_into_rq_jobs_and_stores_a_forecast_per_product(selling_products, floor, rq_forecasts):
    batch = services.forecast_batch_start(location=floor, history_end=END, horizon=7, chunk_size=2)
    assert JobRun.objects.get(pk=batch.pk).status == JobRun.Status.QUEUED
    rq_forecasts()
    batch.refresh_from_db()
    assert batch.status == JobRun.Status.DONE and (batch.done, batch.total) == (5, 5)
    assert batch.parts.count() == 3 and all(p.status == JobRun.Status.DONE for p in batch.parts.all())
    forecasts = Forecast.objects.filter(location=floor)
    assert forecasts.count() == 5
    assert {f.method for f in forecasts if f.product_id in {p.pk for p in selling_products[3:]}} == {"zero"}
    assert all(f.days.count() == 7 and f.history_end == END for f in forecasts)


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_recorded_with_its_error_and_can_be_retried(selling_products, floor, monkeypatch, inline):
    real = services.forecasts_make

    def broken(**kwargs):
        raise RuntimeError("statsmodels exploded")

    monkeypatch.setattr(services, "forecasts_make", broken)
    batch = services.forecast_batch_start(location=floor, history_end=END, chunk_size=5)
    batch.refresh_from_db()
    part = batch.parts.get()
    assert part.status == JobRun.Status.FAILED and "RuntimeError: statsmodels exploded" in part.error
    assert batch.status == JobRun.Status.FAILED and "1 of 1" in batch.error
    assert not Forecast.objects.exists()

    monkeypatch.setattr(services, "forecasts_make", real)
    services.job_retry(job=batch)
    batch.refresh_from_db()
    part.refresh_from_db()
    assert (batch.status, batch.error, batch.done) == (JobRun.Status.DONE, "", 5)
    assert part.attempts == 2 and Forecast.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_on_a_worker_the_failure_is_in_rqs_failed_registry_as_well_as_recorded(floor, rq_forecasts):
    import django_rq

    registry = django_rq.get_queue("forecasts").failed_job_registry
    failed_before = set(registry.get_job_ids())  # other tests may have left failures in the shared Redis
    job = services.job_run_create(
        kind="forecast_chunk",
        queue="forecasts",
        arguments={"product_ids": [1], "location_id": 999999, "history_end": END.isoformat(), "horizon": 7},
    )
    rq_forecasts()
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and "does not exist" in job.error
    assert len(set(registry.get_job_ids()) - failed_before) == 1


@pytest.mark.django_db
def test_inline_the_failure_is_recorded_without_breaking_the_caller(floor, settings):
    settings.JOBS_INLINE = True
    job = JobRun.objects.create(
        kind="forecast_chunk",
        arguments={"product_ids": [], "location_id": 999999, "history_end": END.isoformat(), "horizon": 7},
    )
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and "does not exist" in job.error


@pytest.mark.django_db
def test_only_a_failed_job_can_be_retried_and_a_claimed_job_is_not_run_twice(floor):
    job = JobRun.objects.create(kind="forecast_chunk", status=JobRun.Status.DONE)
    with pytest.raises(services.JobNotRetryable, match="Only a failed job"):
        services.job_retry(job=job)
    with translation.override("zh-hans"), pytest.raises(services.JobNotRetryable) as refused:
        services.job_retry(job=JobRun.objects.create(kind="forecast_chunk"))
    assert str(refused.value) == "只能重试失败的任务；该任务状态为排队中。"  # the state in Chinese too
    assert services.job_claim(job_id=job.pk) is False
    queued = JobRun.objects.create(kind="forecast_chunk")
    assert services.job_claim(job_id=queued.pk) is True
    assert services.job_claim(job_id=queued.pk) is False


def test_a_forecast_run_reading_today_or_later_as_history_is_refused_by_the_service_and_the_command(floor):
    from django.core.management import CommandError, call_command
    from django.utils import timezone

    ProductFactory()
    today = timezone.localdate()
    with pytest.raises(ValueError, match="yesterday"):
        services.forecast_batch_start(location=floor, history_end=today)
    with pytest.raises(CommandError, match="yesterday"):
        call_command("forecast_all", "--history-end", (today + timedelta(days=30)).isoformat())
    assert not JobRun.objects.exists()


def test_a_forecast_run_the_queue_cannot_take_leaves_no_job_behind(floor, monkeypatch):
    from supermarket.jobs import JobsUnavailable

    def unreachable(*args, **kwargs):
        raise JobsUnavailable()

    ProductFactory()
    monkeypatch.setattr(services, "enqueue", unreachable)
    with pytest.raises(JobsUnavailable):
        services.forecast_batch_start(location=floor, history_end=END)
    assert not JobRun.objects.exists()
