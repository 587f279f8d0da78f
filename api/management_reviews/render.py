"""A management review as a printable HTML page and as an XLSX workbook (clause 9.5).

The page uses the reports' style and cell rendering (``api.reports.html``); the workbook the
reports' table writer (``api.reports.render.xlsx``): a ``review`` sheet (the header, state and
hash), one sheet per input table (named ``<input>.<table>`` within 31 characters) and the
``outputs`` sheet.
"""

from __future__ import annotations

from jinja2 import Environment

from api.management_reviews.models import ReviewOut
from api.management_reviews.spec import OUTPUT_LABELS
from api.reports.html import STYLE, cell_view
from api.reports.render import xlsx
from api.reports.tables import Cell, Table

_TEMPLATE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Management review {{ v.review_id }} - {{ r.park_name }} - {{ r.period.label }}</title>
<style>
"""
    + STYLE
    + """</style></head><body>
<header><h1>Management review {{ v.review_id }}: {{ r.park_name }}</h1>
<p class="meta">Park {{ r.park_id }}{% if r.enterprise_id %}, enterprise {{ r.enterprise_id
}}{% else %}, all enterprises{% endif %} &middot; held {{ r.held_on }} &middot; chair {{ r.chair
}} &middot; period {{ r.period.label }} ({{ r.period.start }} to {{ r.period.end }}, local days
of {{ r.period.timezone }}) &middot; clause 9.5</p>
<p class="meta">Attendees: {{ r.attendees|join(", ") }}</p>
<p class="meta" id="state">{% if v.state == "closed" %}Closed {{ v.closed_at.isoformat(
timespec="seconds") }} by {{ v.closed_by }} &middot; sha256 <code>{{ v.content_sha256
}}</code>{% else %}Draft: inputs gathered {{ r.inputs_gathered_at.isoformat(timespec="seconds")
}}{% endif %}</p></header>
<section><h2>Outputs (9.5.2)</h2>
{% if r.outputs %}<table id="outputs"><thead><tr><th>#</th><th>kind</th><th>output</th>
<th>owner</th><th>due</th><th>nonconformity</th><th>ticket</th></tr></thead><tbody>
{% for o in r.outputs %}<tr><td class="n">{{ loop.index }}</td><td>{{ o.kind.value }}</td>
<td><b>{{ o.title }}</b>{% if o.description %}<br>{{ o.description }}{% endif %}</td>
<td>{{ o.owner }}</td><td>{{ o.due_on }}</td><td>{{ "yes" if o.nonconformity else "no" }}</td>
<td>{{ o.ticket_id if o.ticket_id is not none else "" }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p class="meta">none recorded</p>{% endif %}</section>
{% for i in r.inputs %}<section><h2>{{ i.title }} ({{ i.clause }})</h2>
{% for n in i.notes %}<p class="meta">{{ n }}</p>{% endfor %}
{% for t in i.tables %}<h3>{{ t.name.replace("_", " ") }}</h3>
{% if t.rows %}<table><thead><tr>{% for c in t.columns %}<th>{{ c.replace("_", " ") }}</th>{%
endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for c in row %}{% set k, x, text = cell(t.columns[loop.index0], c)
%}<td{% if k %} class="{{ k }}"{% endif %}{% if x %} data-v="{{ x }}"{% endif %}>{{ text }}</td>{%
endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p class="meta">none recorded</p>{% endif %}
{% endfor %}</section>
{% endfor %}</body></html>
"""
)
_template = Environment(autoescape=True, keep_trailing_newline=True).from_string(_TEMPLATE)


def page(review: ReviewOut) -> str:
    """The review as one self-contained printable page (no script, no external resource)."""
    return _template.render(v=review, r=review.record, cell=cell_view)


def _sheet(name: str, used: set[str]) -> str:
    # Sheet names: at most 31 characters, unique, none of []:*?/\ (the names here are [a-z_.]).
    base = name[:31]
    out, n = base, 1
    while out in used:
        n += 1
        out = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(out)
    return out


def tables(review: ReviewOut) -> list[Table]:
    """The review as tables: the header first, each input's tables, then the outputs."""
    r = review.record
    header: list[tuple[Cell, ...]] = [
        ("review_id", review.review_id),
        ("state", review.state.value),
        ("park_id", r.park_id),
        ("enterprise_id", r.enterprise_id),
        ("held_on", r.held_on),
        ("chair", r.chair),
        ("attendees", "; ".join(r.attendees)),
        ("period_start", r.period.start),
        ("period_end", r.period.end),
        ("inputs_gathered_at", r.inputs_gathered_at),
        ("content_sha256", review.content_sha256),
        ("closed_at", review.closed_at),
        ("closed_by", review.closed_by),
    ]
    for i in r.inputs:
        header.append((f"input {i.key} ({i.clause})", "recorded" if i.recorded else "none"))
        header.extend((f"input {i.key} note", n) for n in i.notes)
    used = {"review", "outputs"}
    out = [Table("review", ("item", "value"), tuple(header))]
    for i in r.inputs:
        for t in i.tables:
            out.append(
                Table(
                    _sheet(f"{i.key}.{t.name}", used),
                    tuple(t.columns),
                    tuple(tuple(row) for row in t.rows),
                )
            )
    columns = ("position", *OUTPUT_LABELS, "ticket_id")
    rows = tuple(
        (n, o.kind.value, o.title, o.description, o.owner, o.due_on, o.nonconformity, o.ticket_id)
        for n, o in enumerate(r.outputs, start=1)
    )
    out.append(Table("outputs", columns, rows))
    return out


def workbook(review: ReviewOut) -> bytes:
    return xlsx(tables(review))
