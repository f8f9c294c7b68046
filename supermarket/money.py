"""Money is Decimal yuan, rounded to fen half up, in this one place."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
GRAM = Decimal("0.001")


def money(value) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def quantity(value) -> Decimal:
    return Decimal(value).quantize(GRAM, rounding=ROUND_HALF_UP)


def quantity_text(value: Decimal) -> str:
    """A quantity as people write it, without trailing zeros or an exponent: 10.000 is "10", 0.250 is "0.25".
    (Decimal's normalize() alone writes 10 as "1E+1".)"""
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def tax_included(gross: Decimal, rate_percent: Decimal) -> Decimal:
    """The tax inside a tax-inclusive amount (Chinese shelf prices include VAT)."""
    return money(gross * rate_percent / (Decimal(100) + rate_percent))
