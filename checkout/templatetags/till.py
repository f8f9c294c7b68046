"""The till's basket lines, each rendered once per worker for what it shows.

The basket is rendered whole at every scan, and rendering its lines was a fifth of a scan's cost, though a scan
changes one line (a few, with a promotion). Each line's HTML is kept under the exact values its template is given
and the language: the template sees nothing else, so whatever it shows is part of the key, and a line whose
quantity, price, promotion, name or on-hand changed is rendered afresh. (What else it reads, the currency symbol
and number formats, is the process's own: the rows are forgotten when a setting is changed in a test, or a template
or translation file is edited under the development server, which reloads those without restarting.)
"""

from django import template
from django.core.signals import setting_changed
from django.template.loader import get_template
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

LINES_KEPT = 5000  # about 8 MB per worker (a row's key and HTML about 1.5 KB); emptied, not trimmed, when full
_lines: dict[tuple, SafeString] = {}


def _forget_lines(**kwargs) -> None:
    _lines.clear()


setting_changed.connect(_forget_lines, dispatch_uid="till-lines-setting-changed")
file_changed.connect(_forget_lines, dispatch_uid="till-lines-file-changed")


@register.simple_tag
def till_line(line, position: int) -> SafeString:
    """One row of the basket's table (`checkout/till.html#line`) for a BasketLine at this position."""
    priced = line.priced
    values = {
        "position": position,
        "pk": line.pk,
        "name": priced.product.name,
        "label_priced": line.label_priced,
        "overridden": line.overridden,
        "promotion": priced.promotion,
        "saving": priced.saving,
        "note": priced.note,
        "unit_price": priced.unit_price,
        "quantity": priced.quantity,
        "amount": priced.amount,
        "on_hand_after": line.on_hand_after,
    }
    # repr, not the values: Decimal("4.5") == Decimal("4.50"), but they print differently.
    key = (get_language(), *map(repr, values.values()))
    html = _lines.get(key)
    if html is None:
        if len(_lines) >= LINES_KEPT:
            _lines.clear()
        html = _lines[key] = mark_safe(get_template("checkout/till.html#line").render(values))
    return html
