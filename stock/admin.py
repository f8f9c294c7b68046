from django.contrib import admin
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from catalog.resources import StockLevelResource
from stock.models import Location, Lot, ReplenishmentSuggestion, StockLevel, StockMovement


class ReadOnlyAdmin(admin.ModelAdmin):
    """Quantities change only through the stock service, never by editing rows."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_default"]


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["product", "code", "expiry_date"]
    search_fields = ["code", "product__name", "product__barcode"]
    list_filter = ["expiry_date"]
    raw_id_fields = ["product"]


@admin.register(StockLevel)
class StockLevelAdmin(ExportMixin, ReadOnlyAdmin):
    # Export of the filtered list; CSV with BOM so that Excel reads the Chinese names.
    resource_classes = [StockLevelResource]
    formats = [CSV, XLSX]
    to_encoding = "utf-8-sig"
    list_display = ["product", "location", "lot", "on_hand"]
    list_filter = ["location"]
    search_fields = ["product__barcode", "product__name"]
    list_select_related = ["product", "location", "lot"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "product",
        "location",
        "lot",
        "kind",
        "quantity",
        "balance_after",
        "reference",
        "user",
    ]
    list_filter = ["kind", "location", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["product__barcode", "product__name", "reference"]
    list_select_related = ["product", "location", "lot", "user"]
    date_hierarchy = "created_at"


@admin.register(ReplenishmentSuggestion)
class ReplenishmentSuggestionAdmin(admin.ModelAdmin):
    list_display = ["product", "location", "status", "on_hand_when_raised", "created_at"]
    list_filter = ["status", "location", "product__supplier"]
    search_fields = ["product__barcode", "product__name"]
    list_select_related = ["product", "location"]
    readonly_fields = ["product", "location", "on_hand_when_raised", "created_at", "closed_at"]

    def has_add_permission(self, request):
        return False
