"""Reads of the catalog shared by the till, the API, the admin and imports."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Q, QuerySet, When
from django.utils.translation import gettext as _

from catalog import gs1, gtin
from catalog.models import Category, Product, ProductBarcode
from supermarket.money import money, quantity


class UnknownCode(LookupError):
    """A well-formed code that no product carries."""


class InactiveProduct(LookupError):
    """The code belongs to a product that is no longer sold."""

    def __init__(self, product: Product):
        self.product = product
        super().__init__(_("%(name)s is inactive and cannot be sold.") % {"name": product.name})


@dataclass(frozen=True)
class Scan:
    """What a code means: which product, how many units, and an embedded line amount if the label carries one."""

    product: Product
    code: str
    quantity: Decimal
    amount: Decimal | None = None


def _variable_measure(code: str) -> Scan | None:
    layout = settings.CATALOG_VARIABLE_MEASURE.get(code[:2])
    if layout is None:
        return None
    item = code[slice(*layout["item"])]
    value = Decimal(code[slice(*layout["value"])]).scaleb(-layout["decimals"])
    product = (
        Product.objects.select_related("category")
        .filter(Q(store_code=item) | Q(store_code=item.lstrip("0") or "0"))
        .first()
    )
    if product is None:
        raise UnknownCode(_("Scale label %(code)s: no product has store code %(item)s.") % {"code": code, "item": item})
    if layout["kind"] == "weight":
        # The label carries the weight only: the line is priced at the shelf price, promotions included, like the
        # same weight typed in.
        scan = Scan(product=product, code=code, quantity=quantity(value))
        worth = money(value * product.selling_price)
    elif product.sold_by_weight and product.selling_price:
        scan = Scan(product=product, code=code, quantity=quantity(value / product.selling_price), amount=money(value))
        worth = scan.amount
    else:
        scan = Scan(product=product, code=code, quantity=Decimal(1), amount=money(value))
        worth = scan.amount
    if scan.quantity <= 0 or worth <= 0:  # the scale printed an empty pan, or a price below a gram's worth
        raise gtin.InvalidCode(
            _("Scale label %(code)s carries no weight or amount: weigh the item again.") % {"code": code}
        )
    return scan


def case_label_lookup(label: gs1.CaseLabel, *, include_inactive: bool = False) -> Scan:
    """What a GS1-128 case label holds: its product by the label's GTIN, in the label's count (of the GTIN's pack
    quantity) or, for goods sold by weight, which are stocked in kg, its net weight (10 birds of 12.5 kg: 12.5).
    Raises what product_lookup raises."""
    scan = product_lookup(label.gtin, include_inactive=include_inactive)
    if label.net_weight_kg is not None and scan.product.sold_by_weight:
        return replace(scan, quantity=label.net_weight_kg)
    if label.count is not None:
        return replace(scan, quantity=scan.quantity * label.count)
    return scan


def product_lookup(code: str, *, include_inactive: bool = False) -> Scan:
    """Resolve a scanned or typed code to a Scan.

    Accepts every barcode the catalog knows (extra barcodes count their pack
    quantity), store codes, and GS1 variable-measure scale labels. Raises
    gtin.InvalidCode for a malformed code, UnknownCode for a valid one no
    product carries, InactiveProduct unless include_inactive.
    """
    normalized = gtin.normalize(code)
    scan = None
    if gtin.is_variable_measure(normalized):
        scan = _variable_measure(normalized)
    if scan is None:
        # Product.clean keeps barcodes and store codes apart; should a clash have got in anyway (older data), the
        # code printed on the goods wins over a typed store code, and the choice never depends on names.
        product = (
            Product.objects.select_related("category")
            .filter(Q(barcode=normalized) | Q(store_code=normalized))
            .order_by(Case(When(barcode=normalized, then=0), default=1))
            .first()
        )
        if product is not None:
            scan = Scan(product=product, code=normalized, quantity=Decimal(1))
        else:
            extra = ProductBarcode.objects.select_related("product__category").filter(barcode=normalized).first()
            if extra is None:
                raise UnknownCode(_("No product has the code %(code)s.") % {"code": normalized})
            scan = Scan(product=extra.product, code=normalized, quantity=Decimal(extra.pack_quantity))
    if not scan.product.active and not include_inactive:
        raise InactiveProduct(scan.product)
    return scan


def product_search(text: str, *, limit: int = 20) -> QuerySet[Product]:
    """Active products whose name, English name or store code contains text (items without a barcode)."""
    text = text.strip()
    return (
        Product.objects.filter(active=True)
        .filter(Q(name__icontains=text) | Q(name_en__icontains=text) | Q(store_code__iexact=text))
        .order_by("name")[:limit]
    )


def product_ids_matching(text: str) -> list[int]:
    """Ids of the products that `text` names, in one query: by a code they carry (main barcode, extra barcode or store
    code, compared in the stored form, so a UPC-A typed with 12 digits finds its 13-digit barcode; each an index
    lookup) or by part of their name or English name (a scan of the product table, not of what refers to it).

    Lists of rows that refer to products (the ledger, stock levels) filter by these ids: matching the text over
    their join with products would read every row."""
    text = text.strip()
    products = Product.objects.order_by()
    ids = products.filter(Q(name__icontains=text) | Q(name_en__icontains=text)).values_list("pk", flat=True)
    try:
        code = gtin.normalize(text)
    except gtin.InvalidCode:
        return list(ids)
    coded = products.filter(Q(barcode=code) | Q(store_code=code)).values_list("pk", flat=True)
    extra = ProductBarcode.objects.filter(barcode=code).values_list("product_id", flat=True)
    return list(ids.union(coded, extra).order_by())  # unordered: a union would take Product's order by name


def category_paths() -> dict[int, str]:
    """Every category's full path as Category.__str__ writes it ("饮料 / 其他"), in one query, whatever the depth.

    Lists name categories by path: leaf names repeat ("饮料 / 其他", "零食 / 其他").
    """
    categories = {pk: (name, parent_id) for pk, name, parent_id in Category.objects.values_list("pk", "name", "parent")}
    paths: dict[int, str] = {}

    def path(pk: int) -> str:
        if pk not in paths:
            name, parent_id = categories[pk]
            paths[pk] = f"{path(parent_id)} / {name}" if parent_id else name
        return paths[pk]

    for pk in categories:
        path(pk)
    return paths


def category_paths_attach(categories: Iterable[Category | None]) -> None:
    """Give these categories their paths (Category.known_path) from category_paths(): one query for a whole list,
    where str() would walk up each category's parents, a query per level. Categories that have theirs, and None
    (no parent), are skipped; with none left there is no query."""
    pending = [category for category in categories if category is not None and category.known_path is None]
    if pending:
        paths = category_paths()
        for category in pending:
            category.known_path = paths[category.pk]


@dataclass(frozen=True)
class BarcodeChange:
    """One change of a product's extra barcodes, as its history page shows it."""

    date: datetime
    user: object | None
    barcode: str
    kind: str  # simple-history's history_type: "+" added, "~" changed, "-" removed
    pack_quantity: int  # after an addition or a change, before a removal
    fields: list[tuple[str, object, object]]  # a change's fields: verbose name, old value, new value


def product_barcode_changes(product_id: int) -> list[BarcodeChange]:
    """Additions, changes and removals of a product's extra barcodes, newest first, with who made them, from
    their history (one query). A save that changed nothing is left out."""
    records = (
        ProductBarcode.history.filter(product_id=product_id)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    changes, previous = [], {}
    for record in records:
        before, previous[record.id] = previous.get(record.id), record
        fields = []
        if record.history_type == "~" and before is not None:
            delta = record.diff_against(before, included_fields=["barcode", "pack_quantity"])
            fields = [(ProductBarcode._meta.get_field(c.field).verbose_name, c.old, c.new) for c in delta.changes]
            if not fields:
                continue
        changes.append(
            BarcodeChange(
                date=record.history_date,
                user=record.history_user,
                barcode=record.barcode,
                kind=record.history_type,
                pack_quantity=record.pack_quantity,
                fields=fields,
            )
        )
    return changes[::-1]
