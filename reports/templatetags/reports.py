from django import template
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from supermarket.templatetags.yuan import yuan

register = template.Library()

PLACES = {"percent": 2}


@register.simple_tag
def cell(row, column):
    """One table cell, numbers right-aligned with their kind's decimals (quantities as stored)."""
    value = getattr(row, column.key)
    if value is None or value == "":
        return format_html('<td class="{}">–</td>', "num" if column.kind != "text" else "")
    if column.kind == "text":
        return format_html("<td>{}</td>", value)
    if column.kind == "date":
        return format_html("<td>{}</td>", date_format(value, "Y-m-d"))
    if column.kind == "datetime":
        return format_html("<td>{}</td>", date_format(value, "Y-m-d H:i"))
    if column.kind == "link":
        return format_html('<td><a href="{}">{}</a></td>', value, _("Open"))
    if column.kind == "money":
        return format_html('<td class="num">{}</td>', yuan(value))
    text = number_format(value, PLACES.get(column.kind), use_l10n=True, force_grouping=True)
    return format_html('<td class="num">{}</td>', text)
