import re
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Category, Supplier
from stock.models import CountSession, Location, PurchaseOrder, WriteOff
from stock.receiving import read_scanned_code
from stock.transfers import DocumentLine

QUANTITY_FIELD = {"max_digits": 14, "decimal_places": 3}


class ScanForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Barcode or case label"), max_length=200, strip=False)

    def clean_code(self) -> str:
        # Keep the GS1 group separator inside a case label; only the ends are trimmed.
        code = self.cleaned_data["code"].strip(" \r\n\t")
        if not code:
            raise ValidationError(_("Scan or type a code."))
        return code


class CountForm(ScanForm):
    quantity = forms.DecimalField(
        label=gettext_lazy("Quantity (empty: one per scan)"), required=False, **QUANTITY_FIELD
    )


class ReceiptLineForm(forms.Form):
    quantity = forms.DecimalField(label=gettext_lazy("Quantity"), **QUANTITY_FIELD)
    lot_code = forms.CharField(label=gettext_lazy("Lot"), max_length=40, required=False)
    expiry_date = forms.DateField(label=gettext_lazy("Expiry"), required=False)


class PostedOnceForm(forms.Form):
    """A document form carrying a one-time token, rendered fresh with each empty form: posting the same form
    twice (a double click, a resent request) finds the document posted and moves nothing more, or the receipt
    started and starts no other."""

    token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": gettext_lazy("This form is out of date: open the page again and re-enter it.")},
    )


class ReceiveOrderForm(forms.Form):
    # Any order: receipt_start says why a draft, cancelled or received one cannot be received.
    order = forms.ModelChoiceField(label=gettext_lazy("Purchase order"), queryset=PurchaseOrder.objects.all())


class DirectDeliveryForm(PostedOnceForm):
    location = forms.ModelChoiceField(label=gettext_lazy("Location"), queryset=Location.objects.all())
    supplier = forms.ModelChoiceField(label=gettext_lazy("Supplier"), queryset=Supplier.objects.all(), required=False)
    reason = forms.CharField(label=gettext_lazy("Reason (no purchase order)"), max_length=200)


class CountSessionForm(forms.ModelForm):
    class Meta:
        model = CountSession
        fields = ["location", "categories", "tolerance_percent", "note"]
        widgets = {"categories": forms.SelectMultiple(attrs={"size": 8})}

    categories = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Categories (none: everything)"), queryset=Category.objects.all(), required=False
    )


class DismissForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


class NearExpiryForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Expiring within (days)"), min_value=0, max_value=365, initial=3)
    location = forms.ModelChoiceField(
        label=gettext_lazy("Location"),
        queryset=Location.objects.all(),
        required=False,
        empty_label=gettext_lazy("All locations"),
    )


# Lines end at a line break only: str.splitlines() and str.split() also break at the GS1 group separator that a
# scanner puts inside a raw case label.
LINE_BREAK = re.compile(r"\r\n|[\r\n]")
COLUMN_BREAK = re.compile(r"[^\S\x1d]+")


class LinesField(forms.CharField):
    """One line per product: a code and a quantity separated by spaces or a tab, as pasted from a sheet. A code is
    read as counting reads a scan (stock.receiving.read_scanned_code): one unit, the pack quantity of a case barcode,
    the count on a GS1-128 case label or the net weight on a weight label; a quantity counts that many of it (3 with a
    24-pack case barcode: 72), none one. Lots on a label are not read: lot-tracked goods go by the lot that expires
    first. Inactive products count: delisted goods are still written off and moved."""

    widget = forms.Textarea(attrs={"rows": 6, "placeholder": "6901234567892 12"})

    def clean(self, value) -> list[DocumentLine]:
        text = super().clean(value)
        lines, errors = [], []
        for number, raw in enumerate(LINE_BREAK.split(text), start=1):
            if not raw.strip():
                continue
            # Any whitespace: a tab from a pasted sheet, the full-width space of a Chinese input method.
            code, *rest = COLUMN_BREAK.split(raw.strip(), maxsplit=1)
            try:
                product, scanned, _lot, _expiry = read_scanned_code(code)
            except ValidationError as exc:
                errors += [_("Line %(n)d: %(error)s") % {"n": number, "error": error} for error in exc.messages]
                continue
            try:
                quantity = Decimal(rest[0]) * scanned if rest else scanned
            except InvalidOperation:
                errors.append(_("Line %(n)d: %(value)s is not a quantity.") % {"n": number, "value": rest[0]})
                continue
            problem = product.quantity_problem(quantity)
            if problem:
                errors.append(_("Line %(n)d: %(error)s") % {"n": number, "error": problem})
                continue
            lines.append(DocumentLine(product, quantity))
        if errors:
            raise ValidationError(errors)
        if not lines:
            raise ValidationError(_("Add at least one line."))
        return lines


class TransferForm(PostedOnceForm):
    source = forms.ModelChoiceField(label=gettext_lazy("From"), queryset=Location.objects.all())
    destination = forms.ModelChoiceField(label=gettext_lazy("To"), queryset=Location.objects.all())
    lines = LinesField(label=gettext_lazy("Lines: code and quantity"))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)


class WriteOffForm(PostedOnceForm):
    location = forms.ModelChoiceField(label=gettext_lazy("Location"), queryset=Location.objects.all())
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=WriteOff.Reason.choices)
    lines = LinesField(label=gettext_lazy("Lines: code and quantity"))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)
