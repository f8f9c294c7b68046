"""django-import-export resources: products and stock levels to CSV and XLSX.

Exports use the column names the catalog import reads, so an exported product
list can be edited and imported again. Supplier files are imported through
catalog.imports (all or nothing, in bulk, with history), not through these
resources' per-row import.
"""

from functools import cached_property
from io import BytesIO

from django.utils.text import capfirst
from import_export import fields, resources, widgets
from import_export.forms import SelectableFieldsExportForm

from catalog.models import Category, Product, Supplier
from catalog.selectors import category_paths
from stock.models import Location, Lot, StockLevel

# A cell starting with one of these is run as a formula by Excel and LibreOffice
# (=HYPERLINK(...), +cmd|..., -2+3, @SUM): OWASP's "CSV injection".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet shows as text: a leading apostrophe stops formula evaluation."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_number_formats(data: bytes, number_formats: dict[str, str]) -> bytes:
    """An exported workbook with the columns named in `number_formats` (by header) shown in their format.

    tablib writes a Decimal as a bare number, which Excel shows as 13.8; a price list reads 13.80."""
    from openpyxl import load_workbook  # on first export: it brings numpy and Pillow, which a web worker need not load

    workbook = load_workbook(BytesIO(data))
    sheet = workbook.active
    for column, header in enumerate(next(sheet.iter_rows(max_row=1, values_only=True)), start=1):
        if header in number_formats:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = number_formats[header]
    stream = BytesIO()
    workbook.save(stream)
    return stream.getvalue()


class LabelledExportForm(SelectableFieldsExportForm):
    """The export page, its field checkboxes labelled with the resource's `labels` in the user's language.

    The library labels them with the field name title-cased ("Purchase Price"); the column names themselves stay as
    they are, since the catalog import reads them back from the exported file's header."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        for resource in resources:
            for name, label in getattr(resource, "labels", {}).items():
                self.fields[self.create_boolean_field_name(resource, name)].label = capfirst(label)


def verbose_names(model, names) -> dict:
    return {name: model._meta.get_field(name).verbose_name for name in names}


class SpreadsheetSafeResource(resources.ModelResource):
    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field.widget, widgets.NumberWidget):
            return value  # a negative number is a number, not a formula
        return spreadsheet_safe(value)


PRODUCT_FIELDS = [
    "barcode",
    "name",
    "name_en",
    "category",
    "supplier",
    "purchase_price",
    "selling_price",
    "tax_rate",
    "unit",
    "safety_stock",
    "active",
]


class ProductResource(SpreadsheetSafeResource):
    category = fields.Field(
        attribute="category", column_name="category", widget=widgets.ForeignKeyWidget(Category, "name")
    )
    supplier = fields.Field(
        attribute="supplier", column_name="supplier", widget=widgets.ForeignKeyWidget(Supplier, "name")
    )

    class Meta:
        model = Product
        import_id_fields = ["barcode"]
        fields = PRODUCT_FIELDS
        export_order = fields
        skip_unchanged = True

    labels = verbose_names(Product, PRODUCT_FIELDS)
    # Money in an XLSX export, to the decimals each price is kept with.
    XLSX_NUMBER_FORMATS = {"purchase_price": "0.0000", "selling_price": "0.00"}

    def get_queryset(self):
        return Product.objects.select_related("supplier")

    @cached_property
    def category_paths(self) -> dict[int, str]:
        # Read on the first row, in one query whatever the depth: the admin makes a resource for each export.
        return category_paths()

    def dehydrate_category(self, product: Product) -> str:
        # The full path, as the import reads it: "饮料 / 碳酸饮料".
        return self.category_paths[product.category_id]


class StockLevelResource(SpreadsheetSafeResource):
    barcode = fields.Field(attribute="product__barcode", column_name="barcode")
    name = fields.Field(attribute="product__name", column_name="name")
    location = fields.Field(attribute="location__code", column_name="location")
    lot = fields.Field(attribute="lot__code", column_name="lot")
    expiry_date = fields.Field(attribute="lot__expiry_date", column_name="expiry_date", widget=widgets.DateWidget())
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand", widget=widgets.DecimalWidget())
    safety_stock = fields.Field(
        attribute="product__safety_stock", column_name="safety_stock", widget=widgets.DecimalWidget()
    )

    labels = {
        **verbose_names(Product, ["barcode", "name", "safety_stock"]),
        "location": Location._meta.verbose_name,
        "lot": Lot._meta.get_field("code").verbose_name,
        "expiry_date": Lot._meta.get_field("expiry_date").verbose_name,
        "on_hand": StockLevel._meta.get_field("on_hand").verbose_name,
    }

    class Meta:
        model = StockLevel
        fields = ["barcode", "name", "location", "lot", "expiry_date", "on_hand", "safety_stock"]
        export_order = fields

    def get_queryset(self):
        return StockLevel.objects.select_related("product", "location", "lot")
