"""Report queries over the store's operations: sales by hour of day, shifts (Z-reports), stocktake accuracy.

They read sale and return headers, shifts and count sessions, never sale lines, and
aggregate on the database (GROUP BY), so a long range costs a few queries, not one per
hour, shift or session. Each returns a Table like the queries in reports.selectors.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Abs, ExtractHour
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from checkout.models import Payment, PaymentMethod, Refund, Register, Return, Sale, Shift
from reports.selectors import Column, Table
from stock.models import CountSession, Location
from supermarket.money import money, quantity

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def store_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The store-time instants from the start of `start` to the start of the day after `end` (half-open)."""
    if end < start:
        raise ValueError(_("The end date is before the start date."))
    zone = store_zone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _store_time(value: datetime | None) -> datetime | None:
    """Local store time without its zone: what people read, and what a spreadsheet cell can hold."""
    return timezone.localtime(value, store_zone()).replace(tzinfo=None) if value else None


def _percent(part, whole) -> Decimal | None:
    return (HUNDRED * Decimal(part) / Decimal(whole)).quantize(Decimal("0.01")) if whole else None


# Sales by hour of day ----------------------------------------------------------------------


@dataclass
class HourSales:
    hour: int
    label: str
    sales: int = 0
    items: Decimal = ZERO
    sales_amount: Decimal = ZERO
    returns: int = 0
    returns_amount: Decimal = ZERO
    net_amount: Decimal = ZERO
    average_basket: Decimal | None = None
    sales_per_day: Decimal = ZERO
    net_per_day: Decimal = ZERO


def _hour_totals(hours: list[HourSales], label: str, days: int) -> HourSales:
    total = HourSales(
        -1,
        label,
        sum(h.sales for h in hours),
        sum((h.items for h in hours), ZERO),
        sum((h.sales_amount for h in hours), ZERO),
        sum(h.returns for h in hours),
        sum((h.returns_amount for h in hours), ZERO),
    )
    _hour_figures(total, days)
    return total


def _hour_figures(row: HourSales, days: int) -> None:
    row.net_amount = row.sales_amount - row.returns_amount
    row.average_basket = money(row.sales_amount / row.sales) if row.sales else None
    row.sales_per_day = (Decimal(row.sales) / days).quantize(Decimal("0.01"))
    row.net_per_day = money(row.net_amount / days)


def sales_by_hour(*, start: date, end: date, location: Location | None = None) -> Table:
    """Sales per hour of the day (store time) over a range of days, for staffing: number of sales, items,
    sales amount, returns in the hour they were made, net amount, average basket, and sales and net amount
    per day of the range.

    Two GROUP BY queries on the sale and return headers, each limited by the indexed created_at range.
    """
    since, until = day_bounds(start, end)
    days = (end - start).days + 1
    hour = ExtractHour("created_at", tzinfo=store_zone())
    sales = Sale.objects.filter(created_at__gte=since, created_at__lt=until)
    returns = Return.objects.filter(created_at__gte=since, created_at__lt=until)
    if location:
        sales, returns = sales.filter(location=location), returns.filter(sale__location=location)
    rows = [HourSales(h, f"{h:02d}:00–{h + 1:02d}:00") for h in range(24)]
    for r in (
        sales.annotate(hour=hour)
        .values("hour")
        .annotate(n=Count("pk"), items=Sum("item_count"), amount=Sum("total"))
        .order_by()
    ):
        row = rows[r["hour"]]
        row.sales, row.items, row.sales_amount = r["n"], quantity(r["items"]), money(r["amount"])
    for r in returns.annotate(hour=hour).values("hour").annotate(n=Count("pk"), amount=Sum("total")).order_by():
        row = rows[r["hour"]]
        row.returns, row.returns_amount = r["n"], money(r["amount"])
    for row in rows:
        _hour_figures(row, days)
    return Table(
        [
            Column("label", _("Hour")),
            Column("sales", _("Sales"), "quantity"),
            Column("items", _("Items"), "quantity"),
            Column("sales_amount", _("Sales amount"), "money"),
            Column("returns", _("Returns"), "quantity"),
            Column("returns_amount", _("Returned amount"), "money"),
            Column("net_amount", _("Net amount"), "money"),
            Column("average_basket", _("Average basket"), "money"),
            Column("sales_per_day", _("Sales per day"), "quantity"),
            Column("net_per_day", _("Net amount per day"), "money"),
        ],
        rows,
        _hour_totals(rows, str(_("Total")), days),
    )


# Shifts (Z-reports) ---------------------------------------------------------------------


@dataclass
class ShiftRow:
    shift_id: int
    register: str
    opened_by: str
    closed_by: str
    opened_at: datetime
    closed_at: datetime | None
    status: str
    sales: int = 0
    sales_amount: Decimal = ZERO
    refunds: int = 0
    refunds_amount: Decimal = ZERO
    net_amount: Decimal = ZERO
    expected_cash: Decimal | None = None
    counted_cash: Decimal | None = None
    difference: Decimal | None = None
    z_report: str = ""
    cashier_id: int = 0


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def shifts(
    *, start: date, end: date, location: Location | None = None, register: Register | None = None, cashier=None
) -> list[ShiftRow]:
    """Shifts opened in the range (closed and still open), oldest first, with their Z-report figures.

    Sales, cash taken, change and refunds are summed per shift with one GROUP BY query each, whatever the
    number of shifts. A closed shift's expected cash is the one fixed at closing; an open shift's is worked out
    as the Z-report does (float + cash taken - change - cash refunded). `cashier` matches who opened or closed.
    """
    since, until = day_bounds(start, end)
    chosen = Shift.objects.filter(opened_at__gte=since, opened_at__lt=until)
    if location:
        chosen = chosen.filter(register__location=location)
    if register:
        chosen = chosen.filter(register=register)
    if cashier:
        chosen = chosen.filter(Q(opened_by=cashier) | Q(closed_by=cashier))
    ids = chosen.values("pk")
    sales = {
        r["shift_id"]: r
        for r in Sale.objects.filter(shift__in=ids)
        .values("shift_id")
        .annotate(n=Count("pk"), sold=Sum("total"), change=Sum("change"))
        .order_by()
    }
    cash_in = dict(
        Payment.objects.filter(sale__shift__in=ids, method=PaymentMethod.CASH)
        .values("sale__shift_id")
        .annotate(cash=Sum("amount"))
        .values_list("sale__shift_id", "cash")
        .order_by()
    )
    refunds = {
        r["ret__shift_id"]: r
        for r in Refund.objects.filter(ret__shift__in=ids)
        .values("ret__shift_id")
        .annotate(
            n=Count("ret_id", distinct=True),
            refunded=Sum("amount"),
            cash=Sum("amount", filter=Q(method=PaymentMethod.CASH)),
        )
        .order_by()
    }
    rows = []
    for shift in chosen.select_related("register", "opened_by", "closed_by").order_by("opened_at", "pk"):
        sold = sales.get(shift.pk, {"n": 0, "sold": ZERO, "change": ZERO})
        refunded = refunds.get(shift.pk, {"n": 0, "refunded": ZERO, "cash": ZERO})
        row = ShiftRow(
            shift.pk,
            str(shift.register),
            _person(shift.opened_by),
            _person(shift.closed_by),
            _store_time(shift.opened_at),
            _store_time(shift.closed_at),
            # "open" and "closed" alone are taken: a suggestion's state (待处理) and a shift's closing time (交班时间).
            pgettext("shift status", "open") if shift.is_open else pgettext("shift status", "closed"),
            sold["n"],
            money(sold["sold"] or ZERO),
            refunded["n"],
            money(refunded["refunded"] or ZERO),
            z_report=reverse("checkout:shift-report", args=[shift.pk]),
            cashier_id=shift.opened_by_id,
        )
        row.net_amount = row.sales_amount - row.refunds_amount
        if shift.expected_cash is not None:
            row.expected_cash = shift.expected_cash
        else:
            row.expected_cash = money(
                shift.opening_float
                + (cash_in.get(shift.pk) or ZERO)
                - (sold["change"] or ZERO)
                - (refunded["cash"] or ZERO)
            )
        row.counted_cash = shift.counted_cash
        row.difference = None if shift.counted_cash is None else shift.counted_cash - row.expected_cash
        rows.append(row)
    return rows


def shift_z_reports(
    *, start: date, end: date, location: Location | None = None, register: Register | None = None, cashier=None
) -> Table:
    """The shifts of a range as a table, with a totals row (see shifts())."""
    rows = shifts(start=start, end=end, location=location, register=register, cashier=cashier)
    # Expected cash adds up over every shift, as sales do; only a closed shift has counted cash and a difference,
    # so those two add up over the counted shifts, and their headers say so.
    counted = [r for r in rows if r.difference is not None]
    total = ShiftRow(
        0,
        str(_("Total")),
        "",
        "",
        None,
        None,
        "",
        sum(r.sales for r in rows),
        sum((r.sales_amount for r in rows), ZERO),
        sum(r.refunds for r in rows),
        sum((r.refunds_amount for r in rows), ZERO),
        sum((r.net_amount for r in rows), ZERO),
        sum((r.expected_cash for r in rows), ZERO),
        sum((r.counted_cash for r in counted), ZERO) if counted else None,
        sum((r.difference for r in counted), ZERO) if counted else None,
    )
    return Table(
        [
            Column("register", _("Register")),
            Column("opened_by", _("Opened by")),
            Column("opened_at", _("Opened"), "datetime"),
            Column("closed_by", _("Closed by")),
            Column("closed_at", _("Closed"), "datetime"),
            Column("status", _("Status")),
            Column("sales", _("Sales"), "quantity"),
            Column("sales_amount", _("Sales amount"), "money"),
            Column("refunds", _("Returns"), "quantity"),
            Column("refunds_amount", _("Refunded"), "money"),
            Column("net_amount", _("Net amount"), "money"),
            Column("expected_cash", _("Expected cash"), "money"),
            Column("counted_cash", _("Counted cash (closed shifts)"), "money"),
            Column("difference", _("Difference (closed shifts)"), "money"),
            Column("z_report", _("Z-report"), "link"),
        ],
        rows,
        total,
    )


@dataclass
class CashierShifts:
    cashier: str
    shifts: int = 0
    sales: int = 0
    sales_amount: Decimal = ZERO
    refunds: int = 0
    refunds_amount: Decimal = ZERO
    net_amount: Decimal = ZERO
    counted_shifts: int = 0
    difference: Decimal = ZERO
    shifts_off: int = 0


def _add_shift(total: CashierShifts, row: ShiftRow) -> None:
    total.shifts += 1
    total.sales += row.sales
    total.sales_amount += row.sales_amount
    total.refunds += row.refunds
    total.refunds_amount += row.refunds_amount
    total.net_amount += row.net_amount
    if row.difference is not None:
        total.counted_shifts += 1
        total.difference += row.difference
        total.shifts_off += bool(row.difference)


def shift_totals_by_cashier(
    *, start: date, end: date, location: Location | None = None, register: Register | None = None, cashier=None
) -> Table:
    """The shifts of a range added up per cashier who opened them: shifts, sales, refunds, the sum of cash
    differences over the counted (closed) shifts and how many of those were off."""
    per_cashier: dict[int, CashierShifts] = {}
    grand = CashierShifts(str(_("Total")))
    for row in shifts(start=start, end=end, location=location, register=register, cashier=cashier):
        _add_shift(per_cashier.setdefault(row.cashier_id, CashierShifts(row.opened_by)), row)
        _add_shift(grand, row)
    return Table(
        [
            Column("cashier", _("Cashier")),
            Column("shifts", _("Shifts"), "quantity"),
            Column("sales", _("Sales"), "quantity"),
            Column("sales_amount", _("Sales amount"), "money"),
            Column("refunds", _("Returns"), "quantity"),
            Column("refunds_amount", _("Refunded"), "money"),
            Column("net_amount", _("Net amount"), "money"),
            Column("counted_shifts", _("Shifts counted"), "quantity"),
            Column("difference", _("Cash difference"), "money"),
            Column("shifts_off", _("Shifts with a difference"), "quantity"),
        ],
        sorted(per_cashier.values(), key=lambda c: (-c.net_amount, c.cashier)),
        grand,
    )


# Stocktake accuracy ---------------------------------------------------------------------


@dataclass
class CountAccuracy:
    session_id: int
    session: str
    posted_at: datetime | None
    location: str
    lines: int
    lines_off: int
    accuracy: Decimal | None
    within_tolerance: Decimal | None
    variance_quantity: Decimal
    variance_value: Decimal
    absolute_variance_value: Decimal


def stocktake_accuracy(*, start: date, end: date, location: Location | None = None) -> Table:
    """Posted count sessions of a range, oldest first: lines counted, lines whose count differed from the
    ledger at all, accuracy (lines without a variance / lines counted), the session's own accuracy within
    its tolerance, absolute variance in units, and the variance at cost (net and absolute, as fixed at posting).

    One query: the sessions with their line figures summed by a GROUP BY.
    """
    since, until = day_bounds(start, end)
    sessions = CountSession.objects.filter(status=CountSession.Status.POSTED, posted_at__gte=since, posted_at__lt=until)
    if location:
        sessions = sessions.filter(location=location)
    off = ~Q(lines__counted=F("lines__expected"))
    sessions = (
        sessions.select_related("location")
        .annotate(
            n=Count("lines"),
            n_off=Count("lines", filter=off),
            units_off=Sum(Abs(F("lines__counted") - F("lines__expected"))),
        )
        .order_by("posted_at", "pk")
    )
    rows = [
        CountAccuracy(
            s.pk,
            str(s),
            _store_time(s.posted_at),
            str(s.location),
            s.n,
            s.n_off,
            _percent(s.n - s.n_off, s.n),
            s.accuracy_percent,
            quantity(s.units_off or ZERO),
            s.difference_value,
            s.absolute_difference_value,
        )
        for s in sessions
    ]
    lines, lines_off = sum(r.lines for r in rows), sum(r.lines_off for r in rows)
    total = CountAccuracy(
        0,
        str(_("Total")),
        None,
        "",
        lines,
        lines_off,
        _percent(lines - lines_off, lines),
        None,
        sum((r.variance_quantity for r in rows), ZERO),
        sum((r.variance_value for r in rows), ZERO),
        sum((r.absolute_variance_value for r in rows), ZERO),
    )
    return Table(
        [
            Column("session", _("Count")),
            Column("posted_at", _("Posted"), "datetime"),
            Column("location", _("Location")),
            Column("lines", _("Lines counted"), "quantity"),
            Column("lines_off", _("Lines with a variance"), "quantity"),
            Column("accuracy", _("Accuracy %"), "percent"),
            Column("within_tolerance", _("Within tolerance %"), "percent"),
            Column("variance_quantity", _("Absolute variance (units)"), "quantity"),
            Column("variance_value", _("Net variance at cost"), "money"),
            Column("absolute_variance_value", _("Absolute variance at cost"), "money"),
        ],
        rows,
        total,
    )
