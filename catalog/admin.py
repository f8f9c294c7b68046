from django.contrib import admin
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from catalog import gtin
from catalog.models import Category, Product, ProductBarcode, Supplier
from stock.selectors import on_hand_subquery


class BelowSafetyStockFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("below", _("below safety stock"))]

    def queryset(self, request, queryset):
        if self.value() == "below":
            return queryset.filter(safety_stock__gt=0, total_on_hand__lt=F("safety_stock"))
        return queryset


class ProductBarcodeInline(admin.TabularInline):
    model = ProductBarcode
    extra = 0


@admin.register(Product)
class ProductAdmin(SimpleHistoryAdmin):
    list_display = [
        "barcode",
        "name",
        "category",
        "supplier",
        "selling_price",
        "purchase_price",
        "on_hand",
        "safety_stock",
        "active",
    ]
    list_filter = [BelowSafetyStockFilter, "active", "unit", "category", "supplier"]
    search_fields = ["barcode", "store_code", "name", "name_en", "barcodes__barcode"]
    list_select_related = ["category", "category__parent", "supplier"]
    autocomplete_fields = ["category", "supplier"]
    inlines = [ProductBarcodeInline]
    list_per_page = 50
    history_list_display = ["selling_price", "purchase_price"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(total_on_hand=on_hand_subquery())

    @admin.display(description=_("on hand"), ordering="total_on_hand")
    def on_hand(self, obj):
        return obj.total_on_hand.normalize()

    def get_search_results(self, request, queryset, search_term):
        # A 12-digit UPC-A or a GTIN-14 finds the product stored under its 13-digit form.
        try:
            search_term = gtin.normalize(search_term)
        except gtin.InvalidCode:
            pass
        return super().get_search_results(request, queryset, search_term)


@admin.register(Category)
class CategoryAdmin(SimpleHistoryAdmin):
    list_display = ["name", "name_en", "parent"]
    search_fields = ["name", "name_en"]
    list_select_related = ["parent"]


@admin.register(Supplier)
class SupplierAdmin(SimpleHistoryAdmin):
    list_display = ["name", "contact", "phone", "email", "lead_time_days", "active"]
    list_filter = ["active"]
    search_fields = ["name", "contact", "phone"]
