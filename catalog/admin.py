from collections.abc import Iterable
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.models import is_historic

from catalog import gtin
from catalog.imports import uploads
from catalog.imports.forms import CatalogImportForm
from catalog.models import Category, Product, ProductBarcode, Supplier
from catalog.resources import LabelledExportForm, ProductResource, xlsx_number_formats
from catalog.selectors import category_paths, category_paths_attach, product_barcode_changes
from stock.selectors import lot_stock_exists, on_hand_subquery
from supermarket.admin import HistoryAdmin
from supermarket.jobs import JobsUnavailable

REPORTS_PERMISSION = "reports.view_salesdaily"  # who may open the report pages (supermarket.access)


class BelowSafetyStockFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("below", _("below safety stock"))]

    def queryset(self, request, queryset):
        if self.value() == "below":
            return queryset.filter(safety_stock__gt=0, total_on_hand__lt=F("safety_stock"))
        return queryset


class CategoryPathFilter(admin.RelatedFieldListFilter):
    """The category filter, its choices named and sorted by path ("饮料 / 碳酸饮料"), all read in one query."""

    def field_choices(self, field, request, model_admin):
        return sorted(category_paths().items(), key=lambda choice: choice[1])


class CategoryPathsMixin:
    """A change list whose rows name categories reads the paths of all of them in one query
    (catalog.selectors.category_paths_attach), where each category's str() would walk up its parents: its rows
    whether paged, on a single page or all shown (the last two never go through the paginator)."""

    def shown_categories(self, obj) -> Iterable[Category | None]:
        raise NotImplementedError

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # This evaluates the rows' queryset, whose result cache the page is then rendered from.
        category_paths_attach(category for obj in changelist.result_list for category in self.shown_categories(obj))
        return changelist


class ProductBarcodeForm(forms.ModelForm):
    def clean_barcode(self):
        # The stored form, so that the formset's check for a code entered twice also sees 036000291452 and
        # 0036000291452 as one barcode. A malformed code is left for the field's validator to report.
        code = self.cleaned_data["barcode"]
        try:
            return gtin.normalize(code)
        except gtin.InvalidCode:
            return code


class ProductBarcodeFormSet(forms.BaseInlineFormSet):
    def clean(self):
        # Ahead of the formset's own check for repeated values, whose message names the field by its attribute name:
        # a form marked here as invalid is left out of that check.
        seen = set()
        for form in self.forms:
            code = form.cleaned_data.get("barcode") if form.is_valid() else None
            if not code or self._should_delete_form(form):
                continue
            if code in seen:
                form.add_error("barcode", _("Code %(code)s is entered more than once.") % {"code": code})
            seen.add(code)
        super().clean()


class ProductBarcodeInline(admin.TabularInline):
    model = ProductBarcode
    form = ProductBarcodeForm
    formset = ProductBarcodeFormSet
    extra = 0


def _keep_current_cost(product: Product, products) -> None:
    """Give a past version of a product the current row's purchase price (a deleted product keeps its own)."""
    current = products.filter(pk=product.pk).values_list("purchase_price", flat=True).first()
    if current is not None:
        product.purchase_price = current


def _queue_needed(view):
    """An import page that finds the job queue (Redis, which also keeps the uploads' states) unreachable sends the
    user back to the product list with the reason, instead of failing."""

    @wraps(view)
    def wrapper(model_admin, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(model_admin, request, *args, **kwargs)
        except JobsUnavailable as error:
            messages.error(request, str(error))
            products = reverse("admin:catalog_product_changelist")
            return HttpResponseClientRedirect(products) if request.htmx else redirect(products)

    return wrapper


class ProductAdminForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "purchase_price" in self.fields:
            # The page carries the cost it showed, so a save can tell a typed cost from the one a receipt has moved
            # since the page was opened (see ProductAdmin.save_model).
            self.fields["purchase_price"].show_hidden_initial = True

    def clean(self):
        data = super().clean()
        switched_off = (
            data.get("lot_tracked") is False
            and self.instance.pk is not None
            and Product.objects.filter(pk=self.instance.pk, lot_tracked=True).exists()
        )
        if switched_off and lot_stock_exists(self.instance.pk):
            # Stock in lot rows would be out of reach: sales and moves of an untracked product use its no-lot row.
            self.add_error(
                "lot_tracked",
                _("Some of this product's stock is still in lots: sell, write off or count it to zero first."),
            )
        return data


@admin.register(Product)
class ProductAdmin(CategoryPathsMixin, ImportExportMixin, HistoryAdmin):
    form = ProductAdminForm
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
    list_filter = [BelowSafetyStockFilter, "active", "unit", ("category", CategoryPathFilter), "supplier"]
    search_fields = ["barcode", "store_code", "name", "name_en", "barcodes__barcode"]
    list_select_related = ["category", "supplier"]
    autocomplete_fields = ["category", "supplier"]
    inlines = [ProductBarcodeInline]
    list_per_page = 50
    history_list_display = ["selling_price", "purchase_price"]
    object_history_template = "admin/catalog/product/object_history.html"  # with its extra barcodes' changes
    # Export of the filtered list to CSV (with BOM, so that Excel reads the Chinese) and XLSX.
    resource_classes = [ProductResource]
    export_form_class = LabelledExportForm
    formats = [CSV, XLSX]
    to_encoding = "utf-8-sig"
    import_page_template = "admin/catalog/product/import.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(total_on_hand=on_hand_subquery())

    def shown_categories(self, obj: Product) -> Iterable[Category]:
        return [obj.category]

    def history_view(self, request, object_id, extra_context=None):
        # An extra barcode's pack quantity is what the till charges for a case: its changes belong with the prices'.
        changes = product_barcode_changes(int(object_id)) if str(object_id).isdigit() else []
        return super().history_view(request, object_id, {**(extra_context or {}), "barcode_changes": changes})

    def get_list_display(self, request):
        # The link leads to a manager's page: shown to those who may open it.
        if request.user.has_perm(REPORTS_PERMISSION):
            return [*self.list_display, "forecast_link"]
        return self.list_display

    @admin.display(description=_("forecast"))
    def forecast_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("reports:forecast", args=[obj.pk]), _("forecast"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from reports.selectors import latest_forecast_days

        # One query: the latest forecast's days with the forecast and its location.
        days = latest_forecast_days(int(object_id)) if str(object_id).isdigit() else []
        extra_context = {
            **(extra_context or {}),
            "forecast_days": days,
            "forecast": days[0].forecast if days else None,
            "forecast_link": request.user.has_perm(REPORTS_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # Reverting to a past version (simple-history's form) restores what a buyer edits, not the cost:
    # purchase_price is the moving average that receipts keep (stock.receiving), so it stays as it is now.
    # The history form's instance is the past version, recognised by is_historic(). The change form keeps it too
    # unless the cost was typed in.

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "purchase_price"] if is_historic(obj) else fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if is_historic(obj):
            _keep_current_cost(obj, Product.objects.all())  # shown read-only as it stands now
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change and "purchase_price" not in form.changed_data:
                # Left as shown (or read-only, on the revert page): a receipt posted since the page was opened may
                # have moved the cost, read under the row lock. A cost typed in is saved as typed.
                _keep_current_cost(obj, Product.objects.select_for_update())
            super().save_model(request, obj, form, change)

    @admin.display(description=_("on hand"), ordering="total_on_hand")
    def on_hand(self, obj):
        return obj.total_on_hand.normalize()

    def get_export_data(self, file_format, request, queryset, **kwargs):
        data = super().get_export_data(file_format, request, queryset, **kwargs)
        if isinstance(file_format, XLSX):
            data = xlsx_number_formats(data, ProductResource.XLSX_NUMBER_FORMATS)
        return data

    def get_search_results(self, request, queryset, search_term):
        # A 12-digit UPC-A or a GTIN-14 finds the product stored under its 13-digit form.
        try:
            search_term = gtin.normalize(search_term)
        except gtin.InvalidCode:
            pass
        return super().get_search_results(request, queryset, search_term)

    # Catalog import: the library's Import button leads to an all-or-nothing,
    # bulk import (catalog.imports) instead of its per-row import.

    def get_urls(self):
        urls = [
            path(
                "import/<str:upload_id>/",
                self.admin_site.admin_view(self.import_status_view),
                name="catalog_product_import_status",
            ),
            path(
                "import/<str:upload_id>/errors.csv",
                self.admin_site.admin_view(self.import_errors_view),
                name="catalog_product_import_errors",
            ),
        ]
        return urls + super().get_urls()

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def _import_context(self, request: HttpRequest, **context) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": _("Import products"), **context}

    def import_action(self, request: HttpRequest, **kwargs) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = CatalogImportForm(request.POST or None, request.FILES or None)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                state = uploads.upload_create(
                    data=upload.read(),
                    filename=upload.name,
                    default_supplier=form.cleaned_data["supplier"].strip(),
                    user_id=request.user.pk,
                )
                uploads.upload_start_preview(state)
            except JobsUnavailable as error:
                form.add_error(None, str(error))
            else:
                return redirect("admin:catalog_product_import_status", upload_id=state["id"])
        return TemplateResponse(request, self.import_page_template, self._import_context(request, form=form))

    def _upload(self, request: HttpRequest, upload_id: str) -> dict:
        if not self.has_import_permission(request):
            raise PermissionDenied
        state = uploads.upload_state(upload_id)
        if state is None:
            raise Http404(_("This upload has expired; upload the file again."))
        return state

    @_queue_needed
    def import_status_view(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        state = self._upload(request, upload_id)
        running = state["status"] in uploads.RUNNING
        template = self.import_page_template
        if request.htmx:
            if not running:
                response = HttpResponse()
                response["HX-Refresh"] = "true"  # the job is done: show the whole preview or result
                return response
            template += "#progress"
        return TemplateResponse(request, template, self._import_context(request, upload=state, running=running))

    @method_decorator(require_POST)
    @_queue_needed
    def process_import(self, request: HttpRequest, **kwargs) -> HttpResponse:
        state = self._upload(request, request.POST.get("upload_id", ""))
        confirmable = state["status"] == "previewed" and not state["summary"]["error_count"]
        started = confirmable and uploads.upload_start_apply(state, user_id=request.user.pk)
        # A double click, or a second tab, while the first confirmation is applied (or once it has been): a refused
        # or failed one shows its own message on the status page.
        if not started and state["status"] not in ("refused", "failed") and uploads.upload_confirmed(state["id"]):
            messages.info(request, _("This import was already confirmed; it is applied only once."))
        return redirect("admin:catalog_product_import_status", upload_id=state["id"])

    @_queue_needed
    def import_errors_view(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        content = uploads.upload_error_file(self._upload(request, upload_id))
        if content is None:
            raise Http404(_("This upload has no errors."))
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="errors-{upload_id}.csv"'
        return response


class CategoryPathPaginator(Paginator):
    """Pages of categories (and their parents, selected with them) named by path, read once per page."""

    def _get_page(self, object_list, *args, **kwargs):
        categories = list(object_list)
        category_paths_attach([*categories, *(category.parent for category in categories)])
        return super()._get_page(categories, *args, **kwargs)


@admin.register(Category)
class CategoryAdmin(CategoryPathsMixin, HistoryAdmin):
    list_display = ["name", "name_en", "parent"]
    search_fields = ["name", "name_en"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")  # the parent column, named by its path

    def shown_categories(self, obj: Category) -> Iterable[Category | None]:
        return [obj, obj.parent]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # For the autocomplete, whose results are a page and never a change list.
        return CategoryPathPaginator(queryset, per_page, orphans, allow_empty_first_page)


@admin.register(Supplier)
class SupplierAdmin(HistoryAdmin):
    list_display = ["name", "contact", "phone", "email", "lead_time_days", "active"]
    list_filter = ["active"]
    search_fields = ["name", "contact", "phone"]
