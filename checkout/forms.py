from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _

from checkout.models import PaymentMethod, Register
from checkout.pricing import PaymentInput
from stock.forms import PostedOnceForm
from supermarket.models import OverrideKind
from supermarket.money import quantity_text
from supermarket.overrides import APPROVAL_PERMISSION

ZERO = Decimal("0")
SHOWN_TOTAL_UNKNOWN = _(
    "Prices may have changed since the basket was shown: check the total with the customer, then pay again."
)


def _amount(label, required: bool = False, max_digits: int | None = 12) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=required, max_digits=max_digits, decimal_places=2, min_value=ZERO)


def _cash_count(label) -> forms.DecimalField:
    # No digit limit: the service's upper limit (checkout.services.LARGEST_FLOAT, LARGEST_COUNTED_CASH) refuses a
    # barcode scanned into the field with a message that names the field and the limit.
    return _amount(label, required=True, max_digits=None)


class RegisterChooseForm(forms.Form):
    register = forms.ModelChoiceField(
        label=_("Register"), queryset=Register.objects.filter(active=True, online=False), empty_label=None
    )


class ShiftOpenForm(forms.Form):
    opening_float = _cash_count(_("Cash float"))


class ShiftCloseForm(forms.Form):
    shift = forms.IntegerField(  # the shift the page showed, not whichever is open now
        widget=forms.HiddenInput,
        error_messages={
            "required": _("This page is out of date: open it again."),
            "invalid": _("This page is out of date: open it again."),
        },
    )
    counted_cash = _cash_count(_("Counted cash"))


class QuantityForm(forms.Form):
    line = forms.IntegerField()
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=3)


class LineForm(forms.Form):
    line = forms.IntegerField()


class ManagerApprovalForm(forms.Form):
    """A manager types their own credentials on the cashier's screen to approve one action."""

    manager_username = forms.CharField(label=_("Manager"), required=False, max_length=150)
    manager_password = forms.CharField(label=_("Password"), required=False, widget=forms.PasswordInput)

    def __init__(self, *args, request=None, permission: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.request, self.permission = request, permission

    def clean(self):
        data = super().clean()
        data["manager"] = None
        username, password = data.get("manager_username"), data.get("manager_password")
        if username or password:
            manager = authenticate(self.request, username=username, password=password)
            if manager is None and getattr(self.request, "axes_locked_out", False):
                # django-axes locks the name at this till after too many wrong passwords and would answer with its
                # lockout page, which the till cannot show: the form says so instead (the name stays locked).
                self.request.axes_locked_out = False
                raise forms.ValidationError(
                    _("Too many wrong passwords for %(user)s: wait %(minutes)s minutes, or ask another manager.")
                    % {"user": username, "minutes": round(settings.AXES_COOLOFF_TIME * 60)}
                )
            if manager is None:
                raise forms.ValidationError(_("Wrong manager name or password."))
            if not manager.has_perm(self.permission):
                raise forms.ValidationError(_("%(user)s may not approve this.") % {"user": manager.get_username()})
            data["manager"] = manager
        elif self.request is not None and self.request.user.has_perm(self.permission):
            data["manager"] = self.request.user
        return data


class PayForm(ManagerApprovalForm):
    # The total the cashier's screen showed, rendered with the basket and kept in step with it by the till script:
    # the sale is refused if the basket now comes to another (checkout.pricing.PriceChanged). A page from before the
    # field existed sends none, and then what the customer saw is not known: refused too, with the panel re-rendered
    # for the total now.
    shown_total = forms.DecimalField(
        widget=forms.HiddenInput, error_messages={"required": SHOWN_TOTAL_UNKNOWN, "invalid": SHOWN_TOTAL_UNKNOWN}
    )
    cash = _amount(_("Cash tendered"))
    card = _amount(_("Bank card"))
    wechat = _amount(_("WeChat Pay"))
    wechat_reference = forms.CharField(label=_("WeChat reference"), required=False, max_length=64)
    alipay = _amount(_("Alipay"))
    alipay_reference = forms.CharField(label=_("Alipay reference"), required=False, max_length=64)

    def clean(self):
        data = super().clean()
        for method in ("wechat", "alipay"):
            if data.get(method) and not data.get(f"{method}_reference"):
                self.add_error(f"{method}_reference", _("Enter the wallet's transaction reference."))
        return data  # no payment at all is for the service to judge: a basket a manager priced at ¥0 needs none

    def payments(self) -> list[PaymentInput]:
        data = self.cleaned_data
        return [
            PaymentInput(method=method, amount=data[method], reference=data.get(f"{method}_reference", ""))
            for method in (PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.WECHAT, PaymentMethod.ALIPAY)
            if data.get(method)
        ]


class ReturnForm(PostedOnceForm, ManagerApprovalForm):
    refund_method = forms.ChoiceField(label=_("Refund by"), choices=PaymentMethod.choices)
    reference = forms.CharField(label=_("Refund reference"), required=False, max_length=64)

    def __init__(self, *args, sale_lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sale_lines = list(sale_lines)
        for line in self.sale_lines:
            self.fields[f"qty-{line.pk}"] = forms.DecimalField(
                label=line.product.name, required=False, min_value=ZERO, max_digits=12, decimal_places=3
            )

    def quantities(self) -> dict[int, Decimal]:
        return {line.pk: self.cleaned_data.get(f"qty-{line.pk}") or ZERO for line in self.sale_lines}


class OverrideForm(PostedOnceForm, ManagerApprovalForm):
    """What the cashier asks a manager to approve at the till, with the manager's credentials."""

    KINDS = [
        (OverrideKind.VOID_SALE, OverrideKind.VOID_SALE.label),
        (OverrideKind.PRICE, OverrideKind.PRICE.label),
        (OverrideKind.STOCK_LIMIT, OverrideKind.STOCK_LIMIT.label),
    ]
    kind = forms.ChoiceField(label=_("Override"), choices=KINDS)
    number = forms.CharField(label=_("Sale number"), required=False, max_length=40)
    line = forms.TypedChoiceField(label=_("Line"), required=False, coerce=int, empty_value=None)
    unit_price = forms.DecimalField(
        label=_("New unit price"), required=False, max_digits=10, decimal_places=2, min_value=ZERO
    )
    code = forms.CharField(label=_("Barcode"), required=False, max_length=50)

    def __init__(self, *args, cart_lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [("", "—")] + [
            (line.pk, f"{line.product.name} × {quantity_text(line.quantity)}") for line in cart_lines
        ]

    def clean(self):
        kind = self.cleaned_data.get("kind")
        self.permission = APPROVAL_PERMISSION.get(kind, "")
        data = super().clean()
        needed = {
            OverrideKind.VOID_SALE: ("number",),
            OverrideKind.PRICE: ("line", "unit_price"),
            OverrideKind.STOCK_LIMIT: ("code",),
        }.get(kind, ())
        for field in needed:
            if data.get(field) in (None, ""):
                self.add_error(field, _("Needed for this override."))
        return data
