"""The till's manager override page and the override report. Access by URL rule (supermarket.access):
the override page is a till page (the manager approves on the cashier's screen), the report needs
supermarket.view_manageroverride."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from catalog import gtin
from catalog.selectors import InactiveProduct, UnknownCode, product_lookup
from checkout import overrides, services
from checkout.forms import OverrideForm
from checkout.pricing import CheckoutError
from checkout.selectors import cart_lines, sale_by_number, till_carts
from checkout.views import LOGIN_URL, till_view
from supermarket.models import OverrideKind
from supermarket.overrides import overrides_recent


def _apply(request: HttpRequest, form: OverrideForm, cart) -> HttpResponse | None:
    data, manager = form.cleaned_data, form.cleaned_data["manager"]
    kind, token = data["kind"], data["token"]
    if kind == OverrideKind.VOID_SALE:
        sale = sale_by_number(data["number"].strip())
        if sale is None:
            raise CheckoutError(_("No sale has the number %(number)s.") % {"number": data["number"]}, field="number")
        ret = overrides.sale_void(
            sale=sale, register=request.register, user=request.user, approved_by=manager, token=token
        )
        return render(request, "checkout/return_done.html", {"ret": ret, "sale": sale})
    if kind == OverrideKind.PRICE:
        overrides.cart_price_override(
            cart=cart,
            line_id=data["line"],
            unit_price=data["unit_price"],
            user=request.user,
            approved_by=manager,
            token=token,
        )
    else:
        scan = product_lookup(data["code"].strip())
        overrides.cart_add_past_stock(cart=cart, scan=scan, user=request.user, approved_by=manager, token=token)
    return None


@till_view
def override(request: HttpRequest) -> HttpResponse:
    cart, _held = till_carts(request.register)
    cart = cart or services.cart_start(register=request.register, user=request.user)
    form = OverrideForm(
        request.POST if request.method == "POST" else None,
        request=request,
        cart_lines=cart_lines(cart),
        initial={"kind": request.GET.get("kind"), "code": request.GET.get("code", "")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            done = _apply(request, form, cart)
        except (CheckoutError, gtin.InvalidCode, UnknownCode, InactiveProduct) as exc:
            form.add_error(None, getattr(exc, "message", str(exc)))
        else:
            return done or redirect("checkout:till")
    return render(request, "checkout/override.html", {"form": form}, status=422 if form.errors else 200)


@login_required(login_url=LOGIN_URL)
def override_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    rows = overrides_recent(kind=kind if kind in OverrideKind.values else None)
    return render(request, "checkout/overrides.html", {"rows": rows, "kinds": OverrideKind.choices, "kind": kind})
