"""Money in templates: integer cents shown as dollars (``{{ cents|dollars }}``)."""

from __future__ import annotations

from django import template

from projects.pricing import format_dollars

register = template.Library()


@register.filter(name="dollars")
def dollars(value: object) -> str:
    """Show a whole number of cents as dollars; anything else (None, blank) as an em dash."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except (TypeError, ValueError):
            return "—"
    return format_dollars(value)
