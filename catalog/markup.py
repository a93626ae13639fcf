"""Markup for the repeated parts of the model page's live panels: table rows and SVG charts.

The panels' frames stay in the template; what repeats (a row per device, quant, offer or model,
a label per tick) is built here. Django's template engine resolves each variable through several
lookups, and a slider fragment has a few hundred of them: built here they cost a tenth. Every
value that is not a number this module formatted itself is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe


def join(row: Any, rows: Iterable[Any]) -> SafeString:
    return mark_safe("".join(row(r) for r in rows))  # every value is escaped by `row`


def link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}">{escape(text)}</a>'


def device_row(r: Mapping[str, Any]) -> str:
    return (
        f'<tr><th scope="row">{r["link"]}</th>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> '
        f"<small>{escape(r['reason'])}</small></td>"
        f'<td class="num">{r["tps"]}</td><td class="num">{r["max_context"]}</td></tr>'
    )


def quant_row(r: Mapping[str, Any]) -> str:
    query = escape(r["query"])
    current = ' class="current" aria-current="true"' if r["current"] else ""
    quality = r["quality"]
    measured = (
        f'<span title="{escape(quality["title"])}">{quality["kld"]} · {quality["ppl"]}</span>'
        if quality
        else '<small class="muted">not measured</small>'
    )
    return (
        f'<tr{current}><th scope="row"><a href="?{query}" hx-get="?{query}" hx-target="#live" '
        f'hx-swap="outerHTML" hx-push-url="true">{r["quant"]}</a></th>'
        f'<td class="num">{r["bpw_text"]}</td><td class="num">{r["file"]}</td>'
        f'<td class="num">{r["total"]}</td>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> {r["fit"]}</td>'
        f'<td class="num">{measured}</td></tr>'
    )


def rental_row(x: Mapping[str, Any]) -> str:
    region = f' <small class="muted">{escape(x["region"])}</small>' if x["region"] else ""
    lowest = ' <span class="tag ok">lowest</span>' if x["lowest"] else ""
    tag, age = x["as_of"]
    as_of = f'<span class="tag {escape(tag)}">{escape(age)}</span>' if tag else escape(age)
    return (
        f'<tr><th scope="row">{x["gpus"]}{x["link"]}</th>'
        f'<td>{escape(x["where"])}{region}</td><td class="num">{x["price"]}</td>'
        f'<td class="num">{x["tps"]}</td><td class="num"><strong>{x["cost"]}</strong>{lowest}</td>'
        f"<td>{as_of}</td></tr>"
    )


def similar_row(r: Mapping[str, Any], query: str) -> str:
    m = r["model"]
    name = escape(m.name)
    link = name if r["current"] else f'<a href="{escape(m.url)}?{escape(query)}">{name}</a>'
    tags = "".join(f'<span class="tag">{escape(code)}</span>' for code in m.modalities)
    noncommercial = "" if m.commercial_use else ' <span class="tag warn">non-commercial</span>'
    current = ' class="current"' if r["current"] else ""
    return (
        f'<tr{current}><th scope="row">{link}</th>'
        f'<td class="num">{m.params}</td><td class="num">{r["context"]}</td><td>{tags}</td>'
        f'<td>{escape(m.license)}{noncommercial}</td><td class="num">{r["total"]}</td>'
        f'<td><span class="grade g{r["grade"]}">{r["grade"]}</span> {r["tps"]}</td></tr>'
    )


def faq_item(item: tuple[str, str]) -> str:
    return f"<dt>{escape(item[0])}</dt><dd>{escape(item[1])}</dd>"


def command(c: Any, first: bool) -> str:
    runtime = escape(c.runtime)
    missing = "" if c.text else ' <small class="muted">not available</small>'
    text = f'<pre class="copyable"><code>{escape(c.text)}</code></pre>' if c.text else ""
    link = (
        f'<p><a class="button" href="{escape(c.link)}">Open in {runtime}</a></p>' if c.link else ""
    )
    note = f'<p class="src">{escape(c.note)}</p>' if c.note else ""
    return (
        f"<details{' open' if first else ''}><summary>{runtime}{missing}</summary>"
        f"{text}{link}{note}</details>"
    )


def commands(cs: Sequence[Any]) -> SafeString:
    return mark_safe("".join(command(c, i == 0) for i, c in enumerate(cs)))


def memory_chart(c: Mapping[str, Any], quant: str) -> SafeString:
    """Total memory versus context, capacity lines and the current point (see Page.memory)."""
    pad, right = c["pad"], c["right"]
    lines = "".join(
        f'<line class="cap" x1="{pad}" x2="{right}" y1="{y}" y2="{y}"/>'
        f'<text class="cap-label" x="{c["label_x"]}" y="{y}">{escape(label)}</text>'
        for y, label in c["lines"]
    )
    ticks = _ticks(c)
    x, y, label = c["point"]
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {c["width"]} {c["height"]}" role="img" '
        f'aria-label="Total memory versus context length, {escape(quant)}">\n'
        f"  {lines}\n"
        f'  <line class="axis" x1="{pad}" x2="{right}" y1="{c["base_y"]}" y2="{c["base_y"]}"/>\n'
        f'  <path class="series" d="{c["path"]}"/>\n'
        f"  {ticks}\n"
        f'  <circle class="point" cx="{x}" cy="{y}" r="5"/>'
        f'<text class="point-label" x="{x}" y="{y}" dy="-9">{escape(label)}</text>\n'
        "</svg>"
    )


def users_chart(c: Mapping[str, Any]) -> SafeString:
    """Aggregate and per-user tokens/s versus users (see Page.serving)."""
    pad = c["pad"]
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {c["width"]} {c["height"]}" role="img" '
        'aria-label="Aggregate and per-user tokens per second versus users">\n'
        f'  <line class="axis" x1="{pad}" x2="{c["right"]}" y1="{c["base_y"]}" '
        f'y2="{c["base_y"]}"/>\n'
        f'  <path class="series" d="{c["aggregate"]}"/>'
        f'<path class="series alt" d="{c["per_user"]}"/>\n'
        f"  {_ticks(c)}\n"
        f'  <text class="chart-title" x="{pad}" y="{c["title_y"]}">up to {c["top"]} tokens/s · '
        "aggregate (solid), per user (dashed), by users</text>\n"
        "</svg>"
    )


def memory_bar(bar: Sequence[Mapping[str, str]], usable_pct: str, usable: str) -> SafeString:
    """The serving plan's stacked bar of weights, KV cache and buffers, and its legend."""
    rects = "".join(
        f'<rect class="seg {b["cls"]}" x="{b["x"]}" y="1" width="{b["pct"]}" height="6">'
        f"<title>{b['label']}: {b['size']}</title></rect>"
        for b in bar
    )
    legend = "".join(
        f'<li><span class="swatch {b["cls"]}"></span>{b["label"]} {b["size"]}</li>' for b in bar
    )
    return mark_safe(
        '<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
        f'aria-label="Memory needed against usable memory">{rects}<line class="usable" '
        f'x1="{usable_pct}" x2="{usable_pct}" y1="0" y2="8"/></svg>\n'
        f'<ul class="legend">{legend}<li>usable {usable}</li></ul>'
    )


def _ticks(c: Mapping[str, Any]) -> str:
    return "".join(
        f'<text class="tick" x="{x}" y="{c["tick_y"]}">{escape(label)}</text>'
        for x, label in c["ticks"]
    )
