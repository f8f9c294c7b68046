from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from catalog.models import Product
from reports import export, selectors, services
from reports.forms import ForecastLocationForm, ForecastRunForm, ReportFilterForm
from reports.models import JobRun
from reports.registry import REPORTS
from stock.models import Location
from supermarket.jobs import JobsUnavailable


def manager_only(view):
    """Reports are for managers: the role that holds the reports app's permissions."""
    return login_required(permission_required("reports.view_salesdaily", raise_exception=True)(view))


@manager_only
def index(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "reports/index.html", {"reports": REPORTS})


@manager_only
def report(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in REPORTS:
        raise Http404
    spec = REPORTS[slug]
    form = ReportFilterForm(request.GET)  # always bound: an empty query means the default period
    context = {
        "spec": spec,
        "slug": slug,
        "form": form,
        "filters": spec.filters,
        "background_formats": [("xlsx", _("Make XLSX")), ("csv", _("Make CSV"))],
    }
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
@require_POST
def report_export(request: HttpRequest, slug: str) -> HttpResponse:
    """Start a background export of the report with the filters in the query string; its job page offers the file."""
    if slug not in REPORTS:
        raise Http404
    try:
        job = export.report_export_start(slug=slug, query=request.GET, file_format=request.POST.get("format", ""))
    except (export.ExportRefused, JobsUnavailable) as error:
        messages.error(request, str(error))
        query = request.GET.urlencode()
        return redirect(reverse("reports:report", args=[slug]) + (f"?{query}" if query else ""))
    return redirect("reports:job-detail", job_id=job.pk)


@manager_only
def forecast(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    form = ForecastLocationForm(request.GET)
    context = {"product": product, "form": form, "locations": Location.objects.all()}
    if not form.is_valid():  # a hand-edited address: say so beside the location list
        context["location"] = Location.default()
        return TemplateResponse(request, "reports/forecast.html", context, status=400)
    location = form.cleaned_data["location"] or Location.default()
    stored = selectors.forecast_for(product, location)
    context.update(location=location, forecast=stored)
    if stored:
        days = list(stored.days.all())
        end = stored.history_end
        history = selectors.daily_demand(product_ids=[product.pk], location_id=location.pk, end=end, days=56)[
            product.pk
        ]
        from reports import charts  # matplotlib is loaded by the first chart drawn, not by every web worker

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
    if job.kind == JobRun.Kind.REPORT_EXPORT and job.status == JobRun.Status.DONE:
        context["download"] = export.export_filename(job)
    template = "reports/job.html#status" if request.htmx else "reports/job.html"
    return TemplateResponse(request, template, context)


@manager_only
def job_download(request: HttpRequest, job_id: int) -> FileResponse:
    job = get_object_or_404(JobRun, pk=job_id, kind=JobRun.Kind.REPORT_EXPORT, status=JobRun.Status.DONE)
    try:
        stored = default_storage.open(export.export_path(job), "rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(stored, as_attachment=True, filename=export.export_filename(job))


@manager_only
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(JobRun, pk=job_id)
    try:
        services.job_retry(job=job)
    except (services.JobNotRetryable, JobsUnavailable) as error:
        messages.error(request, str(error))
    return redirect("reports:job-detail", job_id=job.pk)
