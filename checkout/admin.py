from django.contrib import admin

from checkout.models import ApiToken, Payment, Refund, Register, Return, ReturnLine, Sale, SaleLine, Shift


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "location", "online", "active"]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["register", "opened_at", "opened_by", "opening_float", "closed_at", "expected_cash", "counted_cash"]
    list_filter = ["register"]
    # Shifts are opened and closed at the till (checkout.services), never edited here.
    readonly_fields = [f.name for f in Shift._meta.fields]

    def has_add_permission(self, request):
        return False


class SaleLineInline(admin.TabularInline):
    model = SaleLine
    extra = 0
    can_delete = False
    readonly_fields = ["position", "product", "code", "quantity", "unit_price", "amount", "tax", "cost"]


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    readonly_fields = ["method", "amount", "reference"]


@admin.register(Sale)
class SaleAdmin(admin.ModelAdmin):
    list_display = ["number", "created_at", "register", "cashier", "total", "change"]
    list_filter = ["register"]
    search_fields = ["number", "client_token"]
    date_hierarchy = "created_at"
    inlines = [SaleLineInline, PaymentInline]
    readonly_fields = [f.name for f in Sale._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    readonly_fields = ["sale_line", "quantity", "amount"]


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    readonly_fields = ["method", "amount", "reference"]


@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = ["pk", "sale", "created_at", "user", "approved_by", "total"]
    inlines = [ReturnLineInline, RefundInline]
    readonly_fields = [f.name for f in Return._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    readonly_fields = ["key", "created_at"]
