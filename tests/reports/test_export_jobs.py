"""Long exports made by a job on the "reports" queue, offered for download on the job page."""

import io
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook
from redis.exceptions import ConnectionError as RedisConnectionError

from reports import export, jobs
from reports.models import JobRun
from reports.services import SoldLine, sales_daily_add
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
QUERY = "start=2026-01-01&end=2026-11-30"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.JOBS_INLINE = True
    return tmp_path


@pytest.fixture
def sold(floor):
    product = ProductFactory(name="豆腐")
    day = datetime(2026, 11, 16, tzinfo=ZoneInfo("Asia/Shanghai")).date()
    sales_daily_add(lines=[SoldLine(product.pk, floor.pk, day, D("2.5"), D("11.25"), D("8.00"))])
    return product


def test_a_background_export_is_a_job_on_the_reports_queue_and_its_file_is_the_reports_table(
    manager, media, sold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = manager.post(reverse("reports:report-export", args=["top-sellers"]) + f"?{QUERY}", {"format": "xlsx"})
    job = JobRun.objects.get()
    assert started.url == reverse("reports:job-detail", args=[job.pk])
    assert (job.kind, job.queue, job.status, job.done) == ("report_export", "reports", JobRun.Status.DONE, 1)
    assert job.arguments["filters"] == {"start": "2026-01-01", "end": "2026-11-30", "location": None}
    page = manager.get(started.url).content.decode()
    download = reverse("reports:job-download", args=[job.pk])
    assert download in page and "top-sellers-2026-01-01-2026-11-30.xlsx" in page
    response = manager.get(download)
    assert response["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    direct = load_workbook(
        io.BytesIO(manager.get(reverse("reports:report", args=["top-sellers"]) + f"?{QUERY}&format=xlsx").content)
    ).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [[c.value for c in r] for r in direct.iter_rows()]
    assert sheet["B2"].value == "豆腐" and sheet["E2"].value == 11.25


def test_a_csv_export_of_a_new_report_through_the_job(manager, media, sold, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(reverse("reports:report-export", args=["sales-by-hour"]) + f"?{QUERY}", {"format": "csv"})
    job = JobRun.objects.get()
    content = b"".join(manager.get(reverse("reports:job-download", args=[job.pk])).streaming_content)
    assert content.decode("utf-8-sig").splitlines()[1].startswith("00:00–01:00,0,")


def test_bad_filters_or_format_start_nothing_and_say_why(manager, media):
    url = reverse("reports:report-export", args=["top-sellers"])
    reversed_range = manager.post(url + "?start=2026-11-30&end=2026-11-01", {"format": "xlsx"}, follow=True)
    assert "The end date is before the start date." in reversed_range.content.decode()
    pdf = manager.post(url, {"format": "pdf"}, follow=True)
    assert "Exports are made as CSV or XLSX, not pdf." in pdf.content.decode()
    assert manager.post(reverse("reports:report-export", args=["no-such"]), {"format": "csv"}).status_code == 404
    assert not JobRun.objects.exists()


def test_with_redis_down_the_export_is_refused_clearly_and_nothing_is_recorded(manager, settings, monkeypatch):
    import django_rq

    class DeadConnection:
        def ping(self):
            raise RedisConnectionError("connection refused")

    class DeadQueue:
        connection = DeadConnection()

    settings.JOBS_INLINE = False
    monkeypatch.setattr(django_rq, "get_queue", lambda name: DeadQueue())
    page = manager.post(reverse("reports:report-export", args=["top-sellers"]), {"format": "xlsx"}, follow=True)
    assert "The job queue cannot be reached" in page.content.decode()
    assert not JobRun.objects.exists()


def test_a_failed_export_is_recorded_on_the_job_and_offers_no_download(manager, media, floor, monkeypatch):
    job = JobRun.objects.create(
        kind="report_export",
        queue="reports",
        arguments={"slug": "top-sellers", "format": "csv", "filters": {"start": "2026-01-01", "location": 999999}},
    )
    from reports import jobs

    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and "Select a valid choice" in job.error
    assert manager.get(reverse("reports:job-download", args=[job.pk])).status_code == 404
    assert export.export_path(job).endswith("top-sellers-2026-01-01-.csv")


def test_xlsx_quantities_show_whole_numbers_without_a_trailing_point():
    from reports.selectors import Column, Table

    rows = [type("Row", (), {"name": "米", "quantity": q})() for q in (D("15.000"), D("0.250"), 3)]
    table = Table(columns=[Column("name", "商品"), Column("quantity", "数量", "quantity")], rows=rows)
    sheet = load_workbook(io.BytesIO(export.xlsx_bytes(table))).active
    # "#,##0.###" shows a whole 15 as "15." in Excel and WPS.
    assert [sheet.cell(row, 2).number_format for row in (2, 3, 4)] == ["#,##0", "#,##0.###", "#,##0"]


def test_a_background_export_is_made_in_the_language_of_the_manager_who_asked(manager, media, sold, settings):
    manager.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    # Each request switches this thread to the cookie's language; the outer override restores it for other tests.
    with translation.override("en"):
        manager.post(reverse("reports:report-export", args=["sales-by-category"]) + f"?{QUERY}", {"format": "csv"})
        job = JobRun.objects.get()
        with translation.override("en"):  # the worker's own language is another one
            jobs.job_run(job.pk)
        content = b"".join(manager.get(reverse("reports:job-download", args=[job.pk])).streaming_content)
        direct = manager.get(reverse("reports:report", args=["sales-by-category"]) + f"?{QUERY}&format=csv")
    lines = content.decode("utf-8-sig").splitlines()
    with translation.override("zh-hans"):
        assert lines[0].split(",")[0] == translation.gettext("Category") != "Category"
        assert lines[-1].split(",")[0] == translation.gettext("Total")
    assert lines == direct.content.decode("utf-8-sig").splitlines()


def test_an_export_job_recorded_without_a_language_is_made_in_the_stores(manager, media, sold, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("en"):
        manager.post(reverse("reports:report-export", args=["sales-by-category"]) + f"?{QUERY}", {"format": "csv"})
        job = JobRun.objects.get()
        job.arguments.pop("language")  # as jobs queued before the language was kept
        job.save(update_fields=["arguments"])
        jobs.job_run(job.pk)
        content = b"".join(manager.get(reverse("reports:job-download", args=[job.pk])).streaming_content)
    with translation.override("zh-hans"):
        assert content.decode("utf-8-sig").splitlines()[0].split(",")[0] == translation.gettext("Category")
