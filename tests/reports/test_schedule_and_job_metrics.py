"""Periodic jobs (supermarket/schedule.py), job duration metrics and job log fields (supermarket.worker)."""

import importlib.util
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reports.models import JobRun
from supermarket import metrics
from supermarket.jobs import enqueue

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


def sample_job(text: str) -> None:
    logger.info("sample job says %s", text)


def failing_job() -> None:
    raise ValueError("broken on purpose")


@pytest.fixture
def redis_queues(settings):
    """The real RQ queues on the test Redis database, emptied before and after, with no job figures left."""
    import django_rq

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    settings.JOBS_INLINE = False
    queues = {name: django_rq.get_queue(name) for name in settings.RQ_QUEUES}
    connection = queues["default"].connection

    def clean():
        for queue in queues.values():
            queue.empty()
        connection.delete(metrics.JOB_SECONDS_KEY)

    clean()
    yield queues
    clean()


def schedule(name: str):
    """The scheduler `manage.py rqcron supermarket.schedule` runs, and its cron job running `name`."""
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("supermarket.schedule")
    return scheduler, next(job for job in scheduler.get_jobs() if job.func_name == name)


def job_samples() -> dict[tuple, float]:
    """supermarket_job_seconds_count by (task, queue, outcome), as a scrape of /metrics reads it."""
    text = generate_latest(metrics.registry()).decode()
    return {
        (s.labels["task"], s.labels["queue"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "supermarket_job_seconds"
        for s in family.samples
        if s.name == "supermarket_job_seconds_count"
    }


def test_the_nightly_forecasts_are_due_at_their_time_in_the_store_time_zone(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.FORECAST_SCHEDULE = "30 2 * * *"
    _, forecasts = schedule("reports.jobs.forecast_nightly")
    forecasts.latest_enqueue_time = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 02:00 on the 11th in Shanghai
    assert forecasts.get_next_enqueue_time() == datetime(2026, 3, 10, 18, 30, tzinfo=UTC)  # 02:30 that night
    forecasts.latest_enqueue_time = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    assert forecasts.get_next_enqueue_time() == datetime(2026, 3, 11, 18, 30, tzinfo=UTC)  # and the next night


def test_the_schedule_follows_the_time_zone_setting_not_the_hosts(settings):
    settings.TIME_ZONE = "Europe/Berlin"  # summer time in July: UTC+2
    settings.FORECAST_SCHEDULE = "30 2 * * *"
    _, forecasts = schedule("reports.jobs.forecast_nightly")
    forecasts.latest_enqueue_time = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    assert forecasts.get_next_enqueue_time() == datetime(2026, 7, 1, 0, 30, tzinfo=UTC)


def test_a_bad_schedule_stops_the_scheduler_instead_of_dropping_the_job(settings):
    settings.FORECAST_SCHEDULE = "every night"
    with pytest.raises(Exception, match="FORECAST_SCHEDULE"):
        schedule("reports.jobs.forecast_nightly")


@pytest.mark.django_db(transaction=True)
def test_one_tick_enqueues_the_nightly_forecasts_on_the_forecasts_queue_and_the_job_starts_a_batch(redis_queues):
    from rq import SimpleWorker

    scheduler, forecasts = schedule("reports.jobs.forecast_nightly")
    forecasts.next_enqueue_time = timezone.now() - timedelta(seconds=1)  # due; the sessions job is not

    due = scheduler.enqueue_jobs()

    assert [job.func_name for job in due] == ["reports.jobs.forecast_nightly"]
    queue = redis_queues["forecasts"]
    assert [job.func_name for job in queue.jobs] == ["reports.jobs.forecast_nightly"]
    assert redis_queues["default"].count == 0
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    batch = JobRun.objects.get(kind=JobRun.Kind.FORECAST_BATCH)
    assert batch.arguments["history_end"] == (timezone.localdate() - timedelta(days=1)).isoformat()


@pytest.mark.django_db
def test_the_daily_sessions_job_deletes_expired_sessions_only():
    from supermarket.sessions import sessions_clear_expired

    now = timezone.now()
    Session.objects.create(session_key="old", session_data="", expire_date=now - timedelta(minutes=1))
    Session.objects.create(session_key="live", session_data="", expire_date=now + timedelta(minutes=30))
    sessions_clear_expired()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_the_workers_rqworker_starts_time_every_job(redis_queues):
    from django_rq.workers import get_worker

    from supermarket.worker import Worker

    assert isinstance(get_worker("default", "reports", "forecasts"), Worker)


@pytest.mark.parametrize("multiprocess", [False, True], ids=["single-process", "gunicorn-multiprocess"])
@pytest.mark.django_db(transaction=True)
def test_a_job_run_by_the_worker_is_in_the_job_duration_histogram_of_every_scrape(
    redis_queues, multiprocess, tmp_path, monkeypatch
):
    from supermarket.worker import SimpleWorker

    if multiprocess:  # as under gunicorn: /metrics reads the workers' files, and the store's figures
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    queue = redis_queues["reports"]
    with transaction.atomic():
        enqueue(sample_job, "hello", queue="reports")
        enqueue(failing_job, queue="reports")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    samples = job_samples()
    name = f"{__name__}.sample_job"
    assert samples[(name, "reports", "finished")] == 1
    assert samples[(f"{__name__}.failing_job", "reports", "failed")] == 1


@pytest.mark.django_db
def test_an_inline_job_is_counted_in_this_process(settings, django_capture_on_commit_callbacks):
    settings.JOBS_INLINE = True
    metrics._inline_job_seconds.clear()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(sample_job, "inline", queue="reports")
    assert job_samples()[(f"{__name__}.sample_job", "reports", "finished")] == 1
    metrics._inline_job_seconds.clear()


@pytest.mark.django_db(transaction=True)
def test_the_workers_log_lines_and_the_jobs_own_are_json_with_the_job_fields(redis_queues):
    from supermarket.worker import SimpleWorker

    console = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        queue = redis_queues["reports"]
        with transaction.atomic():
            enqueue(sample_job, "hello", queue="reports")
        job_id = queue.job_ids[0]
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        console.setStream(previous)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    tagged = [line for line in lines if line.get("job_id") == job_id]
    assert all(line["queue"] == "reports" and line["job"] == f"{__name__}.sample_job" for line in tagged)
    by_logger = {line["logger"]: line for line in tagged}
    assert by_logger[__name__]["message"] == "sample job says hello"
    assert "rq.worker" in by_logger  # RQ's own "Job OK" line
    summary = by_logger["supermarket.jobs"]
    assert summary["status"] == "finished" and summary["duration_ms"] >= 0


def test_gunicorns_child_exit_marks_the_worker_dead_for_the_metrics(tmp_path, monkeypatch):
    from prometheus_client import multiprocess

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the config writes it back; restored after
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "supermarket" / "gunicorn.conf.py")
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    dead = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", dead.append)

    config.child_exit(server=None, worker=SimpleNamespace(pid=4242))

    assert dead == [4242]
