"""The cashier's till. Every action answers an htmx request with the #basket fragment of the till page (a refused
payment with the #pay-panel fragment after it); without htmx it redirects back to the page. The logic lives in
checkout.services and checkout.selectors."""

import time
from collections.abc import Callable
from decimal import Decimal
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.signing import BadSignature
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from catalog import gtin
from catalog.cache import product_lookup_cached
from catalog.models import Product
from catalog.selectors import InactiveProduct, Scan, UnknownCode, product_search
from checkout import services
from checkout.forms import (
    LineForm,
    PayForm,
    QuantityForm,
    RegisterChooseForm,
    ReturnForm,
    ShiftCloseForm,
    ShiftOpenForm,
)
from checkout.models import Cart, Register, Shift
from checkout.pricing import CheckoutError
from checkout.selectors import (
    Basket,
    Till,
    basket,
    last_sale_number,
    open_shift,
    returned_so_far,
    sale_by_number,
    sale_number_for_token,
    shift_report,
    till_bound,
    till_carts,
)
from stock.services import ExpiredStock, InsufficientStock
from supermarket import metrics
from supermarket.views import posted_id

REGISTER_COOKIE = "till_register"
REGISTER_SALT = "checkout.register"
LOGIN_URL = "checkout:login"


def _bound_till(request: HttpRequest) -> Till | None:
    try:
        pk = request.get_signed_cookie(REGISTER_COOKIE, salt=REGISTER_SALT)
    except (KeyError, BadSignature):
        return None
    return till_bound(pk) if str(pk).isdigit() else None


def _bound_register(request: HttpRequest) -> Register | None:
    bound = _bound_till(request)
    return bound.register if bound else None


def till_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required, and the browser must be bound to a register (else it is sent to choose one)."""

    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        bound = _bound_till(request)
        if bound is None:
            if request.htmx:
                return HttpResponseClientRedirect(reverse("checkout:register-choose"))
            return redirect("checkout:register-choose")
        request.register = bound.register
        # The carts came with the register (one query); _carts hands them out once, before the view changes them.
        request.till_carts = (bound.cart, bound.held)
        try:
            return view(request, *args, **kwargs)
        except services.NoOpenShift:
            # The shift was closed (in another tab, or by a manager): the till page offers to open one.
            if request.htmx:
                return HttpResponseClientRedirect(reverse("checkout:till"))
            return redirect("checkout:till")

    return wrapper


def _carts(request: HttpRequest) -> tuple[Cart, list[Cart]]:
    """The register's open cart (started if there is none) and its held carts: at the first call those read with
    the register, later (after the view changed them) read again."""
    cart, held = request.__dict__.pop("till_carts", None) or till_carts(request.register)
    return cart or services.cart_start(register=request.register, user=request.user), held


def _basket_response(
    request: HttpRequest,
    *,
    carts: tuple[Cart, list[Cart]] | None = None,
    shown: Basket | None = None,
    message: str = "",
    state: str = "ok",
    results=None,
    pay_form: PayForm | None = None,
    current: int | None = None,
    status: int = 200,
) -> HttpResponse:
    if not request.htmx:
        return redirect("checkout:till")
    cart, held = carts or _carts(request)
    context = {
        "basket": shown or basket(cart),
        "held": held,
        "message": message,
        "state": state,
        "results": results,
        "pay_form": pay_form,
        "current": current,
    }
    html = render_to_string("checkout/till.html#basket", context, request)
    if pay_form is not None:
        # A refused payment: the panel again, open, with what was typed and why it was refused. A scan leaves the
        # page's panel as it is, and the till script closes it.
        html += render_to_string("checkout/till.html#pay", context, request)
    return HttpResponse(html, status=status)


@till_view
def till(request: HttpRequest) -> HttpResponse:
    register = request.register
    shift = open_shift(register)
    if shift is None:
        return render(request, "checkout/shift_open.html", {"register": register, "form": ShiftOpenForm()})
    cart, held = _carts(request)
    context = {
        "register": register,
        "shift": shift,
        "basket": basket(cart),
        "held": held,
        "last_sale": last_sale_number(register, request.user),
    }
    return render(request, "checkout/till.html", context)


def register_choose(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse(LOGIN_URL)}?next={request.path}")
    form = RegisterChooseForm(request.POST or None, initial={"register": _bound_register(request)})
    if request.method == "POST" and form.is_valid():
        response = redirect("checkout:till")
        # A till stays bound to its register for a year; the signature stops a browser from picking another by hand.
        response.set_signed_cookie(
            REGISTER_COOKIE,
            form.cleaned_data["register"].pk,
            salt=REGISTER_SALT,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
        )
        return response
    return render(request, "checkout/register_choose.html", {"form": form})


def _scan_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _basket_response(request, message=str(exc), state="error", status=422)


def _add(request: HttpRequest, scan: Scan, started: float | None = None) -> HttpResponse:
    carts = _carts(request)
    try:
        shown, line_id = services.cart_scan(cart=carts[0], scan=scan)
    except services.CartGone as exc:  # the shift closed, or another window ended the sale, as the scan came in
        metrics.scan_recorded(outcome="cart_gone")
        return _basket_response(request, carts=carts, message=str(exc), state="error", status=422)
    except (InsufficientStock, CheckoutError) as exc:  # short of stock, or a quantity the product is not sold in
        metrics.scan_recorded(outcome="no_stock" if isinstance(exc, InsufficientStock) else "invalid")
        return _basket_response(request, carts=carts, message=str(exc), state="error", status=422)
    response = _basket_response(request, carts=carts, shown=shown, message=scan.product.name, current=line_id)
    metrics.scan_recorded(outcome="line", started=started)
    return response


@require_POST
@till_view
def scan(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", "").strip()
    if not code:
        # A scanner's trailing Enter or a second Enter: nothing to add, and never a repeat of the last item.
        return _basket_response(request, state="idle")
    started = time.perf_counter()
    try:
        return _add(request, product_lookup_cached(code), started)
    except UnknownCode as exc:
        metrics.scan_recorded(outcome="unknown")
        return _scan_error(request, exc)
    except InactiveProduct as exc:
        metrics.scan_recorded(outcome="inactive")
        return _scan_error(request, exc)
    except gtin.InvalidCode as exc:
        if code.isdigit():
            metrics.scan_recorded(outcome="invalid")
            return _scan_error(request, exc)
    # Not a code: search by name or store code for items without a barcode.
    results = list(product_search(code, limit=12))
    if len(results) == 1:
        return _add(request, Scan(product=results[0], code="", quantity=Decimal(1)), started)
    if not results:
        metrics.scan_recorded(outcome="no_match")
        return _basket_response(
            request, message=_("Nothing matches %(text)s.") % {"text": code}, state="error", status=422
        )
    metrics.scan_recorded(outcome="search")
    return _basket_response(request, message=_("Choose the item:"), state="search", results=results)


@require_POST
@till_view
def add_product(request: HttpRequest) -> HttpResponse:
    pk = posted_id(request.POST.get("product"))
    product = None if pk is None else Product.objects.filter(pk=pk, active=True).first()
    if product is None:
        return _scan_error(request, CheckoutError(_("That item can no longer be sold.")))
    return _add(request, Scan(product=product, code="", quantity=Decimal(1)))


def _cart_action(request: HttpRequest, action: Callable[[Cart], object]) -> HttpResponse:
    cart, _held = _carts(request)
    try:
        action(cart)
    except (CheckoutError, InsufficientStock) as exc:
        return _scan_error(request, exc)
    return _basket_response(request)


def _form_errors(form) -> str:
    return "; ".join(str(e) for errs in form.errors.values() for e in errs)


def _form_error(request: HttpRequest, form) -> HttpResponse:
    return _basket_response(request, message=_form_errors(form), state="error", status=422)


@require_POST
@till_view
def line_quantity(request: HttpRequest) -> HttpResponse:
    form = QuantityForm(request.POST)
    if not form.is_valid():
        return _form_error(request, form)
    data = form.cleaned_data
    return _cart_action(
        request, lambda cart: services.cart_set_quantity(cart=cart, line_id=data["line"], quantity=data["quantity"])
    )


@require_POST
@till_view
def line_void(request: HttpRequest) -> HttpResponse:
    form = LineForm(request.POST)
    if not form.is_valid():
        return _form_error(request, form)
    return _cart_action(request, lambda cart: services.cart_void_line(cart=cart, line_id=form.cleaned_data["line"]))


@require_POST
@till_view
def hold(request: HttpRequest) -> HttpResponse:
    return _cart_action(request, lambda cart: services.cart_hold(cart=cart))


@require_POST
@till_view
def recall(request: HttpRequest) -> HttpResponse:
    cart_id = posted_id(request.POST.get("cart"))
    if cart_id is None:
        return _scan_error(request, CheckoutError(_("Choose a held sale to recall.")))
    return _cart_action(
        request, lambda cart: services.cart_recall(register=request.register, cart_id=cart_id, user=request.user)
    )


@require_POST
@till_view
def cancel(request: HttpRequest) -> HttpResponse:
    return _cart_action(request, lambda cart: services.cart_cancel(cart=cart))


@require_POST
@till_view
def pay(request: HttpRequest) -> HttpResponse:
    # The form carries the cart's token: a second click or a retry finds the sale the first one completed.
    done = sale_number_for_token(request.POST.get("token"))
    if done is not None:
        return _to_receipt(request, done)
    form = PayForm(request.POST, request=request, permission="checkout.override_expired")
    if not form.is_valid():
        return _basket_response(request, message=_form_errors(form), pay_form=form, state="error", status=422)
    cart, _held = _carts(request)
    token = request.POST.get("token")
    if token and token != str(cart.token):
        # The panel paid for the basket on screen, and another is open now (a hold or recall got in first).
        message = _("The sale on screen changed before the payment reached it: check the total and pay again.")
        return _basket_response(request, message=message, state="error", pay_form=form, status=409)
    manager = form.cleaned_data["manager"] if form.cleaned_data.get("manager_username") else None
    try:
        result = services.cart_checkout(
            cart=cart,
            payments=form.payments(),
            user=request.user,
            approved_by=manager,
            expected_total=form.cleaned_data["shown_total"],
        )
    except ExpiredStock as exc:
        form.needs_manager = True
        return _basket_response(request, message=str(exc), state="error", pay_form=form, status=409)
    except (CheckoutError, InsufficientStock) as exc:
        # Also a promotion sold out or prices changed since the basket was shown (PromotionSoldOut, PriceChanged):
        # the basket and the panel again at the prices now, so the next press pays the total on screen.
        return _basket_response(request, message=str(exc), state="error", pay_form=form, status=409)
    return _to_receipt(request, result.sale.number)


def _to_receipt(request: HttpRequest, number: str) -> HttpResponse:
    url = reverse("checkout:receipt", args=[number])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required(login_url=LOGIN_URL)
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    sale = sale_by_number(number)
    if sale is None:
        raise Http404(_("No sale has this number."))
    returned = returned_so_far(sale)
    in_full = bool(returned) and all(
        line.pk in returned and returned[line.pk][0] >= line.quantity for line in sale.lines.all()
    )
    return render(request, "checkout/receipt.html", {"sale": sale, "returned": returned, "returned_in_full": in_full})


@require_POST
@till_view
def shift_open_view(request: HttpRequest) -> HttpResponse:
    form = ShiftOpenForm(request.POST)
    if form.is_valid():
        try:
            services.shift_open(
                register=request.register, opening_float=form.cleaned_data["opening_float"], user=request.user
            )
        except CheckoutError as exc:
            if open_shift(request.register) is not None:  # opened a moment ago: the button pressed twice
                return redirect("checkout:till")
            _add_service_error(form, exc)
    if form.errors:
        return render(request, "checkout/shift_open.html", {"register": request.register, "form": form}, status=422)
    return redirect("checkout:till")


@till_view
def shift_close_view(request: HttpRequest) -> HttpResponse:
    """The close form names the shift it showed. Sent again (the button pressed twice, the back button, a second
    tab), it leads to that shift's Z-report: it never closes the shift opened since."""
    form = ShiftCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        shift = Shift.objects.filter(pk=form.cleaned_data["shift"], register=request.register).first()
        if shift is None:
            return redirect("checkout:till")
        try:
            services.shift_close(shift=shift, counted_cash=form.cleaned_data["counted_cash"], user=request.user)
        except CheckoutError as exc:
            if not Shift.objects.filter(pk=shift.pk, closed_at__isnull=False).exists():  # else: its Z-report
                _add_service_error(form, exc)
                return _shift_close_page(request, form, shift)
        return redirect("checkout:shift-report", pk=shift.pk)
    shift = open_shift(request.register)
    if shift is None:
        return redirect("checkout:till")
    return _shift_close_page(request, form if form.is_bound else ShiftCloseForm(initial={"shift": shift.pk}), shift)


def _add_service_error(form, exc: CheckoutError) -> None:
    """The service's refusal, under the field it names if the form has that field (the amount too large)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _shift_close_page(request: HttpRequest, form: ShiftCloseForm, shift: Shift) -> HttpResponse:
    context = {"form": form, "report": shift_report(shift)}
    return render(request, "checkout/shift_close.html", context, status=422 if form.errors else 200)


@login_required(login_url=LOGIN_URL)
def shift_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    shift = get_object_or_404(Shift.objects.select_related("register", "opened_by", "closed_by"), pk=pk)
    return render(request, "checkout/shift_report.html", {"report": shift_report(shift)})


@till_view
def sale_return_view(request: HttpRequest) -> HttpResponse:
    number = (request.POST.get("number") or request.GET.get("number") or "").strip()
    sale = sale_by_number(number) if number else None
    context = {"number": number, "sale": sale, "message": ""}
    if number and sale is None:
        context["message"] = _("No sale has the number %(number)s.") % {"number": number}
    if sale is None:
        return render(request, "checkout/return.html", context, status=404 if number else 200)
    returned = returned_so_far(sale)
    lines = list(sale.lines.all())
    first_payment = next(iter(sale.payments.all()), None)
    form = ReturnForm(
        request.POST if request.method == "POST" else None,
        request=request,
        permission="checkout.add_return",
        sale_lines=lines,
        initial={"refund_method": first_payment.method if first_payment else "cash"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            ret = services.sale_return(
                sale=sale,
                quantities=form.quantities(),
                refund_method=form.cleaned_data["refund_method"],
                reference=form.cleaned_data["reference"],
                register=request.register,
                user=request.user,
                approved_by=form.cleaned_data["manager"],
                token=form.cleaned_data["token"],
            )
        except (CheckoutError, InsufficientStock) as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "checkout/return_done.html", {"ret": ret, "sale": sale})
    context.update(
        form=form,
        rows=[(line, form[f"qty-{line.pk}"], line.quantity - returned.get(line.pk, (0, 0))[0]) for line in lines],
        needs_manager=not request.user.has_perm("checkout.add_return"),
    )
    return render(request, "checkout/return.html", context, status=422 if form.errors else 200)
