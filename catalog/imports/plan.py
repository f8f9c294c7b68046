"""Validate every row of a supplier file and compare it with the catalog.

The Plan says, before anything is written, which products are new, which
change (each field with old and new value), which are unchanged, which rows
are invalid and why, and which categories and suppliers would be created.
Writing (services.catalog_import_apply) only carries a Plan out.
"""

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.imports.cells import (
    UNITS,
    CellError,
    header_field,
    header_unit,
    largest_amount,
    parse_barcode,
    parse_decimal,
    parse_pack_quantity,
    parse_unit,
)
from catalog.imports.reading import Table
from catalog.models import Category, Product, ProductBarcode, Supplier, Unit
from catalog.resources import FORMULA_STARTS
from supermarket.money import quantity, quantity_text

# Fields compared with the catalog, in the order the preview lists them.
COMPARED = ("name", "name_en", "category", "supplier", "purchase_price", "selling_price", "safety_stock", "unit")
REQUIRED_FOR_NEW = ("name", "category", "purchase_price", "selling_price")
CHUNK = 2000  # rows per IN (...) query and per bulk statement

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad row (an error) or a questionable one (a warning): where and why."""

    row: int
    column: str
    value: str
    message: str


@dataclass(slots=True)
class Row:
    number: int
    barcode: str
    values: dict  # field -> parsed value, for the non-blank cells only
    pack: tuple[str, int] | None = None
    product_id: int | None = None  # set when the barcode is already in the catalog
    changes: dict = field(default_factory=dict)  # field -> (old, new), display values


@dataclass
class Plan:
    filename: str
    total_rows: int = 0
    created: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    unchanged: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    new_categories: list[tuple[str, ...]] = field(default_factory=list)
    new_suppliers: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    pack_created: list[tuple[str, str, int]] = field(default_factory=list)  # (barcode, pack barcode, qty)
    pack_updated: list[tuple[int, str, int, int]] = field(default_factory=list)  # (id, code, old, new)
    categories: dict[tuple[str, ...], int | None] = field(default_factory=dict)
    suppliers: dict[str, int | None] = field(default_factory=dict)  # casefolded name -> id
    headers: dict[str, str] = field(default_factory=dict)  # field -> the file's own column header
    header_units: dict[str, str] = field(default_factory=dict)  # field -> unit its header names: 售价(元/斤)
    header_row: int = 1
    fingerprint: str = ""

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.updated)

    @property
    def invalid_rows(self) -> int:
        return len({problem.row for problem in self.errors if problem.row > self.header_row})

    def problem(self, row: int, name: str, value: str, message: str) -> Problem:
        # A missing column is named as the buyer knows it, not by its field name.
        return Problem(row, self.headers.get(name) or field_label(name), value, message)


def field_label(name: str) -> str:
    try:
        return str(capfirst(Product._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return name


# Separators of a category path, as buyers type them with a Chinese input method on or off.
_CATEGORY_SEPARATORS = re.compile(r"[/／>＞]")


class _Categories:
    """Category cells resolved against the whole tree: 'Drinks / Soda' is a path, 'Soda' a unique name.

    Each part of a path is matched by name or English name, so 饮料 / 果汁 and Beverages / Juice are one path.
    """

    def __init__(self):
        rows = list(Category.objects.order_by("pk").values_list("id", "name", "name_en", "parent_id"))
        by_id = {pk: (name, parent) for pk, name, _en, parent in rows}
        self.path_of: dict[int, tuple[str, ...]] = {}
        for pk in by_id:
            path, node = [], pk
            while node is not None and len(path) <= len(by_id):
                name, node = by_id[node]
                path.insert(0, name)
            self.path_of[pk] = tuple(path)
        self.by_path = {path: pk for pk, path in self.path_of.items()}
        self.by_name: dict[str, list[int]] = {}
        self.children: dict[tuple[int | None, str], list[int]] = {}
        for pk, name, name_en, parent in rows:
            for key in {name.casefold(), name_en.casefold()} - {""}:
                self.by_name.setdefault(key, []).append(pk)
                self.children.setdefault((parent, key), []).append(pk)

    def resolve(self, text: str) -> tuple[tuple[str, ...], int | None]:
        path = tuple(part.strip() for part in _CATEGORY_SEPARATORS.split(text) if part.strip())
        if not path:
            raise CellError(_("Category %(text)s names no category.") % {"text": text})
        if len(path) == 1:
            found = self._one(path[0], self.by_name.get(path[0].casefold(), []))
            if found is not None:
                return self.path_of[found], found
        if any(len(part) > 100 for part in path):
            raise CellError(_("A category name is longer than 100 characters."))
        return self._walk(path)

    def _walk(self, path: tuple[str, ...]) -> tuple[tuple[str, ...], int | None]:
        """The path with its existing part named as the catalog names it, and the category's id (None if new)."""
        node = None
        for depth, part in enumerate(path):
            # Two siblings can share a key when one's English name is the other's name: the name wins.
            found = self.children.get((node, part.casefold()), [])
            found = self._one(part, [pk for pk in found if self.path_of[pk][-1] == part] or found)
            if found is None:
                known = self.path_of[node] if node is not None else ()
                return known + path[depth:], None
            node = found
        return self.path_of[node], node

    def _one(self, name: str, found: list[int]) -> int | None:
        """The one category found by this name, None for none; refused when several are (shared English names)."""
        if len(found) > 1:
            raise CellError(
                _("Several categories are called %(name)s (%(paths)s); write the full path, e.g. %(example)s.")
                % {
                    "name": name,
                    "paths": ", ".join(" / ".join(self.path_of[pk]) for pk in found),
                    "example": " / ".join(self.path_of[found[0]]),
                }
            )
        return found[0] if found else None


def unquote(text: str) -> str:
    """The text without the apostrophe our export puts before = + - @ to keep spreadsheets from evaluating it."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def _text(limit: int, what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        text = unquote(text)
        if len(text) > limit:
            raise CellError(_("%(what)s is longer than %(n)d characters.") % {"what": what, "n": limit})
        return text

    return parse


# Labels are lazy: translated only when a message is built, not once per cell.
CELL_PARSERS: dict[str, Callable[[str], object]] = {
    "name": _text(200, gettext_lazy("Name")),
    "name_en": _text(200, gettext_lazy("English name")),
    "supplier": _text(200, gettext_lazy("Supplier")),
    "category": unquote,  # its length is checked part by part when it is resolved
    "purchase_price": partial(parse_decimal, places=4, max_digits=12, what=gettext_lazy("Purchase price")),
    "selling_price": partial(parse_decimal, places=2, max_digits=10, what=gettext_lazy("Selling price")),
    "safety_stock": partial(parse_decimal, places=3, max_digits=12, what=gettext_lazy("Safety stock")),
    "pack_quantity": parse_pack_quantity,
}


def _barcode_known(code: str) -> bool:
    return Product.objects.filter(barcode=code).exists() or ProductBarcode.objects.filter(barcode=code).exists()


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def build_plan(
    table: Table, *, filename: str, default_supplier: str = "", lock: bool = False, progress: Progress = no_progress
) -> Plan:
    """Validate every row and diff it with the catalog. Writes nothing.

    With lock=True (inside the applying transaction) the compared products are
    locked FOR UPDATE, so what is compared is what gets written.
    """
    plan = Plan(filename=filename, total_rows=len(table.rows), header_row=table.header_row)
    columns: dict[str, int] = {}
    for index, header in enumerate(table.headers):
        name = header_field(header) if header else None
        if name is None:
            if header:
                plan.ignored_columns.append(header)
        elif name in columns:
            message = _("Two columns mean the same field; keep one.")
            plan.errors.append(Problem(table.header_row, header, header, message))
        else:
            columns[name] = index
            plan.headers[name] = header
            if unit := header_unit(header):
                plan.header_units[name] = unit
    if "barcode" not in columns and table.sheets:
        message = _(
            "No sheet has a barcode column (barcode / 条码 / 条形码) in its header row; sheets read: %(sheets)s."
        )
        plan.errors.append(Problem(table.header_row, "", "", message % {"sheets": ", ".join(table.sheets)}))
    elif "barcode" not in columns:
        message = _("No barcode column (barcode / 条码 / 条形码) in the header row.")
        plan.errors.append(Problem(table.header_row, "", "", message))
    if plan.errors:
        return plan

    rows = _parse_rows(table, columns, plan, default_supplier, progress)
    _check_duplicates(rows, plan)
    categories = _Categories()
    _resolve_names(rows, plan, categories)
    _diff(rows, plan, categories, lock, progress)
    _check_packs(rows, plan)
    _check_main_barcodes_free(rows, plan)
    _classify(rows, plan)
    plan.errors.sort(key=lambda problem: problem.row)
    plan.fingerprint = _fingerprint(plan)
    return plan


def _parse_rows(
    table: Table, columns: dict[str, int], plan: Plan, default_supplier: str, progress: Progress
) -> list[Row]:
    parsers = CELL_PARSERS
    rows = []
    total = len(table.rows)
    for done, (number, cells) in enumerate(table.rows, start=1):
        if done % CHUNK == 0:
            progress("validate", done, total)
        values, failed = {}, set()
        for name, index in columns.items():
            text = cells[index] if index < len(cells) else ""
            if not text:
                continue
            try:
                if name in ("barcode", "pack_barcode"):
                    values[name] = parse_barcode(text, is_known=_barcode_known)
                elif name == "unit":
                    values[name] = parse_unit(text)
                else:
                    values[name] = parsers.get(name, str)(text)
            except CellError as exc:
                plan.errors.append(plan.problem(number, name, text, str(exc)))
                failed.add(name)
        bad = bool(failed)
        if "barcode" not in values:
            if not bad:
                plan.errors.append(plan.problem(number, "barcode", "", _("The barcode is empty.")))
            continue
        if "supplier" not in values and default_supplier:
            values["supplier"] = default_supplier
        pack_code, pack_qty = values.pop("pack_barcode", None), values.pop("pack_quantity", None)
        if pack_code and pack_qty is None and "pack_quantity" not in failed:
            plan.errors.append(
                plan.problem(number, "pack_barcode", pack_code, _("A pack barcode needs a pack quantity."))
            )
            bad = True
        if not bad:
            for name, word in plan.header_units.items():
                if name in values and (message := _header_unit_problem(word, values.get("unit"), cells, columns)):
                    plan.errors.append(plan.problem(number, name, cells[columns[name]], message))
                    bad = True
        if not bad:
            for name in _convert_unit(values):
                model_field = Product._meta.get_field(name)
                message = _(
                    "%(what)s %(value)s per %(unit)s is %(kg)s per kg, more than the largest allowed, %(limit)s."
                ) % {
                    "what": capfirst(model_field.verbose_name),
                    "value": cells[columns[name]],
                    "unit": cells[columns["unit"]],
                    "kg": values[name].quantize(Decimal(1).scaleb(-model_field.decimal_places)),
                    "limit": _column_limit(name),
                }
                plan.errors.append(plan.problem(number, name, cells[columns[name]], message))
                bad = True
        if not bad:
            pack = (pack_code, pack_qty) if pack_code else None
            rows.append(Row(number=number, barcode=values.pop("barcode"), values=values, pack=pack))
    return rows


def _header_unit_problem(word: str, row_unit: tuple | None, cells: list[str], columns: dict[str, int]) -> str | None:
    """Why a row's unit contradicts the unit its price or stock column is written in, or None."""
    if row_unit is None:
        if UNITS[word][1] == 1:
            return None  # a price per 件 or per kg is stored as written
        # Per 斤 is converted to kg only for a row that says 斤: without it the price would be stored per kg.
        return _("Values in this column are per %(unit)s: this row needs %(unit)s in a unit (单位) column.") % {
            "unit": word
        }
    if row_unit != UNITS[word]:
        return _("Values in this column are per %(header)s, but this row's unit is %(unit)s.") % {
            "header": word,
            "unit": cells[columns["unit"]],
        }
    return None


def _column_limit(name: str) -> Decimal:
    model_field = Product._meta.get_field(name)
    return largest_amount(places=model_field.decimal_places, max_digits=model_field.max_digits)


def _convert_unit(values: dict) -> list[str]:
    """Prices per 斤 become prices per kg, a safety stock in 斤 becomes kg.

    Returns the prices that no longer fit their column once converted: the cell
    was checked against the limit, the doubled kg price was not.
    """
    if "unit" not in values:
        return []
    values["unit"], kg_per_unit = values["unit"]
    too_large = []
    if kg_per_unit != 1:
        for price in ("purchase_price", "selling_price"):
            if price in values:
                values[price] = values[price] / kg_per_unit
                if values[price] > _column_limit(price):
                    too_large.append(price)
        if "safety_stock" in values:
            values["safety_stock"] = quantity(values["safety_stock"] * kg_per_unit)
    return too_large


def _check_duplicates(rows: list[Row], plan: Plan) -> None:
    """A barcode (main or pack) twice in the file is an error naming both rows."""
    seen: dict[str, int] = {}
    for row in rows:
        for code, name in ((row.barcode, "barcode"), (row.pack and row.pack[0], "pack_barcode")):
            if not code:
                continue
            if code in seen and seen[code] != row.number:  # a pack code equal to its own barcode: _check_packs
                message = _("Barcode %(code)s appears twice in the file: rows %(first)d and %(second)d.") % {
                    "code": code,
                    "first": seen[code],
                    "second": row.number,
                }
                plan.errors.append(plan.problem(row.number, name, code, message))
            elif code not in seen:
                seen[code] = row.number


def _resolve_names(rows: list[Row], plan: Plan, categories: _Categories) -> None:
    suppliers = {name.casefold(): pk for pk, name in Supplier.objects.values_list("id", "name")}
    for row in rows:
        if "category" in row.values:
            text = row.values["category"]
            try:
                path, pk = categories.resolve(text)
            except CellError as exc:
                plan.errors.append(plan.problem(row.number, "category", text, str(exc)))
                continue
            row.values["category"] = path
            if path not in plan.categories:
                plan.categories[path] = pk
                if pk is None:
                    # Missing parents of a new path are new too, listed before their children.
                    for depth in range(1, len(path) + 1):
                        prefix = path[:depth]
                        if plan.categories.get(prefix) is None and prefix not in plan.new_categories:
                            plan.categories[prefix] = categories.by_path.get(prefix)
                            if plan.categories[prefix] is None:
                                plan.new_categories.append(prefix)
        if "supplier" in row.values:
            key = row.values["supplier"].casefold()
            if key not in plan.suppliers:
                plan.suppliers[key] = suppliers.get(key)
                if plan.suppliers[key] is None:
                    plan.new_suppliers.append(row.values["supplier"])


DIFF_FIELDS = (
    "id",
    "barcode",
    "name",
    "name_en",
    "category_id",
    "supplier_id",
    "purchase_price",
    "selling_price",
    "safety_stock",
    "unit",
)


def _diff(rows: list[Row], plan: Plan, categories: _Categories, lock: bool, progress: Progress) -> None:
    supplier_names = dict(Supplier.objects.values_list("id", "name"))
    done = 0
    for chunk in _chunks(rows):
        query = Product.objects.filter(barcode__in=[row.barcode for row in chunk]).order_by("pk")
        if lock:
            query = query.select_for_update()
        existing = {
            values[1]: dict(zip(DIFF_FIELDS, values, strict=True)) for values in query.values_list(*DIFF_FIELDS)
        }
        for row in chunk:
            current = existing.get(row.barcode)
            if current is None:
                _plan_new(row, plan)
            else:
                _plan_update(row, current, plan, categories, supplier_names)
        done += len(chunk)
        progress("compare", done, len(rows))


def _plan_new(row: Row, plan: Plan) -> None:
    missing = [name for name in REQUIRED_FOR_NEW if name not in row.values]
    if missing:
        labels = ", ".join(str(Product._meta.get_field(name).verbose_name) for name in missing)
        message = _("%(barcode)s is a new product and needs: %(fields)s.") % {"barcode": row.barcode, "fields": labels}
        plan.errors.append(plan.problem(row.number, missing[0], "", message))
        return
    row.changes = {name: ("", _display(name, row.values[name])) for name in COMPARED if name in row.values}
    _warn_prices(row, row.values["purchase_price"], row.values["selling_price"], plan)


def _plan_update(row: Row, current: dict, plan: Plan, categories: _Categories, supplier_names: dict) -> None:
    row.product_id = current["id"]
    old = {
        "name": current["name"],
        "name_en": current["name_en"],
        "category": categories.path_of.get(current["category_id"]),
        "supplier": supplier_names.get(current["supplier_id"], ""),
        "purchase_price": current["purchase_price"],
        "selling_price": current["selling_price"],
        "safety_stock": current["safety_stock"],
        "unit": current["unit"],
    }
    for name in COMPARED:
        if name in row.values:
            new = row.values[name]
            same = new.casefold() == old[name].casefold() if name == "supplier" else new == old[name]
            if not same:
                row.changes[name] = (_display(name, old[name]), _display(name, new))
    if row.changes:
        purchase = row.values.get("purchase_price", old["purchase_price"])
        _warn_prices(row, purchase, row.values.get("selling_price", old["selling_price"]), plan)


def _warn_prices(row: Row, purchase: Decimal, selling: Decimal, plan: Plan) -> None:
    if selling < purchase:
        message = _("Selling price %(selling)s is below the purchase price %(purchase)s.") % {
            "selling": _display("selling_price", selling),
            "purchase": _display("purchase_price", purchase),
        }
        plan.warnings.append(plan.problem(row.number, "selling_price", str(selling), message))


def _display(name: str, value) -> str:
    if value is None:
        return ""
    if name == "category":
        return " / ".join(value)
    if name == "unit":
        return str(Unit(value).label)
    if isinstance(value, Decimal):
        return quantity_text(value)
    return str(value)


def _check_packs(rows: list[Row], plan: Plan) -> None:
    """Pack barcodes: new ones are created, changed quantities updated; a code owned elsewhere is an error."""
    file_barcodes = {row.barcode for row in rows}
    for chunk in _chunks([row for row in rows if row.pack]):
        codes = [row.pack[0] for row in chunk]
        extras = {
            code: (pk, qty, owner)
            for pk, code, qty, owner in ProductBarcode.objects.filter(barcode__in=codes).values_list(
                "id", "barcode", "pack_quantity", "product__barcode"
            )
        }
        mains = set(Product.objects.filter(barcode__in=codes).values_list("barcode", flat=True)) | file_barcodes
        store_codes = dict(Product.objects.filter(store_code__in=codes).values_list("store_code", "barcode"))
        for row in chunk:
            code, qty = row.pack
            extra = extras.get(code)
            if code in mains:
                message = _("Pack barcode %(code)s is the main barcode of a product.") % {"code": code}
            elif code in store_codes:
                message = _("Pack barcode %(code)s is the store code of product %(other)s.") % {
                    "code": code,
                    "other": store_codes[code],
                }
            elif extra and extra[2] != row.barcode:
                message = _("Pack barcode %(code)s already belongs to product %(other)s.") % {
                    "code": code,
                    "other": extra[2],
                }
            else:
                message = None
            if message:
                plan.errors.append(plan.problem(row.number, "pack_barcode", code, message))
            elif extra is None:
                plan.pack_created.append((row.barcode, code, qty))
                row.changes["pack"] = ("", f"{code} × {qty}")
            elif extra[1] != qty:
                plan.pack_updated.append((extra[0], code, extra[1], qty))
                row.changes["pack"] = (f"{code} × {extra[1]}", f"{code} × {qty}")


def _check_main_barcodes_free(rows: list[Row], plan: Plan) -> None:
    """A new product's barcode must not already be some product's extra barcode or store code.

    The till looks a typed code up among all three: a produce list keyed by PLU would
    otherwise create a second product that the PLU then finds instead of the first.
    """
    for chunk in _chunks([row for row in rows if row.product_id is None]):
        number_of = {row.barcode: row.number for row in chunk}
        for code, owner in ProductBarcode.objects.filter(barcode__in=list(number_of)).values_list(
            "barcode", "product__barcode"
        ):
            message = _("Barcode %(code)s is already an extra barcode of product %(other)s.") % {
                "code": code,
                "other": owner,
            }
            plan.errors.append(plan.problem(number_of[code], "barcode", code, message))
        for code, owner in Product.objects.filter(store_code__in=list(number_of)).values_list("store_code", "barcode"):
            message = _(
                "Barcode %(code)s is the store code of product %(other)s; to update that product, use its barcode."
            ) % {"code": code, "other": owner}
            plan.errors.append(plan.problem(number_of[code], "barcode", code, message))


def _classify(rows: list[Row], plan: Plan) -> None:
    bad = {problem.row for problem in plan.errors}
    for row in rows:
        if row.number in bad:
            continue
        if row.product_id is None:
            plan.created.append(row)
        elif row.changes:
            plan.updated.append(row)
        else:
            plan.unchanged += 1


def _fingerprint(plan: Plan) -> str:
    """A digest of everything the plan would write: confirming applies only what was previewed."""
    digest = hashlib.sha256()
    for row in plan.created + plan.updated:
        digest.update(repr((row.number, row.barcode, sorted(row.changes.items()))).encode())
    digest.update(repr((plan.new_categories, plan.new_suppliers, plan.pack_created, plan.pack_updated)).encode())
    return digest.hexdigest()
