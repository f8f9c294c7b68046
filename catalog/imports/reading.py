"""Turn the bytes a supplier sent into a header and rows of text cells.

Handles XLSX, and CSV in UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode
text") and GBK/GB18030 (Chinese Excel's default), delimited by comma,
semicolon or tab. Row numbers are the spreadsheet's own (header = row 1).
"""

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.utils.translation import gettext as _

from catalog.imports.cells import header_field

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the binary .xls format
DELIMITERS = (",", ";", "\t")
HEADER_SEARCH_ROWS = 10


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (not a row problem)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells), blank rows left out
    header_row: int = 1
    sheets: tuple[str, ...] = ()  # a workbook's sheets searched for the header row

    @property
    def has_barcode_column(self) -> bool:
        return "barcode" in map(header_field, self.headers)


def read_table(data: bytes) -> Table:
    if data.startswith(ZIP_MAGIC):
        return _xlsx_table(data)
    if data.startswith(OLE_MAGIC):
        raise UnreadableFile(_("This is an old binary .xls file; save it as .xlsx or CSV and upload again."))
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count)
    return _table(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        # GB18030 is a superset of GBK and GB2312: what Chinese Excel writes.
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(
        _("The file is neither UTF-8 nor GBK/GB18030 text nor an .xlsx workbook; save it as CSV (UTF-8) or .xlsx.")
    )


def _xlsx_table(data: bytes) -> Table:
    """The first sheet with a barcode column: many supplier workbooks start with a 填写说明 (how to fill in) sheet."""
    first, searched = None, []
    for name, rows in _xlsx_sheets(data):
        searched.append(name)
        try:
            table = _table([_xlsx_text(value) for value in row] for row in rows)
        except UnreadableFile:
            continue  # an empty sheet
        if table.has_barcode_column:
            return table
        first = first or table
    if first is None:
        raise UnreadableFile(_("The file is empty."))
    first.sheets = tuple(searched)
    return first


def _xlsx_sheets(data: bytes) -> Iterator[tuple[str, list]]:
    """(name, rows) of each sheet in order, read when asked for."""
    # calamine (Rust) reads 100,000 rows in about a second and a half; openpyxl
    # needs over half a minute for the same sheet, which broke the 60 s budget.
    from python_calamine import CalamineWorkbook

    with _damaged_xlsx():
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    for index, name in enumerate(workbook.sheet_names):
        with _damaged_xlsx():
            rows = workbook.get_sheet_by_index(index).to_python(skip_empty_area=False)
        yield name, rows


@contextmanager
def _damaged_xlsx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # calamine raises several kinds for a damaged or foreign zip
        raise UnreadableFile(_("The .xlsx file cannot be opened: %(reason)s") % {"reason": exc}) from None


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # Number cells come back as floats, barcodes included: exact below 2**53, and
        # the full code even when Excel shows 6.90123E+12. Other numbers are written with
        # the 15 significant digits Excel shows: a price computed by a formula (9.9 * 0.8
        # holds 7.920000000000001) reads as the 7.92 on screen, and 12.5 stays 12.5.
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    return str(value)


def _table(rows: Iterator[list[str]]) -> Table:
    """Blank rows dropped; the header is the first row naming a barcode column, so the title
    rows many supplier sheets start with ("XX公司商品报价单") are skipped."""
    kept = []
    for number, cells in enumerate(rows, start=1):
        cells = [cell.strip() for cell in cells]
        if any(cells):
            kept.append((number, cells))
    if not kept:
        raise UnreadableFile(_("The file is empty."))
    start = next(
        (i for i, (_n, cells) in enumerate(kept[:HEADER_SEARCH_ROWS]) if "barcode" in map(header_field, cells)), 0
    )
    return Table(headers=kept[start][1], rows=kept[start + 1 :], header_row=kept[start][0])
