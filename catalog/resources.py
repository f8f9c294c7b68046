"""django-import-export resources: products and stock levels to CSV and XLSX.

Exports use the column names the catalog import reads, so an exported product
list can be edited and imported again. Supplier files are imported through
catalog.imports (all or nothing, in bulk, with history), not through these
resources' per-row import.
"""

from import_export import fields, resources, widgets

from catalog.models import Category, Product, Supplier
from stock.models import StockLevel

# A cell starting with one of these is run as a formula by Excel and LibreOffice
# (=HYPERLINK(...), +cmd|..., -2+3, @SUM): OWASP's "CSV injection".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet shows as text: a leading apostrophe stops formula evaluation."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SpreadsheetSafeResource(resources.ModelResource):
    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field.widget, widgets.NumberWidget):
            return value  # a negative number is a number, not a formula
        return spreadsheet_safe(value)


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
        fields = [
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
        export_order = fields
        skip_unchanged = True

    def get_queryset(self):
        return Product.objects.select_related("category__parent", "supplier")

    def dehydrate_category(self, product: Product) -> str:
        # The full path, as the import reads it: "饮料 / 碳酸饮料".
        return str(product.category)


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

    class Meta:
        model = StockLevel
        fields = ["barcode", "name", "location", "lot", "expiry_date", "on_hand", "safety_stock"]
        export_order = fields

    def get_queryset(self):
        return StockLevel.objects.select_related("product", "location", "lot")
