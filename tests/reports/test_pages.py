"""Report pages, exports and the job status page through the web."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal as D
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from reports.export import ExportRefused, report_export_start
from reports.models import JobRun
from reports.registry import REPORTS
from reports.services import SoldLine, sales_daily_add
from stock.services import Move, stock_move_batch
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


def latest_date() -> date:
    """The last day reports cover: a year ahead of the store's today."""
    return timezone.localdate() + timedelta(days=365)


FAR_DATES = [
    {"end": "0001-01-01"},
    {"start": "0001-01-01", "end": "0001-01-10"},
    {"start": "9999-12-01", "end": "9999-12-31"},
    {"start": "1999-12-31", "end": "2000-01-10"},
]


@pytest.mark.django_db
@pytest.mark.parametrize("query", FAR_DATES)
@pytest.mark.parametrize("slug", list(REPORTS))
def test_dates_outside_the_reports_range_get_a_message_naming_the_range(manager, sales, slug, query):
    page = manager.get(reverse("reports:report", args=[slug]), query)
    assert page.status_code == 400 and "table" not in page.context
    assert f"from 2000-01-01 to {latest_date().isoformat()}" in page.content.decode()
    with pytest.raises(ExportRefused, match="outside the dates reports cover"):
        report_export_start(slug=slug, query=QueryDict(urlencode(query)), file_format="csv")
    assert not JobRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", list(REPORTS))
def test_the_first_and_last_dates_reports_allow_still_render(manager, sales, floor, slug):
    sales_daily_add(lines=[SoldLine(sales.pk, floor.pk, latest_date(), D("1"), D("4.50"), D("3.20"))])
    url = reverse("reports:report", args=[slug])
    assert manager.get(url, {"start": "2000-01-01", "end": "2000-01-10"}).status_code == 200
    last = latest_date()
    assert (
        manager.get(url, {"start": (last - timedelta(days=9)).isoformat(), "end": last.isoformat()}).status_code == 200
    )
    assert manager.get(url, {"end": "2000-01-05"}).status_code == 200  # the default start stays in range


@pytest.mark.django_db
def test_forecast_batch_with_a_far_history_end_is_refused_with_the_range(manager, floor):
    response = manager.post(reverse("reports:jobs"), {"location": floor.pk, "horizon": 7, "history_end": "0001-01-01"})
    assert response.status_code == 200 and not JobRun.objects.exists()
    assert "outside the dates reports cover" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["stock-valuation", "sales-by-category"])
def test_categories_sharing_a_leaf_name_show_their_path_on_the_page_and_in_the_files(manager, floor, slug):
    for parent, price in (("饮料", "2.00"), ("零食", "3.00")):
        product = ProductFactory(category=CategoryFactory(name="其他", parent=CategoryFactory(name=parent)))
        stock_move_batch(moves=[Move(product, floor, D(10))], kind="receipt")
        sales_daily_add(lines=[SoldLine(product.pk, floor.pk, DAY, D(1), D(price), D("1.00"))])
    url = reverse("reports:report", args=[slug])
    page = manager.get(url, REPORT_QUERY).content.decode()
    assert "饮料 / 其他" in page and "零食 / 其他" in page
    rows = list(
        csv.reader(io.StringIO(manager.get(url, {**REPORT_QUERY, "format": "csv"}).content.decode("utf-8-sig")))
    )
    assert sorted(row[0] for row in rows[1:-1]) == ["零食 / 其他", "饮料 / 其他"]  # the last row is the total
    sheet = load_workbook(io.BytesIO(manager.get(url, {**REPORT_QUERY, "format": "xlsx"}).content)).active
    assert sorted(sheet.cell(row, 1).value for row in (2, 3)) == ["零食 / 其他", "饮料 / 其他"]


@pytest.mark.django_db
@pytest.mark.parametrize("location", ["abc", "1.5", "999999"])
def test_the_forecast_page_with_a_location_that_is_not_one_says_so(manager, sales, location):
    page = manager.get(reverse("reports:forecast", args=[sales.pk]), {"location": location})
    assert page.status_code == 400
    assert "Select a valid choice" in page.content.decode()


@pytest.mark.django_db
def test_the_forecast_page_without_a_location_shows_the_default_one(manager, sales, floor, backroom):
    assert manager.get(reverse("reports:forecast", args=[sales.pk])).context["location"] == floor
    chosen = manager.get(reverse("reports:forecast", args=[sales.pk]), {"location": backroom.pk})
    assert chosen.status_code == 200 and chosen.context["location"] == backroom


@pytest.mark.django_db
@pytest.mark.parametrize("days_ahead", [0, 1, 200])
def test_forecast_batch_with_a_history_end_from_today_on_is_refused(manager, floor, days_ahead):
    history_end = timezone.localdate() + timedelta(days=days_ahead)
    response = manager.post(
        reverse("reports:jobs"), {"location": floor.pk, "horizon": 7, "history_end": history_end.isoformat()}
    )
    assert response.status_code == 200 and not JobRun.objects.exists()
    yesterday = timezone.localdate() - timedelta(days=1)
    assert f"yesterday ({yesterday.isoformat()}) at the latest" in response.content.decode()


@pytest.mark.django_db
def test_forecast_batch_up_to_yesterday_starts(manager, floor, settings):
    settings.JOBS_INLINE = True
    yesterday = timezone.localdate() - timedelta(days=1)
    response = manager.post(
        reverse("reports:jobs"), {"location": floor.pk, "horizon": 7, "history_end": yesterday.isoformat()}
    )
    batch = JobRun.objects.get(parent=None)
    assert response.url == reverse("reports:job-detail", args=[batch.pk])
    assert batch.arguments["history_end"] == yesterday.isoformat()


@pytest.mark.django_db
def test_job_pages_name_the_kind_of_job_in_words(manager):
    export_job = JobRun.objects.create(kind=JobRun.Kind.REPORT_EXPORT, queue="reports")
    batch = JobRun.objects.create(kind=JobRun.Kind.FORECAST_BATCH, queue="forecasts")
    listing = manager.get(reverse("reports:jobs")).content.decode()
    for job in (export_job, batch):
        assert f"<td>{job.get_kind_display()}</td>" in listing and f">{job.kind}<" not in listing
        page = manager.get(reverse("reports:job-detail", args=[job.pk])).content.decode()
        assert f"· {job.get_kind_display()}</h1>" in page
