from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout.models import Promotion
from checkout.pricing import LineInput, Totals, price_lines
from checkout.promotions import rules_changed


@pytest.fixture(autouse=True)
def fresh_rules():
    """Rules are kept per process: a test must not see the promotions of the one before (rolled back, not deleted),
    nor leave its own behind for other test files."""
    rules_changed()
    yield
    rules_changed()


def make_promotion(name: str, kind: str, *, products=(), categories=(), **fields) -> Promotion:
    """Create a live promotion (from an hour ago for a day unless given) and make pricing see it."""
    now = timezone.now()
    fields.setdefault("starts_at", now - timedelta(hours=1))
    fields.setdefault("ends_at", now + timedelta(days=1))
    if "scope" not in fields:
        fields["scope"] = Promotion.Scope.CATEGORIES if categories else Promotion.Scope.PRODUCTS
    promotion = Promotion(name=name, kind=kind, **fields)
    promotion.full_clean()
    promotion.save()
    promotion.products.set(products)
    promotion.categories.set(categories)
    rules_changed()  # save() announces itself on commit; tests run inside a transaction that is rolled back
    return promotion


def price(*items, now=None) -> Totals:
    """price_lines for (product, quantity) pairs."""
    return price_lines([LineInput(product=p, quantity=Decimal(q)) for p, q in items], now=now)
