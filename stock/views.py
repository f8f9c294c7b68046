"""Back-store pages: receiving, counting, replenishment, near-expiry, transfers and write-offs.

Phone-sized HTMX pages: a scan answers with the page's fragment (the receiving sheet,
the counting list) and a message; without htmx the same views redirect back. The
work is done by the stock document services; views only check permission and input.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stock import expiry, receiving, replenishment, stocktake, transfers
from stock.forms import (
    CountForm,
    CountSessionForm,
    DirectDeliveryForm,
    DismissForm,
    NearExpiryForm,
    ReceiptLineForm,
    ReceiveOrderForm,
    ScanForm,
    TransferForm,
    WriteOffForm,
)
from stock.models import (
    CountEntry,
    CountSession,
    Location,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    ReplenishmentSuggestion,
)
from stock.services import InsufficientStock
from supermarket.money import quantity_text
from supermarket.views import posted_id


def staff_permission(perm: str) -> Callable:
    """Logged in (else to the login page) and holding the permission (else 403)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorator


def _errors(exc: Exception) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


def _flash_errors(request: HttpRequest, exc: Exception) -> None:
    for error in _errors(exc):
        messages.error(request, error)


def _form_errors(form) -> list[str]:
    return [error for errors in form.errors.values() for error in errors]


@staff_permission("stock.view_stocklevel")
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "stock/home.html")


# Receiving ------------------------------------------------------------------------------------


@staff_permission("stock.add_receipt")
def receiving_list(request: HttpRequest) -> HttpResponse:
    orders = PurchaseOrder.objects.filter(status__in=PurchaseOrder.RECEIVABLE).select_related("supplier", "location")
    drafts = Receipt.objects.filter(status=Receipt.Status.DRAFT).select_related("order", "location")
    return render(
        request,
        "stock/receiving_list.html",
        {"orders": orders, "drafts": drafts, "direct_form": DirectDeliveryForm()},
    )


@require_POST
@staff_permission("stock.add_receipt")
def receiving_start(request: HttpRequest) -> HttpResponse:
    if "order" in request.POST:
        form = ReceiveOrderForm(request.POST)
        if form.is_valid():
            kwargs = {"order": form.cleaned_data["order"]}
    else:
        form = DirectDeliveryForm(request.POST)
        if form.is_valid():
            kwargs = form.cleaned_data
    if not form.is_valid():
        for error in _form_errors(form):
            messages.error(request, error)
        return redirect("stock:receiving-list")
    try:
        receipt = receiving.receipt_start(user=request.user, **kwargs)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("stock:receiving-list")
    return redirect("stock:receipt-detail", pk=receipt.pk)


def _page_or_fragment(
    request: HttpRequest, template: str, fragment: str, context: dict, message: str = "", error: str = ""
) -> HttpResponse:
    """The whole page, or for htmx only the fragment a scan changes. A refused scan answers 422 with the
    message in the fragment (the back-store layout tells htmx to swap 422 answers)."""
    name = f"{template}#{fragment}" if request.htmx else template
    status = 422 if error and request.htmx else 200
    return render(request, name, {**context, "message": message, "error": error}, status=status)


def _receipt_page(request: HttpRequest, receipt: Receipt, message: str = "", error: str = "") -> HttpResponse:
    context = {"receipt": receipt, "rows": receiving.receipt_sheet(receipt)}
    return _page_or_fragment(request, "stock/receipt.html", "sheet", context, message, error)


@staff_permission("stock.add_receipt")
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = get_object_or_404(Receipt.objects.select_related("order__supplier", "location"), pk=pk)
    return _receipt_page(request, receipt)


@require_POST
@staff_permission("stock.add_receipt")
def receipt_scan(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = get_object_or_404(Receipt.objects.select_related("order__supplier", "location"), pk=pk)
    form = ScanForm(request.POST)
    if not form.is_valid():
        return _receipt_page(request, receipt, error=" ".join(_form_errors(form)))
    try:
        scanned = receiving.receipt_scan(receipt=receipt, code=form.cleaned_data["code"], user=request.user)
    except ValidationError as exc:
        return _receipt_page(request, receipt, error=" ".join(exc.messages))
    message = _("+%(quantity)s %(product)s") % {
        "quantity": quantity_text(scanned.added),
        "product": scanned.line.product.name,
    }
    if not scanned.on_order and receipt.order_id:
        message += " — " + _("not on the order")
    return _receipt_page(request, receipt, message=message)


@require_POST
@staff_permission("stock.add_receipt")
def receipt_line_update(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(ReceiptLine.objects.select_related("receipt", "product"), pk=pk)
    form = ReceiptLineForm(request.POST)
    if not form.is_valid():
        return _receipt_page(request, line.receipt, error=" ".join(_form_errors(form)))
    try:
        receiving.receipt_line_update(line=line, user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        return _receipt_page(request, line.receipt, error=" ".join(exc.messages))
    return _receipt_page(request, line.receipt, message=_("Saved."))


@require_POST
@staff_permission("stock.add_receipt")
def receipt_post(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = get_object_or_404(Receipt, pk=pk)
    try:
        receiving.receipt_post(receipt=receipt, user=request.user)
    except (ValidationError, InsufficientStock) as exc:
        _flash_errors(request, exc)
        return redirect("stock:receipt-detail", pk=pk)
    messages.success(request, _("%(receipt)s posted.") % {"receipt": receipt})
    return redirect("stock:receiving-list")


@require_POST
@staff_permission("stock.add_receipt")
def receipt_discard(request: HttpRequest, pk: int) -> HttpResponse:
    # Not looked up here: the service reads it under its lock, and a second click is told it is discarded already.
    receipt = Receipt(pk=pk)
    try:
        receiving.receipt_discard(receipt=receipt, user=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("%(receipt)s discarded.") % {"receipt": receipt})
    return redirect("stock:receiving-list")


# Stocktake ------------------------------------------------------------------------------------


@staff_permission("stock.add_countentry")
def count_list(request: HttpRequest) -> HttpResponse:
    form = CountSessionForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("stock.add_countsession"):
            raise PermissionDenied(_("Your role does not allow starting a count."))
        if form.is_valid():
            try:
                session = stocktake.count_session_start(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("stock:count-detail", pk=session.pk)
    sessions = CountSession.objects.select_related("location").prefetch_related("categories")[:50]
    return render(request, "stock/count_list.html", {"form": form, "sessions": sessions})


def _count_page(request: HttpRequest, session: CountSession, message: str = "", error: str = "") -> HttpResponse:
    entries = (
        CountEntry.objects.filter(line__session=session, counted_by=request.user)
        .select_related("line__product")
        .order_by("-id")[:30]
    )
    context = {"session": session, "entries": entries, "totals": stocktake.count_totals(session)}
    return _page_or_fragment(request, "stock/count.html", "entries", context, message, error)


@staff_permission("stock.add_countentry")
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CountSession.objects.select_related("location"), pk=pk)
    if session.status == CountSession.Status.POSTED:
        return redirect("stock:count-review", pk=pk)
    return _count_page(request, session)


@require_POST
@staff_permission("stock.add_countentry")
def count_add(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CountSession.objects.select_related("location"), pk=pk)
    form = CountForm(request.POST)
    if not form.is_valid():
        return _count_page(request, session, error=" ".join(_form_errors(form)))
    try:
        entry = stocktake.count_add(session=session, user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        return _count_page(request, session, error=" ".join(exc.messages))
    message = _("+%(quantity)s %(product)s") % {
        "quantity": quantity_text(entry.quantity),
        "product": entry.line.product.name,
    }
    return _count_page(request, session, message=message)


@require_POST
@staff_permission("stock.add_countentry")
def count_undo(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CountSession.objects.select_related("location"), pk=pk)
    entry = None
    if request.POST.get("entry"):
        # The page sends the id of an entry it lists; anything else is an edited page, not a server error.
        entry_id = posted_id(request.POST["entry"])
        if entry_id is None:
            return HttpResponseBadRequest(_("The entry to undo is not valid: reload the page and choose again."))
        entry = get_object_or_404(CountEntry, pk=entry_id, line__session=session)
    try:
        undone = stocktake.count_undo(session=session, user=request.user, entry=entry)
    except ValidationError as exc:
        return _count_page(request, session, error=" ".join(exc.messages))
    message = _("Undone: %(quantity)s %(product)s") % {
        "quantity": quantity_text(undone.quantity),
        "product": undone.line.product.name,
    }
    return _count_page(request, session, message=message)


@staff_permission("stock.change_countsession")
def count_review(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CountSession.objects.select_related("location", "posted_by"), pk=pk)
    review = stocktake.count_review(session)
    return render(request, "stock/count_review.html", {"session": session, "review": review})


@require_POST
@staff_permission("stock.change_countsession")
def count_post(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(CountSession, pk=pk)
    try:
        stocktake.count_post(session=session, user=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("%(session)s posted.") % {"session": session})
    return redirect("stock:count-review", pk=pk)


# Replenishment --------------------------------------------------------------------------------


@staff_permission("stock.change_replenishmentsuggestion")
def replenishment_list(request: HttpRequest) -> HttpResponse:
    rows = replenishment.suggestion_rows(replenishment.open_suggestions())
    groups: dict = {}
    for row in rows:
        groups.setdefault(row.suggestion.product.supplier, []).append(row)
    context = {"groups": groups.items(), "on_order": replenishment.out_of_stock_on_order()}
    return render(request, "stock/replenishment.html", context)


@require_POST
@staff_permission("stock.add_purchaseorder")
def replenishment_order(request: HttpRequest) -> HttpResponse:
    # The page sends the ids of its checkboxes; anything else is an edited or stale form, not a server error.
    ids = [posted_id(value) for value in request.POST.getlist("suggestion")]
    if None in ids:
        return HttpResponseBadRequest(_("The chosen suggestions are not valid: reload the page and choose again."))
    chosen = ReplenishmentSuggestion.objects.filter(pk__in=ids)
    try:
        result = replenishment.suggestions_order(suggestions=chosen, user=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("stock:replenishment")
    for order in result.orders:
        messages.success(
            request,
            _("Draft %(order)s for %(supplier)s created.") % {"order": order, "supplier": order.supplier},
        )
    for _suggestion, reason in result.skipped:
        messages.warning(request, reason)
    return redirect("stock:replenishment")


@require_POST
@staff_permission("stock.change_replenishmentsuggestion")
def suggestion_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = get_object_or_404(ReplenishmentSuggestion.objects.select_related("product"), pk=pk)
    form = DismissForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        replenishment.suggestion_dismiss(suggestion=suggestion, user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        if request.htmx:
            # The row stays as it is; the browser's required field keeps a blank reason from getting here.
            return HttpResponse(" ".join(exc.messages), status=422, headers={"HX-Reswap": "none"})
        _flash_errors(request, exc)
        return redirect("stock:replenishment")
    if request.htmx:
        return HttpResponse("")  # the row is swapped out of the list
    messages.success(request, _("Suggestion for %(product)s dismissed.") % {"product": suggestion.product.name})
    return redirect("stock:replenishment")


# Expiry, transfers, write-offs ----------------------------------------------------------------


@staff_permission("stock.view_lot")
def near_expiry(request: HttpRequest) -> HttpResponse:
    form = NearExpiryForm(request.GET or {"days": 3})
    rows = expiry.near_expiry(**form.cleaned_data) if form.is_valid() else []
    total = sum((row.value_at_cost for row in rows), 0)
    context = {
        "form": form,
        "rows": rows,
        "total": total,
        "locations": Location.objects.all(),
        # The write-off button acts on the location shown; with all of them shown it asks which.
        "location": form.cleaned_data.get("location") if form.is_valid() else None,
    }
    return render(request, "stock/near_expiry.html", context)


@require_POST
@staff_permission("stock.add_writeoff")
def expired_write_off(request: HttpRequest) -> HttpResponse:
    location_id = posted_id(request.POST.get("location"))
    if location_id is None:
        return HttpResponseBadRequest(_("Choose a location from the list."))
    location = get_object_or_404(Location, pk=location_id)
    try:
        write_off = transfers.write_off_expired(location=location, user=request.user)
    except (ValidationError, InsufficientStock) as exc:
        _flash_errors(request, exc)
    else:
        messages.success(
            request,
            _("%(doc)s: expired lots at %(location)s written off.") % {"doc": write_off, "location": location},
        )
    return redirect("stock:near-expiry")


def _document_page(request: HttpRequest, form, create: Callable, template: str) -> HttpResponse:
    """Shared by the transfer and write-off pages: validate the form, call the service, report. The form's token
    makes a double submit show the document already posted."""
    if request.method == "POST" and form.is_valid():
        try:
            document = create(user=request.user, **form.cleaned_data)
        except transfers.AlreadyPosted as exc:
            messages.info(request, str(exc))
            return redirect(request.path)
        except (ValidationError, InsufficientStock) as exc:
            for error in _errors(exc):
                form.add_error(None, error)
        else:
            messages.success(request, _("%(doc)s posted.") % {"doc": document})
            return redirect(request.path)
    return render(request, template, {"form": form})


@staff_permission("stock.add_transfer")
def transfer_new(request: HttpRequest) -> HttpResponse:
    return _document_page(request, TransferForm(request.POST or None), transfers.transfer_create, "stock/transfer.html")


@staff_permission("stock.add_writeoff")
def write_off_new(request: HttpRequest) -> HttpResponse:
    return _document_page(
        request, WriteOffForm(request.POST or None), transfers.write_off_create, "stock/write_off.html"
    )
