import re
from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from catalog.resources import LabelledExportForm, StockLevelResource
from catalog.selectors import product_ids_matching
from stock import locations, purchasing, receiving, replenishment
from stock.models import (
    CountLine,
    CountSession,
    Location,
    Lot,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ReplenishmentSuggestion,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    WriteOff,
    WriteOffLine,
)
from supermarket.admin import HistoryAdmin, ReadOnlyAdmin


class NumberSearchMixin:
    """Search also finds a document by the number it is shown with (PO000042), in any case, with or without the
    prefix and leading zeros: the number is made from the id, so no field holds it as text.

    `numbered_by` adds the numbers of documents it points at, by their prefix and foreign key ({"PO": "order"}: a
    receipt is found by its order's number). Those need their prefix: a bare number stays the document's own."""

    number_prefix: str
    numbered_by: dict[str, str] = {}

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        number = re.fullmatch(rf"(?:{self.number_prefix})?0*(\d{{1,18}})", term, re.IGNORECASE)
        if number:
            results |= queryset.filter(pk=int(number[1]))
        for prefix, field in self.numbered_by.items():
            number = re.fullmatch(rf"{prefix}0*(\d{{1,18}})", term, re.IGNORECASE)
            if number:
                results |= queryset.filter(**{f"{field}_id": int(number[1])})
        return results, may_have_duplicates


class DeleteEachMixin:
    """Deleting several goes through delete_model for each, in primary-key order, all or none."""

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset.order_by("pk"):
                self.delete_model(request, obj)


class ProductSearchMixin:
    """Search finds the rows of the products the text names, by product_id (catalog.selectors.product_ids_matching: a
    main or extra barcode or a store code, exactly and in the stored form, as the product list takes it; or part of
    the name), and rows whose `prefix_search_fields` start with it: both index lookups on these rows. Text matched
    over the join with products would read every row of a million-row ledger; so would counting the whole table
    besides the rows listed."""

    search_fields = ["product__name"]  # shows the search box; the searching is get_search_results'
    prefix_search_fields: tuple[str, ...] = ()
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q(product_id__in=product_ids_matching(term))
        for field in self.prefix_search_fields:
            found |= Q(**{f"{field}__startswith": term})
        return queryset.filter(found), False


class LocationAdminForm(forms.ModelForm):
    def clean_is_default(self):
        is_default = self.cleaned_data["is_default"]
        # Until the form is valid its instance holds the location as stored.
        if self.instance.is_default and not is_default:
            raise ValidationError(
                _(
                    "Reports, forecasts and new purchase orders use this location: make another location the default "
                    "instead."
                )
            )
        return is_default

    def validate_constraints(self):
        # Ticking another location is how the default moves (location_save unticks the old one in the same
        # transaction), so the one-default constraint is not checked against the rows as they stand.
        try:
            self.instance.validate_constraints(exclude={*self._get_validation_exclusions(), "is_default"})
        except ValidationError as error:
            self._update_errors(error)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    """The store always has a default location: it is moved by ticking another, never unticked or deleted
    (reports, forecasts and new purchase orders take it; the online register when it is first created)."""

    form = LocationAdminForm
    list_display = ["code", "name", "kind", "is_default"]

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_default)

    def save_model(self, request, obj, form, change):
        previous = locations.location_save(location=obj)
        if previous is not None:
            self.message_user(
                request,
                _(
                    "%(location)s is now the default location, instead of %(previous)s. Registers keep the location "
                    "they sell from."
                )
                % {"location": obj, "previous": previous},
            )


@admin.register(Lot)
class LotAdmin(HistoryAdmin):
    list_display = ["product", "code", "expiry_date"]
    search_fields = ["code", "product__name", "product__barcode"]
    list_filter = ["expiry_date"]
    raw_id_fields = ["product"]
    history_list_display = ["expiry_date"]

    def get_readonly_fields(self, request, obj=None):
        # A lot's stock levels and ledger rows count it under its product and code: once it exists it keeps both
        # (another product's goods are received as a lot of their own). Its expiry date may change, with history.
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else [*fields, "product", "code"]


@admin.register(StockLevel)
class StockLevelAdmin(ProductSearchMixin, ExportMixin, ReadOnlyAdmin):
    # Export of the filtered list; CSV with BOM so that Excel reads the Chinese names.
    resource_classes = [StockLevelResource]
    export_form_class = LabelledExportForm
    formats = [CSV, XLSX]
    to_encoding = "utf-8-sig"
    list_display = ["product", "location", "lot", "on_hand", "ledger_link"]
    list_filter = ["location"]
    search_help_text = gettext_lazy("A barcode (a case barcode too), a store code or part of a product name.")
    list_select_related = ["product", "location", "lot"]

    @admin.display(description=gettext_lazy("ledger"))
    def ledger_link(self, level: StockLevel) -> str:
        url = reverse("admin:stock_stockmovement_changelist")
        query = f"product__id__exact={level.product_id}&location__id__exact={level.location_id}"
        return format_html('<a href="{}?{}">{}</a>', url, query, _("movements"))


@admin.register(StockMovement)
class StockMovementAdmin(ProductSearchMixin, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "product",
        "location",
        "lot",
        "kind",
        "quantity",
        "balance_after",
        "reference",
        "document_link",
        "user",
    ]
    # Dates by the filter's fixed ranges (today, past 7 days, this month, this year), read through the created_at
    # index: a date hierarchy would first list the years of every row.
    list_filter = ["kind", "location", ("created_at", admin.DateFieldListFilter)]
    prefix_search_fields = ("reference",)
    search_help_text = gettext_lazy(
        "A barcode (a case barcode too), a store code, part of a product name, or the start of a reference."
    )
    list_select_related = ["product", "location", "lot", "user"]

    @admin.display(description=gettext_lazy("document"))
    def document_link(self, movement: StockMovement) -> str:
        if movement.document_type_id is None:
            return "-"
        # get_for_id is cached, so a page of ledger rows costs no query per row here.
        model = ContentType.objects.get_for_id(movement.document_type_id)
        try:
            url = reverse(f"admin:{model.app_label}_{model.model}_change", args=[movement.document_id])
        except NoReverseMatch:
            return f"{model.name} #{movement.document_id}"
        return format_html('<a href="{}">{} #{}</a>', url, model.name, movement.document_id)


@admin.register(ReplenishmentSuggestion)
class ReplenishmentSuggestionAdmin(admin.ModelAdmin):
    list_display = [
        "product",
        "supplier",
        "location",
        "status",
        "on_hand_when_raised",
        "created_at",
        "purchase_order",
        "dismissed_reason",
    ]
    list_filter = ["status", "location", "product__supplier"]
    search_fields = ["product__barcode", "product__name"]
    list_select_related = ["product__supplier", "location", "purchase_order"]
    readonly_fields = [
        "product",
        "location",
        "status",
        "on_hand_when_raised",
        "created_at",
        "closed_at",
        "closed_by",
        "purchase_order",
        "dismissed_reason",
    ]
    actions = ["create_draft_orders", "dismiss"]

    def has_add_permission(self, request):
        return False

    def has_order_permission(self, request: HttpRequest) -> bool:
        # Ordering is a buyer's decision, as on the replenishment page: changing suggestions is not enough.
        return request.user.has_perm("stock.add_purchaseorder")

    @admin.display(description=gettext_lazy("supplier"), ordering="product__supplier__name")
    def supplier(self, suggestion: ReplenishmentSuggestion):
        return suggestion.product.supplier

    @admin.action(description=gettext_lazy("Create draft purchase orders (one per supplier)"), permissions=["order"])
    def create_draft_orders(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            result = replenishment.suggestions_order(suggestions=queryset, user=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        for order in result.orders:
            self.message_user(
                request, _("Draft %(order)s for %(supplier)s created.") % {"order": order, "supplier": order.supplier}
            )
        for _suggestion, reason in result.skipped:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description=gettext_lazy("Dismiss with a reason"), permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()
        if "apply" in request.POST:
            dismissed = 0
            for suggestion in queryset.filter(status=ReplenishmentSuggestion.Status.OPEN):
                try:
                    replenishment.suggestion_dismiss(suggestion=suggestion, reason=reason, user=request.user)
                except ValidationError as exc:
                    self.message_user(request, " ".join(exc.messages), messages.ERROR)
                    return None
                dismissed += 1
            self.message_user(request, _("%(n)d suggestions dismissed.") % {"n": dismissed})
            return None
        return TemplateResponse(
            request,
            "stock/admin_dismiss.html",
            {**self.admin_site.each_context(request), "suggestions": queryset, "opts": self.model._meta},
        )


class PurchaseOrderLineFormSet(BaseInlineFormSet):
    """The lines typed in the admin pass the order service's checks (purchasing.order_lines_check)."""

    def clean(self):
        super().clean()
        # Lines are typed on drafts only: afterwards the inline is read-only, its forms hold ids, and receiving
        # adds lines of its own (goods delivered but not ordered, at quantity 0).
        if any(self.errors) or self.instance.supplier_id is None or self.instance.status != PurchaseOrder.Status.DRAFT:
            return
        lines = [
            purchasing.OrderLine(form.cleaned_data["product"], form.cleaned_data["quantity"])
            for form in self.forms
            if form.cleaned_data.get("product") and not form.cleaned_data.get("DELETE")
        ]
        if lines:
            purchasing.order_lines_check(self.instance.supplier, lines)


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    formset = PurchaseOrderLineFormSet
    extra = 0
    raw_id_fields = ["product"]
    readonly_fields = ["received_quantity"]

    # The lines are part of their order: whoever may see the order sees them, and they are typed with it, by whoever
    # may add it (obj is None on its add page) or change it (roles hold no permission on lines). They change only
    # while the order is a draft; afterwards receiving keeps them.
    def has_view_permission(self, request, obj=None):
        return self.admin_site.get_model_admin(PurchaseOrder).has_view_or_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        order_admin = self.admin_site.get_model_admin(PurchaseOrder)
        if obj is None:
            return order_admin.has_add_permission(request)
        return obj.status == PurchaseOrder.Status.DRAFT and order_admin.has_change_permission(request, obj)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(NumberSearchMixin, DeleteEachMixin, admin.ModelAdmin):
    list_display = ["order_number", "supplier", "location", "status", "expected_date", "created_at", "created_by"]
    list_filter = ["status", "supplier", "location"]
    number_prefix = "PO"
    search_fields = ["supplier__name", "note"]
    list_select_related = ["supplier", "location", "created_by"]
    readonly_fields = ["status", "created_by", "created_at", "sent_at"]
    inlines = [PurchaseOrderLineInline]
    actions = ["send", "cancel", "delete_selected"]

    # The number is made from the id (PO000042), so it sorts by id; as a bare property its header would be the
    # untranslated "Number".
    @admin.display(description=gettext_lazy("order number"), ordering="id")
    def order_number(self, obj: PurchaseOrder) -> str:
        return obj.number

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != PurchaseOrder.Status.DRAFT:
            return [*self.readonly_fields, "supplier", "location", "expected_date"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # A sent order is the record of what was ordered: it is cancelled, and only a draft shows the delete link.
        may_delete = super().has_delete_permission(request, obj)
        return may_delete and (obj is None or obj.status == PurchaseOrder.Status.DRAFT)

    def _refuse_all_but_drafts(self, request: HttpRequest, orders: Iterable[PurchaseOrder]) -> bool:
        """Say why each order that is not a draft cannot be deleted; True if there was one."""
        refused = False
        for order in orders:
            try:
                purchasing.order_delete_check(order)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                refused = True
        return refused

    def delete_view(self, request, object_id, extra_context=None):
        # Django's own answer for an order that may not go is a bare 403: the order's page says why instead, to
        # whoever may delete orders.
        order = self.get_object(request, unquote(object_id))
        if (
            order is not None
            and super().has_delete_permission(request, order)
            and self._refuse_all_but_drafts(request, [order])
        ):
            return HttpResponseRedirect(reverse("admin:stock_purchaseorder_change", args=[order.pk]))
        return super().delete_view(request, object_id, extra_context)

    # In place of the site's action of the same name, which would say the user may not delete purchase orders at all.
    @admin.action(description=admin_actions.delete_selected.short_description, permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if self._refuse_all_but_drafts(request, queryset.order_by("pk")):
            return None
        return admin_actions.delete_selected(self, request, queryset)

    def delete_model(self, request, obj):
        # The order may have been sent since the delete page read it: the service refuses it under its row lock.
        try:
            purchasing.purchase_order_delete(order=obj, user=request.user)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from None

    def _each(self, request: HttpRequest, queryset: QuerySet, service, done: str) -> None:
        for order in queryset:
            try:
                service(order=order, user=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, done % {"order": order})

    @admin.action(description=gettext_lazy("Send to supplier"), permissions=["change"])
    def send(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, purchasing.purchase_order_send, _("%(order)s sent."))

    @admin.action(description=gettext_lazy("Cancel (what is still to come)"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, purchasing.purchase_order_cancel, _("%(order)s cancelled."))


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReceiptLineInline(ReadOnlyInline):
    model = ReceiptLine


@admin.register(Receipt)
class ReceiptAdmin(NumberSearchMixin, DeleteEachMixin, ReadOnlyAdmin):
    list_display = ["__str__", "order", "supplier", "location", "status", "reason", "created_by", "posted_at"]
    list_filter = ["status", "location"]
    number_prefix = "GR"
    numbered_by = {"PO": "order"}  # PO000042 finds that order's receipts
    search_fields = ["supplier__name", "reason"]
    list_select_related = ["order", "supplier", "location", "created_by"]
    inlines = [ReceiptLineInline]

    def has_delete_permission(self, request, obj=None):
        # A draft has moved no stock (no ledger row points at it), so a mistaken one may go; a posted one stays.
        may_delete = admin.ModelAdmin.has_delete_permission(self, request, obj)
        return may_delete and (obj is None or obj.status == Receipt.Status.DRAFT)

    def delete_model(self, request, obj):
        # A clerk may be posting the draft meanwhile: receipt_discard takes it under its row lock, drafts only.
        try:
            receiving.receipt_discard(receipt=obj, user=request.user)
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None


class CountLineInline(ReadOnlyInline):
    model = CountLine
    fields = ["product", "expected", "counted", "ledger_position", "unit_cost", "first_counted_at"]
    readonly_fields = fields


@admin.register(CountSession)
class CountSessionAdmin(NumberSearchMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "location",
        "status",
        "started_at",
        "posted_at",
        "accuracy_percent",
        "difference_value",
        "absolute_difference_value",
        "review_link",
    ]
    list_filter = ["status", "location"]
    number_prefix = "ST"
    search_fields = ["location__name"]
    list_select_related = ["location"]
    inlines = [CountLineInline]

    @admin.display(description=gettext_lazy("review sheet"))
    def review_link(self, session: CountSession) -> str:
        return format_html('<a href="{}">{}</a>', reverse("stock:count-review", args=[session.pk]), _("review"))


class TransferLineInline(ReadOnlyInline):
    model = TransferLine


@admin.register(Transfer)
class TransferAdmin(NumberSearchMixin, ReadOnlyAdmin):
    list_display = ["__str__", "source", "destination", "created_by", "created_at", "note"]
    list_filter = ["source", "destination"]
    number_prefix = "TR"
    search_fields = ["note"]
    inlines = [TransferLineInline]


class WriteOffLineInline(ReadOnlyInline):
    model = WriteOffLine


@admin.register(WriteOff)
class WriteOffAdmin(NumberSearchMixin, ReadOnlyAdmin):
    list_display = ["__str__", "location", "reason", "created_by", "created_at", "note"]
    list_filter = ["reason", "location"]
    number_prefix = "WO"
    search_fields = ["note"]
    inlines = [WriteOffLineInline]
