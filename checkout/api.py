"""The JSON API for scanners, mobile apps and integrations. Every sale goes through checkout.services.sale_complete."""

import json
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog import gtin
from catalog.cache import product_lookup_cached
from catalog.selectors import InactiveProduct, UnknownCode
from checkout.cache import register_cached
from checkout.models import ONLINE_REGISTER_CODE, Payment, Register, Sale, SaleLine
from checkout.openapi import openapi_document
from checkout.pricing import CheckoutError, LineInput, PaymentInput, PriceChanged, PromotionSoldOut
from checkout.selectors import sale_by_number, sale_number_for_token
from checkout.services import NoOpenShift, TokenReused, sale_complete
from stock.cache import on_hand_by_location_cached
from stock.services import InsufficientStock
from supermarket import metrics
from supermarket.auth import api_auth
from supermarket.money import money
from supermarket.unavailable import nul_field, nul_message

NUMBER_LIMIT = Decimal(10**9)


def _error(message: str, status: int, field: str = "", **extra) -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body | extra, status=status)


def _scan(code: str):
    """The scan for a code, or the error answer for a malformed, unknown code (counted either way)."""
    try:
        scan = product_lookup_cached(code, include_inactive=True)
    except gtin.InvalidCode as exc:
        metrics.scan_recorded(outcome="invalid")
        return None, _error(str(exc), 400, "code")
    except UnknownCode as exc:
        metrics.scan_recorded(outcome="unknown")
        return None, _error(str(exc), 404, "code")
    metrics.scan_recorded(outcome="api")
    return scan, None


@require_GET
@api_auth
def product_detail(request: HttpRequest, code: str) -> JsonResponse:
    """What a scanner needs, with on-hand per location: both from the worker's caches, no query on a hit."""
    scan, error = _scan(code)
    if error:
        return error
    product = scan.product
    return JsonResponse(
        {
            "code": scan.code,
            "barcode": product.barcode,
            "store_code": product.store_code,
            "name": product.name,
            "name_en": product.name_en,
            "selling_price": str(product.selling_price),
            "tax_rate": str(product.tax_rate),
            "unit": product.unit,
            "active": product.active,
            "quantity": str(scan.quantity),
            "amount": str(scan.amount) if scan.amount is not None else None,
            "on_hand": [
                {"location": row.code, "name": row.name, "on_hand": str(row.on_hand)}
                for row in on_hand_by_location_cached(product.pk)
            ],
        }
    )


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def _qty(value: Decimal) -> str:
    return f"{value:.3f}"


def sale_json(sale: Sale, lines: Sequence[SaleLine] | None = None, payments: Sequence[Payment] | None = None) -> dict:
    """The sale as the API shows it; lines and payments are read from the sale unless given.

    Figures are written with their columns' decimal places, so a sale just written reads the same as one loaded.
    """
    lines = sale.lines.all() if lines is None else lines
    payments = sale.payments.all() if payments is None else payments
    return {
        "number": sale.number,
        "client_token": str(sale.client_token),
        "register": sale.register.code,
        "shift": sale.shift_id,
        "created_at": sale.created_at.isoformat(),
        "cashier": sale.cashier.get_username(),
        "lines": [
            {
                "position": line.position,
                "product_id": line.product_id,
                "barcode": line.product.barcode,
                "name": line.product.name,
                "code": line.code,
                "quantity": _qty(line.quantity),
                "unit_price": _yuan(line.unit_price),
                "amount": _yuan(line.amount),
                "tax": _yuan(line.tax),
                "saving": _yuan(line.saving),
                "promotion": line.promotion,
            }
            for line in lines
        ],
        "item_count": _qty(sale.item_count),
        "total": _yuan(sale.total),
        "tax": _yuan(sale.tax),
        "saving": _yuan(sum((line.saving for line in lines), Decimal(0))),
        "paid": _yuan(sale.paid),
        "change": _yuan(sale.change),
        "payments": [{"method": p.method, "amount": _yuan(p.amount), "reference": p.reference} for p in payments],
    }


def _sale_response(number: str, status: int) -> JsonResponse:
    return JsonResponse(sale_json(sale_by_number(number)), status=status)


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise CheckoutError(
            _("%(field)s must be a decimal number written as a string.") % {"field": field}, field=field
        )
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise CheckoutError(
            _("%(field)s is not a number: %(value)r.") % {"field": field, "value": value}, field=field
        ) from None
    if not number.is_finite():
        raise CheckoutError(_("%(field)s must be a finite number.") % {"field": field}, field=field)
    # Beyond every quantity and amount column (12 digits); rounding such a number would raise, not refuse.
    if number.copy_abs() >= NUMBER_LIMIT:  # abs() would round, and overflow on an exponent beyond the context's
        raise CheckoutError(
            _("%(field)s is too large: at most %(limit)s.") % {"field": field, "limit": NUMBER_LIMIT - 1}, field=field
        )
    return number


def _object(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise CheckoutError(_("%(field)s must be an object.") % {"field": field}, field=field)
    return value


def _list(body: dict, field: str) -> list:
    value = body.get(field)
    if not isinstance(value, list) or not value:
        raise CheckoutError(_("%(field)s must be a non-empty list.") % {"field": field}, field=field)
    return value


def _payments(body: dict) -> list[PaymentInput]:
    """The payments, which a sale at ¥0 may leave out (the service asks for one whenever something is due)."""
    raw = body.get("payments", [])
    if not isinstance(raw, list):
        raise CheckoutError(_("payments must be a list."), field="payments")
    return [_payment(item, i) for i, item in enumerate(raw)]


def _lines(raw_lines: list) -> list[LineInput]:
    return [_line(_object(raw, f"lines[{i}]"), i) for i, raw in enumerate(raw_lines)]


def _line(raw: dict, i: int) -> LineInput:
    field = f"lines[{i}]"
    code = raw.get("code")
    if not isinstance(code, str):
        raise CheckoutError(_("lines[%(i)s].code must be a string.") % {"i": i}, field=f"{field}.code")
    try:
        # The worker's product cache: a price change reaches it before the change's request has answered.
        scan = product_lookup_cached(code)
    except (gtin.InvalidCode, UnknownCode, InactiveProduct) as exc:
        raise CheckoutError(str(exc), field=f"{field}.code") from None
    times = _decimal(raw.get("quantity", "1"), f"{field}.quantity")
    amount = money(scan.amount * times) if scan.amount is not None else None
    return LineInput(product=scan.product, quantity=scan.quantity * times, amount=amount, code=scan.code)


def _payment(raw, i: int) -> PaymentInput:
    field = f"payments[{i}]"
    raw = _object(raw, field)
    reference = raw.get("reference", "")
    if not isinstance(reference, str) or len(reference) > 64:
        raise CheckoutError(
            _("%(field)s.reference must be text of at most 64 characters.") % {"field": field},
            field=f"{field}.reference",
        )
    return PaymentInput(
        method=str(raw.get("method", "")), amount=_decimal(raw.get("amount"), f"{field}.amount"), reference=reference
    )


def _expected_total(body: dict) -> Decimal | None:
    """The total the client showed its customer, if it sent one: the sale is refused if it now comes to another."""
    value = body.get("expected_total")
    return None if value is None else _decimal(value, "expected_total")


def _register(body: dict) -> Register:
    code = body.get("register")
    if code in (None, ""):
        return register_cached(ONLINE_REGISTER_CODE)
    register = register_cached(str(code))
    if register is None or not register.active:
        raise CheckoutError(_("No register in use has the code %(code)s.") % {"code": code}, field="register")
    return register


@require_POST
@api_auth
def sale_create(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return _error(_("The request body is not valid JSON."), 400, "body")
    # JSON can only carry a NUL escaped: bodies without the escape are not walked.
    if b"\\u0000" in request.body and (field := nul_field(body)):
        return _error(nul_message(field), 400, field)
    try:
        body = _object(body, "body")
        try:
            token = uuid.UUID(str(body.get("client_token", "")))
        except ValueError:
            raise CheckoutError(_("client_token must be a UUID."), field="client_token") from None
        result = sale_complete(
            client_token=token,
            register=_register(body),
            lines=_lines(_list(body, "lines")),
            payments=_payments(body),
            user=request.user,
            expected_total=_expected_total(body),
        )
    except PriceChanged as exc:
        return _error(exc.message, 409, exc.field, total=_yuan(exc.total))
    except (NoOpenShift, PromotionSoldOut, TokenReused) as exc:
        return _error(exc.message, 409, exc.field)
    except CheckoutError as exc:
        # A retry of a completed sale whose lines no longer read (a product retired since) still gets its sale.
        seen = sale_number_for_token(body.get("client_token", "")) if isinstance(body, dict) else None
        if seen is not None:
            return _sale_response(seen, 200)
        return _error(exc.message, 400, exc.field)
    except InsufficientStock as exc:
        return _error(str(exc), 409, "lines")
    if not result.created:
        return _sale_response(result.sale.number, 200)
    return JsonResponse(sale_json(result.sale, result.lines, result.payments), status=201)


@require_GET
@api_auth
def sale_detail(request: HttpRequest, number: str) -> JsonResponse:
    sale = sale_by_number(number)
    if sale is None:
        return _error(_("No sale has the number %(number)s.") % {"number": number}, 404, "number")
    return JsonResponse(sale_json(sale))


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(request.build_absolute_uri("/api/")))
