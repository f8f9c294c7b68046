from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from simple_history.admin import SimpleHistoryAdmin

from supermarket.models import ManagerOverride


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services write (the ledger, posted documents, override records): read, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ManagerOverride)
class ManagerOverrideAdmin(ReadOnlyAdmin):
    """Read-only like the ledger: overrides are written by supermarket.overrides.override_record at the till."""

    list_display = ["created_at", "kind", "register", "requested_by", "approved_by", "reference", "amount"]
    list_filter = ["kind", "register"]
    search_fields = ["reference", "detail", "requested_by__username", "approved_by__username"]
    list_select_related = ["requested_by", "approved_by"]


class HistoryAdmin(SimpleHistoryAdmin):
    """simple-history's admin, its history page heading the history_list_display columns with their verbose names
    in the user's language (its own template shows the attribute names, selling_price) and leaving the change reason
    empty where none was given."""

    object_history_list_template = "admin/simple_history/object_history_list.html"

    def history_view(self, request, object_id, extra_context=None):
        columns = [(name, label_for_field(name, self.model, self)) for name in self.get_history_list_display(request)]
        return super().history_view(request, object_id, {**(extra_context or {}), "history_columns": columns})
