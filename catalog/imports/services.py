"""Supplier catalog import: preview (dry run) and apply, all or nothing.

The admin, the import_catalog command and the background job all call these
two services. Rows are validated and compared in bulk (a few queries per
2,000 rows) and written with bulk_create_with_history / bulk_update_with_history,
so every new or changed product gets a history row with the importing user.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from catalog.cache import catalog_changed
from catalog.imports.plan import CHUNK, Plan, Progress, _chunks, build_plan, no_progress
from catalog.imports.reading import read_table
from catalog.imports.report import plan_message
from catalog.models import Category, Product, ProductBarcode, Supplier

IMPORT_LOCK_KEY = 0x43415441  # "CATA": the advisory lock serializing catalog imports

# Product fields an import may set, beside barcode.
WRITABLE = ("name", "name_en", "category", "supplier", "purchase_price", "selling_price", "safety_stock", "unit")


class ImportRefused(Exception):
    """The file has invalid rows (plan.errors) or the catalog changed since the preview; nothing was written."""

    def __init__(self, plan: Plan, message: str):
        self.plan = plan
        super().__init__(message)


def catalog_import_preview(
    *, data: bytes, filename: str, default_supplier: str = "", progress: Progress = no_progress
) -> Plan:
    """Dry run: read and validate every row and compare it with the catalog. Writes nothing.

    Raises reading.UnreadableFile when the file as a whole cannot be read.
    """
    progress("read", 0, 0)
    table = read_table(data)
    return build_plan(table, filename=filename, default_supplier=default_supplier, progress=progress)


@transaction.atomic
def catalog_import_apply(
    *,
    data: bytes,
    filename: str,
    user: AbstractBaseUser | None,
    default_supplier: str = "",
    expected_fingerprint: str = "",
    progress: Progress = no_progress,
) -> Plan:
    """Apply a supplier file in one transaction: every row or none.

    The file is planned again inside the transaction with the compared products
    locked FOR UPDATE. If any row is invalid, or expected_fingerprint (from the
    preview the buyer confirmed) no longer matches because the catalog changed
    meanwhile, raises ImportRefused and writes nothing. New categories and
    suppliers are created; product changes are recorded in history with `user`.
    """
    if connection.vendor == "postgresql":
        # One import at a time: two files creating the same new category or product
        # would otherwise collide half-way through a long transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
    progress("read", 0, 0)
    plan = build_plan(
        read_table(data), filename=filename, default_supplier=default_supplier, lock=True, progress=progress
    )
    if plan.errors:
        raise ImportRefused(plan, plan_message(plan))
    if expected_fingerprint and plan.fingerprint != expected_fingerprint:
        raise ImportRefused(
            plan, _("The catalog changed since the preview; nothing was imported. Preview the file again.")
        )
    reason = _("catalog import %(file)s") % {"file": filename}
    history = {"default_user": user, "default_change_reason": reason[:100]}
    _create_suppliers(plan, history)
    _create_categories(plan, history)
    barcode_ids = _create_products(plan, history, progress)
    _update_products(plan, history, progress)
    _write_pack_barcodes(plan, barcode_ids, history)
    # Bulk writes send no save signals: the scan cache is invalidated here, on commit.
    catalog_changed()
    return plan


def _create_suppliers(plan: Plan, history: dict) -> None:
    created = bulk_create_with_history([Supplier(name=name) for name in plan.new_suppliers], Supplier, **history)
    for supplier in created:
        plan.suppliers[supplier.name.casefold()] = supplier.pk


def _create_categories(plan: Plan, history: dict) -> None:
    # Parents before children: one bulk insert per depth.
    for depth in sorted({len(path) for path in plan.new_categories}):
        level = [path for path in plan.new_categories if len(path) == depth]
        objs = [Category(name=path[-1], parent_id=_category_id(plan, path[:-1])) for path in level]
        for path, category in zip(level, bulk_create_with_history(objs, Category, **history), strict=True):
            plan.categories[path] = category.pk


def _category_id(plan: Plan, path: tuple[str, ...]) -> int | None:
    return plan.categories[path] if path else None


def _field_values(plan: Plan, values: dict) -> dict:
    """Row values as model attributes: category and supplier names become ids."""
    result = {}
    for name in WRITABLE:
        if name not in values:
            continue
        if name == "category":
            result["category_id"] = _category_id(plan, values[name])
        elif name == "supplier":
            result["supplier_id"] = plan.suppliers[values[name].casefold()]
        else:
            result[name] = values[name]
    return result


def _create_products(plan: Plan, history: dict, progress: Progress) -> dict[str, int]:
    ids = {}
    for done, chunk in enumerate(_chunks(plan.created), start=1):
        objs = [Product(barcode=row.barcode, **_field_values(plan, row.values)) for row in chunk]
        for product in bulk_create_with_history(objs, Product, batch_size=CHUNK, **history):
            ids[product.barcode] = product.pk
        progress("create", min(done * CHUNK, len(plan.created)), len(plan.created))
    return ids


def _update_products(plan: Plan, history: dict, progress: Progress) -> None:
    now = timezone.now()
    for done, chunk in enumerate(_chunks(plan.updated), start=1):
        products = Product.objects.in_bulk([row.product_id for row in chunk])
        fields = {"updated_at"}
        objs = []
        for row in chunk:
            changed = {name: value for name, value in row.values.items() if name in row.changes}
            attributes = _field_values(plan, changed)
            if not attributes:
                continue  # only its pack barcode changes
            product = products[row.product_id]
            for attribute, value in attributes.items():
                setattr(product, attribute, value)
            product.updated_at = now
            fields.update(attributes)
            objs.append(product)
        if objs:
            _bulk_update_with_history(objs, sorted(fields), history)
        progress("update", min(done * CHUNK, len(plan.updated)), len(plan.updated))


def _write_pack_barcodes(plan: Plan, barcode_ids: dict[str, int], history: dict) -> None:
    missing = {barcode for barcode, _code, _qty in plan.pack_created} - set(barcode_ids)
    barcode_ids.update(Product.objects.filter(barcode__in=missing).values_list("barcode", "pk"))
    created = [
        ProductBarcode(product_id=barcode_ids[barcode], barcode=code, pack_quantity=qty)
        for barcode, code, qty in plan.pack_created
    ]
    bulk_create_with_history(created, ProductBarcode, batch_size=CHUNK, **history)
    updated = ProductBarcode.objects.in_bulk([pk for pk, *_rest in plan.pack_updated])
    for pk, _code, _old, qty in plan.pack_updated:
        updated[pk].pack_quantity = qty
    if updated:
        bulk_update_with_history(list(updated.values()), ProductBarcode, ["pack_quantity"], batch_size=CHUNK, **history)


def _bulk_update_with_history(products: list[Product], fields: list[str], history: dict) -> None:
    """bulk_update_with_history, with one UPDATE ... FROM (VALUES ...) per chunk on PostgreSQL.

    Django's bulk_update() builds a CASE WHEN per row and field: at 100,000 rows
    it spends most of a minute composing SQL. The history rows are the same
    bulk_history_create() that bulk_update_with_history() writes.
    """
    if connection.vendor != "postgresql":
        bulk_update_with_history(products, Product, fields, batch_size=CHUNK, **history)
        return
    model_fields = [Product._meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    casts = ", ".join(["%s::bigint"] + [f"%s::{field.db_type(connection)}" for field in model_fields])
    columns = ", ".join(qn(field.column) for field in model_fields)
    assignments = ", ".join(f"{qn(field.column)} = v.{qn(field.column)}" for field in model_fields)
    sql = (
        f"UPDATE {qn(Product._meta.db_table)} AS p SET {assignments} "
        f"FROM (VALUES {', '.join([f'({casts})'] * len(products))}) AS v(id, {columns}) WHERE p.id = v.id"
    )
    params = []
    for product in products:
        params.append(product.pk)
        params.extend(field.get_db_prep_save(getattr(product, field.attname), connection) for field in model_fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    Product.history.bulk_history_create(products, batch_size=CHUNK, update=True, **history)
