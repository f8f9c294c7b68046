from django.contrib import admin

from stock.admin import ReadOnlyAdmin
from supermarket.models import ManagerOverride


@admin.register(ManagerOverride)
class ManagerOverrideAdmin(ReadOnlyAdmin):
    """Read-only like the ledger: overrides are written by supermarket.overrides.override_record at the till."""

    list_display = ["created_at", "kind", "register", "requested_by", "approved_by", "reference", "amount"]
    list_filter = ["kind", "register"]
    search_fields = ["reference", "detail", "requested_by__username", "approved_by__username"]
    list_select_related = ["requested_by", "approved_by"]
