"""CSV and XLSX downloads of any report table, with the numbers as numbers and text made formula-safe."""

import csv
import io
from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from openpyxl import Workbook

from catalog.resources import spreadsheet_safe
from reports.selectors import Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(table: Table) -> list[list]:
    rows = [table.values(row) for row in table.rows]
    if table.totals is not None:
        rows.append(table.values(table.totals))
    return [
        [v if isinstance(v, (int, Decimal, date)) or v is None else spreadsheet_safe(str(v)) for v in row]
        for row in rows
    ]


def table_csv(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 (Chinese names) correctly only with the BOM
    writer = csv.writer(response)
    writer.writerow([str(c.label) for c in table.columns])
    writer.writerows(_rows(table))
    return response


def table_xlsx(table: Table, filename: str) -> HttpResponse:
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
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
