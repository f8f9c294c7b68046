"""Production URLs plus the benchmark baselines; never the URL root outside bench.settings."""

import json
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from catalog.models import Product
from checkout.models import Payment, Register, Sale, SaleLine
from stock.models import MovementKind, StockLevel, StockMovement
from supermarket.auth import api_auth
from supermarket.urls import urlpatterns as production_urlpatterns


def hello(request: HttpRequest) -> JsonResponse:
    """The bare Django response the scan path is measured against."""
    return JsonResponse({"hello": "world"})


@csrf_exempt
@api_auth
def sale_per_line(request: HttpRequest) -> JsonResponse:
    """The obvious sale, as the ORM invites it: a query per product, then per line the level row locked with
    select_for_update, saved with F(), a ledger row created and the line created. Bench code only: it writes the
    level itself, as the obvious version would, so the stock service's own batching does not speed the baseline."""
    body = json.loads(request.body)
    register = Register.online_register()
    with transaction.atomic():
        sale = Sale.objects.create(
            client_token=uuid.UUID(body["client_token"]),
            register=register,
            location=register.location,
            cashier=request.user,
            item_count=Decimal(0),
            total=Decimal(0),
            tax=Decimal(0),
            paid=Decimal(0),
        )
        sale.number = f"N-{sale.pk}"
        sale.save(update_fields=["number"])
        total = Decimal(0)
        for position, line in enumerate(body["lines"], start=1):
            product = Product.objects.get(barcode=line["code"])
            level = StockLevel.objects.select_for_update().get(product=product, location=register.location, lot=None)
            balance = level.on_hand - 1
            level.on_hand = F("on_hand") - 1
            level.save(update_fields=["on_hand"])
            StockMovement.objects.create(
                product=product,
                location=register.location,
                quantity=Decimal(-1),
                kind=MovementKind.SALE,
                reference=sale.number,
                document=sale,
                user=request.user,
                balance_after=balance,
            )
            SaleLine.objects.create(
                sale=sale,
                position=position,
                product=product,
                code=product.barcode,
                quantity=Decimal(1),
                unit_price=product.selling_price,
                amount=product.selling_price,
                tax=Decimal(0),
                cost=product.purchase_price,
            )
            total += product.selling_price
        Payment.objects.create(sale=sale, method="cash", amount=total)
        Sale.objects.filter(pk=sale.pk).update(total=total, paid=total, item_count=len(body["lines"]))
    return JsonResponse({"number": sale.number}, status=201)


try:  # role rules by URL name, where the project has them: the baselines get the rules of what they stand beside
    from supermarket.access import PUBLIC, URL_RULES

    URL_RULES.setdefault("bench-hello", PUBLIC)
    URL_RULES.setdefault("bench-sale-per-line", URL_RULES["checkout-api:sale-create"])
except ImportError:
    pass

urlpatterns = [
    path("bench/hello", hello, name="bench-hello"),
    path("bench/sale-per-line", sale_per_line, name="bench-sale-per-line"),
    *production_urlpatterns,
]
