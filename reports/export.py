"""CSV and XLSX downloads of any report table, with the numbers as numbers and text made formula-safe, made
at once in the request or by a job on the "reports" queue for long ranges."""

import csv
import io
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from catalog.resources import spreadsheet_safe
from reports import services
from reports.models import JobRun
from reports.selectors import Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def _rows(table: Table) -> list[list]:
    rows = [table.values(row) for row in table.rows]
    if table.totals is not None:
        rows.append(table.values(table.totals))
    return [
        [v if isinstance(v, (int, Decimal, date)) or v is None else spreadsheet_safe(str(v)) for v in row]
        for row in rows
    ]


def csv_bytes(table: Table) -> bytes:
    text = io.StringIO()
    text.write("\ufeff")  # Excel opens UTF-8 (Chinese names) correctly only with the BOM
    writer = csv.writer(text)
    writer.writerow([str(c.label) for c in table.columns])
    writer.writerows(_rows(table))
    return text.getvalue().encode("utf-8")


def xlsx_bytes(table: Table) -> bytes:
    # openpyxl (with numpy and Pillow, about 30 MB) only when a workbook is written, not in every web worker.
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([str(c.label) for c in table.columns])
    for row in _rows(table):
        sheet.append(row)
    formats = {
        "money": "#,##0.00",
        "quantity": "#,##0.###",
        "percent": "0.00",
        "date": "yyyy-mm-dd",
        "datetime": "yyyy-mm-dd hh:mm",
    }
    for index, column in enumerate(table.columns, start=1):
        if column.kind in formats:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = formats[column.kind]
                if column.kind == "quantity" and isinstance(cell.value, (int, Decimal)) and cell.value % 1 == 0:
                    cell.number_format = "#,##0"  # Excel and WPS show a whole 15 as "15." in "#,##0.###"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


FORMATS = {"csv": (csv_bytes, CSV_TYPE), "xlsx": (xlsx_bytes, XLSX_TYPE)}


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def table_csv(table: Table, filename: str) -> HttpResponse:
    return _download(csv_bytes(table), CSV_TYPE, f"{filename}.csv")


def table_xlsx(table: Table, filename: str) -> HttpResponse:
    return _download(xlsx_bytes(table), XLSX_TYPE, f"{filename}.xlsx")


# Exports made by a job on the "reports" queue: a long range can take longer than a page view may.

EXPORT_DIRECTORY = "report-exports"


class ExportRefused(ValueError):
    """The export asked for cannot be made (unknown report, unknown format, bad filters); nothing was started."""


def _filter_values(data: dict, names) -> dict:
    """The cleaned filters as JSON for the job: dates as ISO text, rows by primary key."""
    values = {}
    for name in names:
        value = data.get(name)
        values[name] = value.isoformat() if isinstance(value, date) else getattr(value, "pk", value)
    return values


def export_filename(job: JobRun) -> str:
    args = job.arguments
    return f"{args['slug']}-{args['filters'].get('start') or ''}-{args['filters'].get('end') or ''}.{args['format']}"


def export_path(job: JobRun) -> str:
    return f"{EXPORT_DIRECTORY}/{job.pk}/{export_filename(job)}"


@transaction.atomic
def report_export_start(*, slug: str, query, file_format: str) -> JobRun:
    """Check the report, format and filters (ReportFilterForm on `query`), then record an export job on the
    "reports" queue, run after commit. Raises ExportRefused for bad input and JobsUnavailable when Redis
    cannot be reached; either way nothing is recorded."""
    from reports.forms import ReportFilterForm
    from reports.registry import REPORTS

    if slug not in REPORTS:
        raise ExportRefused(_("There is no report called %(slug)s.") % {"slug": slug})
    if file_format not in FORMATS:
        raise ExportRefused(_("Exports are made as CSV or XLSX, not %(format)s.") % {"format": file_format})
    form = ReportFilterForm(query)
    if not form.is_valid():
        raise ExportRefused(" ".join(str(e) for errors in form.errors.values() for e in errors))
    filters = _filter_values(form.cleaned_data, REPORTS[slug].filters)
    return services.job_run_create(
        kind=JobRun.Kind.REPORT_EXPORT,
        queue="reports",
        total=1,
        # The worker has no request: the headers, totals and category names follow the language the export was
        # asked in.
        arguments={"slug": slug, "format": file_format, "filters": filters, "language": translation.get_language()},
    )


def report_export_write(job: JobRun) -> str:
    """The job's work: build the report with the filters it was started with and store the file in the default
    storage. Returns the stored name."""
    from reports.forms import ReportFilterForm
    from reports.registry import REPORTS

    args = job.arguments
    # Jobs recorded before the language was kept have none: the store's default language then.
    with translation.override(args.get("language") or settings.LANGUAGE_CODE):
        form = ReportFilterForm({k: v for k, v in args["filters"].items() if v is not None})
        if not form.is_valid():  # e.g. the chosen location was deleted since
            raise ExportRefused(" ".join(str(e) for errors in form.errors.values() for e in errors))
        table = REPORTS[args["slug"]].build(form.cleaned_data)
        write, _content_type = FORMATS[args["format"]]
        content = write(table)
    if default_storage.exists(export_path(job)):  # a retry replaces the file of the failed attempt
        default_storage.delete(export_path(job))
    return default_storage.save(export_path(job), ContentFile(content))
