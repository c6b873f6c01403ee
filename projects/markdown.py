"""Render untrusted markdown (guidelines, task text, model outputs) to inert HTML.

markdown-it parses with raw HTML disabled, so any tag in the source is shown as text;
Pygments highlights fenced code with CSS classes (the CSP forbids inline styles); nh3 then
removes whatever is not on the allowlist, including `javascript:` and other non-web links.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "pre": {"class"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
# Longer sources are shown as plain text: highlighting 100 KB of code per request is not worth it.
MAX_HIGHLIGHT_CHARS = 20_000

_formatter = HtmlFormatter(cssclass="highlight", nowrap=True)


def _highlight(code: str, lang: str, attrs: str) -> str:
    if not lang or len(code) > MAX_HIGHLIGHT_CHARS:
        return ""  # markdown-it escapes and wraps it itself
    try:
        lexer = get_lexer_by_name(lang.strip().split()[0])
    except ClassNotFound:
        return ""
    # Starting with "<pre" tells markdown-it not to wrap it again.
    return f'<pre class="highlight"><code>{highlight(code, lexer, _formatter)}</code></pre>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight})
        .enable("table")
        .enable("strikethrough")
    )


def render_markdown(text: str | None) -> SafeString:
    """Return sanitized HTML for ``text``; safe to embed in any page."""
    if not text:
        return mark_safe("")
    html = _parser().render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 - sanitized by nh3 with an allowlist above


def pygments_css() -> str:
    """The stylesheet for highlighted code (static/css/code.css is generated from this)."""
    return _formatter.get_style_defs(".highlight")
