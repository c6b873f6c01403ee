"""Untrusted markdown renders inert: no script, no event handler, no javascript: link."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template import Context, Template

from projects.markdown import render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '![x](https://evil.example/x.png "title" onerror=alert(1))',
    "<style>body{display:none}</style>",
]


class Elements(HTMLParser):
    """Collect the elements and attributes a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("source", ATTACKS)
def test_attacks_render_inert(source):
    found = elements(render_markdown(f"Intro\n\n{source}\n\nOutro"))
    assert not {"script", "img", "svg", "iframe", "style"} & set(found.tags)
    assert not [name for name, _ in found.attributes if name.startswith("on")]
    assert not [
        value
        for name, value in found.attributes
        if name in {"href", "src"} and not value.startswith(("https:", "http:", "mailto:"))
    ]


def test_markdown_features_survive_sanitizing():
    html = render_markdown(
        "# Title\n\n**bold** and *em* and `code` and ~~gone~~\n\n"
        "- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "[docs](https://example.com/guide)\n\n```python\nprint('<b>')\n```"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<s>gone</s>" in html
    assert "<td>1</td>" in html
    assert '<a href="https://example.com/guide" rel="nofollow noopener noreferrer">docs</a>' in html
    # Highlighted with classes (the CSP forbids inline styles), the code itself escaped.
    assert '<pre class="highlight"><code><span class="nb">print</span>' in html
    assert "&lt;b&gt;" in html
    assert "style=" not in html


def test_unknown_language_and_plain_fences_are_escaped_text():
    html = render_markdown("```klingon\n<b>x</b>\n```\n\n```\n<i>y</i>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "&lt;i&gt;y&lt;/i&gt;" in html
    assert "<b>" not in html


def test_filter_renders_empty_for_none_and_escapes_in_templates():
    template = Template("{% load markdown %}[{{ value|markdown }}]")
    assert template.render(Context({"value": None})) == "[]"
    assert "&lt;script&gt;" in template.render(Context({"value": "<script>x</script>"}))
