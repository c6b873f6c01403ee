"""Money in templates: integer cents shown as dollars (``{{ cents|dollars }}``)."""

from __future__ import annotations

from django import template

register = template.Library()


def format_dollars(cents: int) -> str:
    """``123456`` → ``$1,234.56``; exact for any whole number of cents."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"


@register.filter(name="dollars")
def dollars(value: object) -> str:
    """Show a whole number of cents as dollars; anything else (None, blank) as an em dash."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except (TypeError, ValueError):
            return "—"
    return format_dollars(value)
