"""Template filters for quantities: the same formatters the Python code uses (estimator.units),
one per unit, so a number reads the same everywhere on the site."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from estimator import units

register = template.Library()

gib = register.filter("gib", units.gib)
params = register.filter("params", units.params)
tokens = register.filter("tokens", units.tokens)
tps = register.filter("tps", units.tps)


@register.filter
def source(value: str | None) -> str:
    """A source as a link when it is a URL, else as text."""
    if not value:
        return "unknown"
    if value.startswith(("https://", "http://")):
        return format_html(
            '<a href="{}" rel="noopener nofollow">{}</a>', value, value.split("://", 1)[1]
        )
    return value
