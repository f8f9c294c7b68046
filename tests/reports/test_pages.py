"""Report pages, exports and the job status page through the web."""

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from reports.models import JobRun
from reports.services import SoldLine, sales_daily_add
from supermarket.roles import CASHIER, user_set_role
from tests.factories import CategoryFactory, ProductFactory

DAY = date(2026, 11, 16)


@pytest.fixture
def sales(floor):
    risky = CategoryFactory(name="=HYPERLINK(1)")
    product = ProductFactory(category=risky)
    sales_daily_add(lines=[SoldLine(product.pk, floor.pk, DAY, D("2.5"), D("11.25"), D("8.00"))])
    return product


REPORT_QUERY = {"start": "2026-11-01", "end": "2026-11-30"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug", ["sales-by-category", "daily-trend", "top-sellers", "bottom-sellers", "slow-movers", "stock-valuation"]
)
def test_every_report_renders_and_exports_csv_and_xlsx(manager, sales, slug):
    url = reverse("reports:report", args=[slug])
    page = manager.get(url, REPORT_QUERY)
    assert page.status_code == 200
    csv_response = manager.get(url, {**REPORT_QUERY, "format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert header == [str(c.label) for c in page.context["table"].columns]
    xlsx = manager.get(url, {**REPORT_QUERY, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[1]] == header


@pytest.mark.django_db
def test_sales_by_category_shows_chart_and_numbers_and_exports_them_safely(manager, sales):
    url = reverse("reports:report", args=["sales-by-category"])
    page = manager.get(url, REPORT_QUERY)
    body = page.content.decode()
    assert "<svg" in body and "11.25" in body
    rows = list(
        csv.reader(io.StringIO(manager.get(url, {**REPORT_QUERY, "format": "csv"}).content.decode("utf-8-sig")))
    )
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][3] == "11.25"
    sheet = load_workbook(io.BytesIO(manager.get(url, {**REPORT_QUERY, "format": "xlsx"}).content)).active
    assert sheet["A2"].value == "'=HYPERLINK(1)" and sheet["D2"].value == 11.25  # a number, not text


@pytest.mark.django_db
def test_htmx_filter_returns_only_the_result_fragment(manager, sales):
    page = manager.get(reverse("reports:report", args=["sales-by-category"]), REPORT_QUERY, HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert "<svg" in body and 'class="filters' not in body and "<html" not in body


@pytest.mark.django_db
def test_a_reversed_period_gets_a_message_and_no_table(manager, sales):
    page = manager.get(
        reverse("reports:report", args=["sales-by-category"]), {"start": "2026-11-30", "end": "2026-11-01"}
    )
    assert page.status_code == 400
    assert "end date is before the start date" in page.content.decode() and "table" not in page.context


@pytest.mark.django_db
def test_reports_are_for_staff_only(client, django_user_model, sales):
    cashier = django_user_model.objects.create_user("cashier", password="x")
    user_set_role(user=cashier, role=CASHIER)
    client.force_login(cashier)
    assert client.get(reverse("reports:report", args=["sales-by-category"])).status_code == 403


@pytest.mark.django_db
def test_job_page_polls_while_running_and_offers_retry_when_failed(manager):
    running = JobRun.objects.create(kind="forecast_chunk", status=JobRun.Status.RUNNING, done=3, total=12)
    fragment = manager.get(reverse("reports:job-detail", args=[running.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and 'value="25"' in fragment and "Retry" not in fragment
    failed = JobRun.objects.create(kind="forecast_chunk", status=JobRun.Status.FAILED, error="ValueError: bad series")
    page = manager.get(reverse("reports:job-detail", args=[failed.pk])).content.decode()
    assert "ValueError: bad series" in page and "Retry" in page and "every 2s" not in page


@pytest.mark.django_db(transaction=True)
def test_starting_the_batch_from_the_jobs_page_forecasts_and_shows_the_forecast(manager, sales, floor, settings):
    settings.JOBS_INLINE = True
    response = manager.post(reverse("reports:jobs"), {"location": floor.pk, "horizon": 7, "history_end": "2026-11-22"})
    batch = JobRun.objects.get(parent=None)
    assert response.url == reverse("reports:job-detail", args=[batch.pk])
    assert JobRun.objects.get(pk=batch.pk).status == JobRun.Status.DONE
    page = manager.get(reverse("reports:forecast", args=[sales.pk])).content.decode()
    assert "<svg" in page and "2026-11-23" in page
