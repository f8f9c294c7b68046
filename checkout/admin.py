import uuid

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from checkout.models import ApiToken, Payment, Promotion, Refund, Register, Return, ReturnLine, Sale, SaleLine, Shift
from supermarket.admin import HistoryAdmin, ReadOnlyAdmin


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "location", "online", "active"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DocumentAdmin(ReadOnlyAdmin):
    """Shifts, sales and returns with their lines and money are financial records written by checkout.services
    only: here they are looked at, never added, changed or deleted, not even by a superuser."""

    def get_readonly_fields(self, request, obj=None):
        # Every field, those the model form leaves out (editable=False) included.
        return [f.name for f in self.model._meta.fields]


@admin.register(Shift)
class ShiftAdmin(DocumentAdmin):
    list_display = ["register", "opened_at", "opened_by", "opening_float", "closed_at", "expected_cash", "counted_cash"]
    list_filter = ["register"]


class SaleLineInline(ReadOnlyInline):
    model = SaleLine
    readonly_fields = [
        "position",
        "product",
        "code",
        "quantity",
        "unit_price",
        "amount",
        "saving",
        "promotion",
        "tax",
        "cost",
    ]


class PaymentInline(ReadOnlyInline):
    model = Payment
    readonly_fields = ["method", "amount", "reference"]


@admin.register(Sale)
class SaleAdmin(DocumentAdmin):
    list_display = ["number", "created_at", "register", "cashier", "total", "change"]
    # Bounded ranges on the indexed created_at (today, past 7 days, this month, this year): a date_hierarchy
    # would list the years with SELECT DISTINCT DATE_TRUNC over every sale.
    list_filter = ["register", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["number", "client_token"]  # matched exactly: see get_search_results
    search_help_text = _("The sale number as printed on the receipt, or the client token.")
    show_full_result_count = False
    inlines = [SaleLineInline, PaymentInline]

    def get_search_results(self, request, queryset, search_term):
        # Equality, so that the unique indexes answer from a million sales: a substring match on number scans them
        # all, and the token is compared as a UUID only when the term is one (never the column cast to text).
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(number__in={term, term.upper()})  # the printed number, also typed in lower case
        try:
            match |= Q(client_token=uuid.UUID(term))
        except ValueError:
            pass
        return queryset.filter(match), False


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    readonly_fields = ["sale_line", "quantity", "amount"]


class RefundInline(ReadOnlyInline):
    model = Refund
    readonly_fields = ["method", "amount", "reference"]


@admin.register(Return)
class ReturnAdmin(DocumentAdmin):
    list_display = ["pk", "sale", "created_at", "user", "approved_by", "total"]
    inlines = [ReturnLineInline, RefundInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    readonly_fields = ["key", "created_at"]


class PromotionForm(forms.ModelForm):
    class Meta:
        model = Promotion
        fields = [
            "name",
            "kind",
            "active",
            "starts_at",
            "ends_at",
            "value",
            "buy_quantity",
            "free_quantity",
            "threshold",
            "stackable",
            "scope",
            "products",
            "categories",
            "limit_per_sale",
            "quantity_limit",
        ]

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == Promotion.Scope.PRODUCTS and not data.get("products"):
            self.add_error("products", _("Choose at least one product, or apply the promotion to the whole store."))
        if scope == Promotion.Scope.CATEGORIES and not data.get("categories"):
            self.add_error("categories", _("Choose at least one category, or apply the promotion to the whole store."))
        if self.instance.pk is not None and transaction.get_connection().in_atomic_block:
            # The admin validates and saves in one transaction. Holding the row from here, a sale cannot claim
            # units between Promotion.clean's check of the limit against what has sold and the save: it waits,
            # then finds the new limit (checkout.promotions.promotion_claim).
            rows = Promotion.objects.select_for_update().filter(pk=self.instance.pk)
            sold = rows.values_list("quantity_sold", flat=True).first()
            if sold is not None:
                self.instance.quantity_sold = sold
        return data


@admin.register(Promotion)
class PromotionAdmin(HistoryAdmin):
    """Buyers and managers (checkout.*_promotion permissions) set up promotions; every change is in the history."""

    list_display = ["name", "kind", "scope", "starts_at", "ends_at", "quantity_limit", "quantity_sold", "active"]
    list_filter = ["active", "kind", "scope"]
    search_fields = ["name"]
    date_hierarchy = "starts_at"
    form = PromotionForm
    autocomplete_fields = ["products", "categories"]
    readonly_fields = ["quantity_sold"]
    history_list_display = ["kind", "value", "starts_at", "ends_at", "quantity_limit", "active"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "active", ("starts_at", "ends_at")]}),
        (_("What it gives"), {"fields": ["value", ("buy_quantity", "free_quantity"), "threshold", "stackable"]}),
        (_("What it applies to"), {"fields": ["scope", "products", "categories"]}),
        (_("Limits"), {"fields": ["limit_per_sale", ("quantity_limit", "quantity_sold")]}),
    ]

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert validates and saves in one transaction, as the change form does, so that PromotionForm's lock
        # on what has sold holds until the save.
        with transaction.atomic():
            return super().history_form_view(request, object_id, version_id, extra_context)
