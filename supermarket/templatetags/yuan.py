from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.formats import number_format

from supermarket.money import money, quantity_text

register = template.Library()


@register.filter
def yuan(value) -> str:
    """An amount as ¥ (settings.CURRENCY_SYMBOL) with two decimals, rounded half up like every stored amount.

    Grouped as the active language writes numbers (English 1,234.50; Chinese 1234.50). The sign goes
    before the ¥ (-¥3.60), as on Chinese receipts. None or text that is not a number shows nothing
    rather than "¥None".
    """
    if value is None or value == "":
        return ""
    try:
        amount = money(value if isinstance(value, Decimal) else str(value))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    text = number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    sign = "-" if amount < 0 else ""
    return f"{sign}{settings.CURRENCY_SYMBOL}{text}"


@register.filter
def qty(value) -> str:
    """A quantity as people write it (supermarket.money.quantity_text): 10, 0.25, 12.5; nothing for None."""
    if value is None or value == "":
        return ""
    return quantity_text(value if isinstance(value, Decimal) else Decimal(str(value)))
