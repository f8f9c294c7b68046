from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from catalog.models import Product
from reports import charts, export, selectors, services
from reports.forms import ForecastRunForm, ReportFilterForm
from reports.models import JobRun
from reports.selectors import Table
from stock.models import Location
from supermarket.jobs import JobsUnavailable


def manager_only(view):
    """Reports are for managers: the role that holds the reports app's permissions."""
    return login_required(permission_required("reports.view_salesdaily", raise_exception=True)(view))


@dataclass(frozen=True)
class Report:
    title: str
    build: Callable[[dict], Table]
    chart: Callable[[Table], str] | None = None
    filters: tuple[str, ...] = ("start", "end", "location")


def _category_chart(table: Table) -> str:
    return charts.bar_chart(
        [r.category for r in table.rows],
        [float(r.amount) for r in table.rows],
        title=str(_("Sales amount by category")),
    )


def _trend_chart(table: Table) -> str:
    return charts.line_chart(
        [r.day for r in table.rows],
        {
            str(_("Sales amount")): [float(r.amount) for r in table.rows],
            str(_("Same weekday last week")): [float(r.last_week) for r in table.rows],
            str(_("Same weekday last year")): [float(r.last_year) for r in table.rows],
        },
        title=str(_("Daily sales")),
    )


def _product_chart(table: Table) -> str:
    return charts.bar_chart(
        [r.product for r in table.rows], [float(r.amount) for r in table.rows], title=str(_("Sales amount"))
    )


def _valuation_chart(table: Table) -> str:
    return charts.bar_chart(
        [r.category for r in table.rows],
        [float(r.stock_value) for r in table.rows],
        title=str(_("Stock value at cost")),
    )


REPORTS = {
    "sales-by-category": Report(
        _("Sales by category"),
        lambda f: selectors.sales_by_category(start=f["start"], end=f["end"], location=f["location"]),
        _category_chart,
    ),
    "daily-trend": Report(
        _("Daily sales trend"),
        lambda f: selectors.daily_trend(start=f["start"], end=f["end"], location=f["location"]),
        _trend_chart,
    ),
    "top-sellers": Report(
        _("Top sellers"),
        lambda f: selectors.top_sellers(start=f["start"], end=f["end"], location=f["location"]),
        _product_chart,
    ),
    "bottom-sellers": Report(
        _("Bottom sellers"),
        lambda f: selectors.top_sellers(start=f["start"], end=f["end"], location=f["location"], bottom=True),
        _product_chart,
    ),
    "slow-movers": Report(
        _("Slow movers and dead stock"),
        lambda f: selectors.slow_movers(today=f["end"], days=f["days"], location=f["location"]),
        filters=("end", "days", "location"),
    ),
    "stock-valuation": Report(
        _("Stock valuation at cost"),
        lambda f: selectors.stock_valuation(location=f["location"]),
        _valuation_chart,
        filters=("location",),
    ),
}


@manager_only
def index(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "reports/index.html", {"reports": REPORTS})


@manager_only
def report(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in REPORTS:
        raise Http404
    spec = REPORTS[slug]
    form = ReportFilterForm(request.GET)  # always bound: an empty query means the default period
    context = {"spec": spec, "slug": slug, "form": form, "filters": spec.filters}
    if not form.is_valid():
        status = 400
    else:
        status = 200
        data = form.cleaned_data
        table = spec.build(data)
        export_as = request.GET.get("format")
        filename = f"{slug}-{data['start']}-{data['end']}"
        if export_as == "csv":
            return export.table_csv(table, filename)
        if export_as == "xlsx":
            return export.table_xlsx(table, filename)
        context.update(table=table, chart=spec.chart(table) if spec.chart and table.rows else None)
    template = "reports/report.html#result" if request.htmx else "reports/report.html"
    return TemplateResponse(request, template, context, status=status)


@manager_only
def forecast(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    location = Location.objects.filter(pk=request.GET.get("location") or None).first() or Location.default()
    stored = selectors.forecast_for(product, location)
    context = {"product": product, "location": location, "forecast": stored, "locations": Location.objects.all()}
    if stored:
        days = list(stored.days.all())
        end = stored.history_end
        history = selectors.daily_demand(product_ids=[product.pk], location_id=location.pk, end=end, days=56)[
            product.pk
        ]
        context["chart"] = charts.forecast_chart(
            [end - timedelta(days=55 - i) for i in range(56)],
            history,
            [d.day for d in days],
            [float(d.mean) for d in days],
            [float(d.lower) for d in days],
            [float(d.upper) for d in days],
            labels=(
                str(_("Sold")),
                str(_("Forecast")),
                # "80% i" would read as a %-directive to msgfmt; the label is never %-formatted.
                # xgettext:no-python-format
                str(_("80% interval")),
            ),
        )
        context["days"] = days
    return TemplateResponse(request, "reports/forecast.html", context)


@manager_only
def jobs(request: HttpRequest) -> HttpResponse:
    form = ForecastRunForm(request.POST or None, initial={"location": Location.default()})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.forecast_batch_start(
                location=form.cleaned_data["location"],
                history_end=form.cleaned_data["history_end"],
                horizon=form.cleaned_data["horizon"],
            )
        except JobsUnavailable as error:
            form.add_error(None, str(error))
            status = 503
        else:
            return redirect("reports:job-detail", job_id=batch.pk)
    runs = JobRun.objects.filter(parent=None)[:50]
    return TemplateResponse(request, "reports/jobs.html", {"runs": runs, "form": form}, status=status)


@manager_only
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(JobRun, pk=job_id)
    context = {"job": job, "parts": job.parts.order_by("pk")}
    template = "reports/job.html#status" if request.htmx else "reports/job.html"
    return TemplateResponse(request, template, context)


@manager_only
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(JobRun, pk=job_id)
    try:
        services.job_retry(job=job)
    except (services.JobNotRetryable, JobsUnavailable) as error:
        messages.error(request, str(error))
    return redirect("reports:job-detail", job_id=job.pk)
