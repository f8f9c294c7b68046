"""Money is Decimal yuan, rounded to fen half up, in this one place."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
GRAM = Decimal("0.001")


def money(value) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def quantity(value) -> Decimal:
    return Decimal(value).quantize(GRAM, rounding=ROUND_HALF_UP)


def tax_included(gross: Decimal, rate_percent: Decimal) -> Decimal:
    """The tax inside a tax-inclusive amount (Chinese shelf prices include VAT)."""
    return money(gross * rate_percent / (Decimal(100) + rate_percent))
