"""Links shown only to users who may follow them, by the same rules the access middleware enforces."""

from django import template

from supermarket.access import URL_RULES

register = template.Library()


@register.filter
def may_open(user, url_name: str) -> bool:
    """Whether the user may open the page named url_name (a page that needs no object of theirs)."""
    rule = URL_RULES.get(url_name)
    return user.is_superuser if rule is None else rule.allows(user, {})
