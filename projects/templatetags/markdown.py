from django import template
from django.utils.safestring import SafeString

from projects.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value: object) -> SafeString:
    """Render untrusted markdown as sanitized HTML: ``{{ text|markdown }}``."""
    return render_markdown(None if value is None else str(value))
