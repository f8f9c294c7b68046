"""Sales by hour, shift Z-reports and stocktake accuracy: figures against sums worked out by hand."""

import csv
import io
import uuid
from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from checkout.models import Payment, Refund, Register, Return, Sale, Shift
from checkout.selectors import shift_report
from reports import jobs, operations
from reports.forms import cashiers
from reports.models import JobRun
from stock.models import CountLine, CountSession
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
START, END = date(2026, 11, 16), date(2026, 11, 17)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def store_time(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def people(django_user_model):
    return {name: django_user_model.objects.create_user(name, password="x") for name in ("alice", "bob")}


def make_shift(register, user, opened, *, float_, closed=None, closed_by=None, expected=None, counted=None):
    shift = Shift.objects.create(
        register=register,
        opened_by=user,
        opening_float=D(float_),
        closed_at=closed,
        closed_by=closed_by,
        expected_cash=expected,
        counted_cash=counted,
    )
    Shift.objects.filter(pk=shift.pk).update(opened_at=opened)  # opened_at is set on insert
    return shift


def make_sale(register, user, when, total, items, *, shift=None, payments=(), change="0"):
    sale = Sale.objects.create(
        number=f"S{uuid.uuid4().hex[:10]}",
        client_token=uuid.uuid4(),
        register=register,
        shift=shift,
        location=register.location,
        cashier=user,
        item_count=D(items),
        total=D(total),
        tax=D(0),
        paid=sum((D(a) for _m, a in payments), D(0)),
        change=D(change),
    )
    Sale.objects.filter(pk=sale.pk).update(created_at=when)
    for method, amount in payments:
        Payment.objects.create(sale=sale, method=method, amount=D(amount))
    return sale


def make_return(sale, user, when, total, *, shift=None, method="cash"):
    ret = Return.objects.create(sale=sale, shift=shift, user=user, approved_by=user, total=D(total), tax=D(0))
    Return.objects.filter(pk=ret.pk).update(created_at=when)
    Refund.objects.create(ret=ret, method=method, amount=D(total))
    return ret


@pytest.fixture
def trading(db, floor, backroom, people):
    """Two days of a small store in Shanghai time.

    Shift A (T01, alice, 16th 08:00-17:00): S1 cash 50 change 30 (total 20, 2 items) at 09:15, S2 card 10 at 09:50,
    S1 partly returned at 10:20 (5.00 cash). Expected cash 100 + 50 - 30 - 5 = 115, counted 113: short 2.
    Shift C (T01, bob, 17th 08:00-09:00, closed by alice): float 50, no sales, counted 50.
    Shift B (T02 in the backroom, bob, 17th 12:00, still open): float 200, S3 cash 40 change 4.50 (35.50) at 18:05.
    No shift: S4 12.00 at 23:30 on the 16th, S5 8.00 at 00:10 on the 17th; S0 on the 15th and shift D on the
    10th are outside the range.
    """
    alice, bob = people["alice"], people["bob"]
    t01 = Register.objects.create(code="T01", name="Till 1", location=floor)
    t02 = Register.objects.create(code="T02", name="Till 2", location=backroom)
    a = make_shift(
        t01, alice, at(16, 8), float_="100", closed=at(16, 17), closed_by=alice, expected=D("115"), counted=D("113")
    )
    c = make_shift(t01, bob, at(17, 8), float_="50", closed=at(17, 9), closed_by=alice, expected=D("50"), counted=D(50))
    b = make_shift(t02, bob, at(17, 12), float_="200")
    make_shift(t01, alice, at(10, 8), float_="100", closed=at(10, 17), closed_by=alice, expected=D(100), counted=D(90))
    s1 = make_sale(t01, alice, at(16, 9, 15), "20.00", "2", shift=a, payments=[("cash", "50")], change="30")
    make_sale(t01, alice, at(16, 9, 50), "10.00", "1", shift=a, payments=[("card", "10")])
    make_return(s1, alice, at(16, 10, 20), "5.00", shift=a)
    make_sale(t02, bob, at(17, 18, 5), "35.50", "3.5", shift=b, payments=[("cash", "40")], change="4.50")
    make_sale(t01, alice, at(16, 23, 30), "12.00", "1")
    make_sale(t01, alice, at(17, 0, 10), "8.00", "1")
    make_sale(t01, alice, at(15, 23, 59), "99.00", "9")
    return {"A": a, "B": b, "C": c, "T01": t01, "T02": t02}


# Sales by hour ----------------------------------------------------------------------------


def test_sales_fall_into_store_hours_and_a_return_reduces_the_hour_it_happened_in(trading):
    table = operations.sales_by_hour(start=START, end=END)
    hours = {r.hour: r for r in table.rows}
    assert len(table.rows) == 24
    nine = hours[9]
    assert (nine.sales, nine.items, nine.sales_amount, nine.net_amount) == (2, D("3.000"), D("30.00"), D("30.00"))
    assert nine.average_basket == D("15.00") and nine.sales_per_day == D("1.00") and nine.net_per_day == D("15.00")
    ten = hours[10]
    assert (ten.sales, ten.returns, ten.returns_amount, ten.net_amount) == (0, 1, D("5.00"), D("-5.00"))
    assert ten.average_basket is None
    assert (hours[23].sales, hours[23].sales_amount) == (1, D("12.00"))  # 23:30 store time, 15:30 UTC
    assert (hours[0].sales, hours[0].sales_amount) == (1, D("8.00"))  # 00:10 store time, the day before in UTC
    assert (hours[18].sales, hours[18].sales_amount) == (1, D("35.50"))
    assert sum(r.sales for r in table.rows if r.hour not in (0, 9, 18, 23)) == 0
    total = table.totals
    assert (total.sales, total.sales_amount, total.returns_amount, total.net_amount) == (
        5,
        D("85.50"),
        D("5.00"),
        D("80.50"),
    )
    assert total.net_per_day == D("40.25") and total.average_basket == D("17.10")


def test_sales_by_hour_of_one_location_leaves_the_others_out(trading, backroom):
    table = operations.sales_by_hour(start=START, end=END, location=backroom)
    assert [(r.hour, r.sales_amount) for r in table.rows if r.sales] == [(18, D("35.50"))]
    assert table.totals.returns == 0


def test_sales_by_hour_is_two_queries_whatever_the_range(trading):
    with CaptureQueriesContext(connection) as queries:
        operations.sales_by_hour(start=date(2024, 1, 1), end=END)
    assert len(queries) == 2


# Shift Z-reports ----------------------------------------------------------------------------


def test_each_shift_has_its_z_report_figures_and_open_shifts_their_cash_so_far(trading):
    table = operations.shift_z_reports(start=START, end=END)
    rows = {r.shift_id: r for r in table.rows}
    assert [r.shift_id for r in table.rows] == [trading["A"].pk, trading["C"].pk, trading["B"].pk]
    a = rows[trading["A"].pk]
    assert (a.sales, a.sales_amount, a.refunds, a.refunds_amount, a.net_amount) == (2, D("20.00") + 10, 1, 5, 25)
    assert (a.expected_cash, a.counted_cash, a.difference) == (D("115"), D("113"), D("-2"))
    assert a.opened_at == datetime(2026, 11, 16, 8, 0) and a.opened_by == "alice" and a.closed_by == "alice"
    assert a.z_report == reverse("checkout:shift-report", args=[trading["A"].pk])
    z = shift_report(trading["A"])  # the shift's own Z-report says the same
    assert (z.sale_count, z.sales_total, z.refunds_total, z.expected_cash) == (2, D("30.00"), D("5.00"), D("115"))
    b = rows[trading["B"].pk]
    assert b.status == "open" and b.closed_at is None
    assert (b.sales_amount, b.expected_cash, b.counted_cash, b.difference) == (D("35.50"), D("235.50"), None, None)
    assert shift_report(trading["B"]).expected_cash == b.expected_cash
    assert (table.totals.sales, table.totals.net_amount, table.totals.difference) == (3, D("60.50"), D("-2"))


def test_the_expected_cash_total_adds_every_shift_and_the_counted_totals_only_the_closed_ones(trading):
    table = operations.shift_z_reports(start=START, end=END)
    counted = [r for r in table.rows if r.counted_cash is not None]
    assert 0 < len(counted) < len(table.rows)  # an open shift in the range
    total = table.totals
    assert total.expected_cash == sum(r.expected_cash for r in table.rows)
    assert total.counted_cash == sum(r.counted_cash for r in counted)
    assert total.difference == total.counted_cash - sum(r.expected_cash for r in counted)
    labels = {c.key: str(c.label) for c in table.columns}
    assert "closed shifts" in labels["counted_cash"] and "closed shifts" in labels["difference"]


def test_shift_status_is_translated_as_a_shifts_state_not_as_another_open_or_closed(trading):
    with translation.override("zh-hans"):
        statuses = {r.shift_id: r.status for r in operations.shift_z_reports(start=START, end=END).rows}
        assert statuses[trading["B"].pk] == translation.pgettext("shift status", "open") != translation.gettext("open")
        closed = translation.pgettext("shift status", "closed")
        assert statuses[trading["A"].pk] == closed != translation.gettext("closed")


def test_shifts_filter_by_register_and_by_who_opened_or_closed_them(trading, people):
    by_register = operations.shift_z_reports(start=START, end=END, register=trading["T02"])
    assert [r.shift_id for r in by_register.rows] == [trading["B"].pk]
    bob = operations.shift_z_reports(start=START, end=END, cashier=people["bob"])
    assert [r.shift_id for r in bob.rows] == [trading["C"].pk, trading["B"].pk]
    alice = operations.shift_z_reports(start=START, end=END, cashier=people["alice"])
    assert [r.shift_id for r in alice.rows] == [trading["A"].pk, trading["C"].pk]  # C was closed by alice


def test_shift_totals_add_up_per_cashier_who_opened_the_shift(trading):
    table = operations.shift_totals_by_cashier(start=START, end=END)
    rows = {r.cashier: r for r in table.rows}
    alice, bob = rows["alice"], rows["bob"]
    assert (alice.shifts, alice.sales, alice.sales_amount, alice.refunds_amount, alice.net_amount) == (1, 2, 30, 5, 25)
    assert (alice.counted_shifts, alice.difference, alice.shifts_off) == (1, D("-2"), 1)
    assert (bob.shifts, bob.sales, bob.net_amount, bob.counted_shifts, bob.difference, bob.shifts_off) == (
        2,
        1,
        D("35.50"),
        1,
        D("0"),
        0,
    )
    assert (table.totals.shifts, table.totals.net_amount, table.totals.difference) == (3, D("60.50"), D("-2"))


def test_shift_figures_take_the_same_few_queries_for_many_shifts(trading, people):
    for day in range(1, 15):
        make_shift(trading["T01"], people["alice"], at(day, 7), float_="10", closed=at(day, 8), expected=D(10))
    with CaptureQueriesContext(connection) as queries:
        rows = operations.shifts(start=date(2026, 11, 1), end=END)
    assert len(rows) == 18 and len(queries) == 4


# Stocktake accuracy -------------------------------------------------------------------------


@pytest.fixture
def counts(floor, backroom):
    """Session 1 (floor, posted 16th): 4 lines, 2 off by -2 and +1 units; 75% within its tolerance as posted.
    Session 2 (backroom, posted 17th): 2 exact lines. An open session and one posted on the 12th are left out."""
    products = [ProductFactory() for _ in range(4)]

    def session(location, posted, lines, accuracy, net, absolute):
        made = CountSession.objects.create(
            location=location,
            status=CountSession.Status.POSTED if posted else CountSession.Status.OPEN,
            posted_at=posted,
            accuracy_percent=accuracy,
            difference_value=D(net),
            absolute_difference_value=D(absolute),
        )
        for product, (counted, expected) in zip(products, lines, strict=False):
            CountLine.objects.create(
                session=made, product=product, counted=D(counted), expected=D(expected), unit_cost=D("1.50")
            )
        return made

    first = session(floor, at(16, 21), [(10, 10), (8, 10), (5, 4), (0, 0)], D("75.00"), "-1.50", "4.50")
    second = session(backroom, at(17, 21), [(3, 3), ("2.5", "2.5")], D("100.00"), "0", "0")
    session(floor, None, [(1, 9)], None, "0", "0")
    session(floor, at(12, 21), [(1, 9)], D("0"), "-12", "12")
    return first, second


def test_stocktake_accuracy_per_posted_session_from_its_lines(counts):
    first, second = counts
    table = operations.stocktake_accuracy(start=START, end=END)
    assert [r.session_id for r in table.rows] == [first.pk, second.pk]
    one, two = table.rows
    assert (one.lines, one.lines_off, one.accuracy, one.variance_quantity) == (4, 2, D("50.00"), D("3.000"))
    assert (one.within_tolerance, one.variance_value, one.absolute_variance_value) == (75, D("-1.50"), D("4.50"))
    assert (two.lines, two.lines_off, two.accuracy, two.variance_quantity) == (2, 0, D("100.00"), D("0.000"))
    total = table.totals
    assert (total.lines, total.lines_off, total.accuracy, total.variance_quantity) == (6, 2, D("66.67"), D("3.000"))
    assert total.absolute_variance_value == D("4.50")


def test_stocktake_accuracy_of_one_location(counts, backroom):
    table = operations.stocktake_accuracy(start=START, end=END, location=backroom)
    assert [r.session_id for r in table.rows] == [counts[1].pk]


# Pages and exports -------------------------------------------------------------------------

NEW_REPORTS = ["sales-by-hour", "shift-z-reports", "shift-totals-by-cashier", "stocktake-accuracy"]
QUERY = {"start": "2026-11-16", "end": "2026-11-17"}


@pytest.mark.parametrize("slug", NEW_REPORTS)
def test_new_reports_render_and_export_the_same_table_as_csv_and_xlsx(manager, trading, counts, slug):
    url = reverse("reports:report", args=[slug])
    page = manager.get(url, QUERY)
    assert page.status_code == 200
    table = page.context["table"]
    assert table.rows
    expected = [[str(v) if v is not None else "" for v in table.values(r)] for r in [*table.rows, table.totals]]
    rows = list(csv.reader(io.StringIO(manager.get(url, {**QUERY, "format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[0] == [str(c.label) for c in table.columns]
    assert rows[1:] == expected
    sheet = load_workbook(io.BytesIO(manager.get(url, {**QUERY, "format": "xlsx"}).content)).active
    assert [c.value for c in sheet[1]] == rows[0]
    assert sheet.max_row == len(expected) + 1


def test_sales_by_hour_page_shows_the_chart_beside_the_numbers(manager, trading):
    body = manager.get(reverse("reports:report", args=["sales-by-hour"]), QUERY).content.decode()
    assert "<svg" in body and "35.50" in body and "09:00–10:00" in body


def test_z_report_rows_link_to_the_shifts_own_z_report(manager, trading):
    body = manager.get(reverse("reports:report", args=["shift-z-reports"]), QUERY).content.decode()
    assert f'href="{reverse("checkout:shift-report", args=[trading["A"].pk])}"' in body


def test_shift_report_filtered_by_cashier_through_the_page(manager, trading, people):
    page = manager.get(reverse("reports:report", args=["shift-z-reports"]), {**QUERY, "cashier": people["bob"].pk})
    assert {r.shift_id for r in page.context["table"].rows} == {trading["B"].pk, trading["C"].pk}


def test_a_cashier_who_has_left_can_still_be_reported_on_and_exported(manager, trading, people, settings, tmp_path):
    bob = people["bob"]
    bob.is_active = False
    bob.save()
    never_worked = type(bob).objects.create_user("carol", password="x", is_active=False)
    url = reverse("reports:report", args=["shift-z-reports"])
    page = manager.get(url, {**QUERY, "cashier": bob.pk})
    assert page.status_code == 200
    assert {r.shift_id for r in page.context["table"].rows} == {trading["B"].pk, trading["C"].pk}
    choices = {pk.value for pk, _label in page.context["form"].fields["cashier"].choices if pk}
    assert bob.pk in choices and never_worked.pk not in choices

    settings.MEDIA_ROOT = tmp_path
    query = f"start={QUERY['start']}&end={QUERY['end']}&cashier={bob.pk}"
    manager.post(reverse("reports:report-export", args=["shift-z-reports"]) + f"?{query}", {"format": "csv"})
    job = JobRun.objects.get()
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == (JobRun.Status.DONE, "")
    content = b"".join(manager.get(reverse("reports:job-download", args=[job.pk])).streaming_content)
    assert len(content.decode("utf-8-sig").splitlines()) == 1 + 2 + 1  # header, bob's two shifts, total


def test_the_cashier_list_is_one_query(trading, people):
    people["bob"].is_active = False
    people["bob"].save()
    with CaptureQueriesContext(connection) as queries:
        names = [u.username for u in cashiers()]
    assert len(queries) == 1 and "bob" in names


def test_a_refused_export_shows_its_message_on_the_job_page_without_the_exception_class(manager, floor, settings):
    settings.JOBS_INLINE = True  # on a worker the error is raised again for RQ, after it is recorded
    job = JobRun.objects.create(
        kind="report_export",
        queue="reports",
        arguments={"slug": "top-sellers", "format": "csv", "filters": {"location": 999999}},
    )
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and job.error.startswith("Select a valid choice")
    page = manager.get(reverse("reports:job-detail", args=[job.pk])).content.decode()
    assert "Select a valid choice" in page and "ExportRefused" not in page


def test_xlsx_keeps_shift_times_as_store_times(manager, trading):
    url = reverse("reports:report", args=["shift-z-reports"])
    sheet = load_workbook(io.BytesIO(manager.get(url, {**QUERY, "format": "xlsx"}).content)).active
    assert sheet["C2"].value == datetime(2026, 11, 16, 8, 0) and sheet["H2"].value == 30
