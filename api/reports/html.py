"""The printable report: one self-contained HTML page (inline CSS with print rules, inline SVG
charts, no script, no external resource). Figures show three decimals; each cell keeps the
exact value in ``data-v`` for anyone who needs it.
"""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment

from api.reports import charts
from api.reports.models import InventoryReport, ReviewReport
from api.reports.tables import Cell, Table, tables

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ heading }} - {{ r.park_name }} - {{ r.period.label }}</title>
<style>
body { font: 13px/1.4 "DejaVu Sans", Arial, sans-serif; color: #222; margin: 2em; }
h1 { font-size: 20px; margin: 0 0 .2em; } h2 { font-size: 15px; margin: 1.4em 0 .4em; }
.meta { color: #555; } .cards { display: flex; gap: 1em; flex-wrap: wrap; }
.card { border: 1px solid #ccc; padding: .6em 1em; min-width: 12em; }
.card b { display: block; font-size: 18px; }
table { border-collapse: collapse; margin: .3em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #eef3f6; }
.na { color: #a33; } ul.notes li { margin: .2em 0; }
@media print {
  body { margin: 0; font-size: 10px; } @page { size: A4; margin: 14mm; }
  section { break-inside: avoid-page; } h2 { break-after: avoid; }
  table { font-size: 9px; } thead { display: table-header-group; } tr { break-inside: avoid; }
}
</style></head><body>
<header><h1>{{ heading }}: {{ r.park_name }}</h1>
<p class="meta">Park {{ r.park_id }}{% if r.enterprise_id %}, enterprise {{ r.enterprise_id
}}{% else %}, all enterprises{% endif %} &middot; period {{ r.period.label }} ({{ r.period.start
}} to {{ r.period.end }}, local days of {{ r.period.timezone }}) &middot; generated {{
r.generated_at.replace(tzinfo=None).isoformat(" ", "minutes") }} UTC &middot; {{ clause
}}</p></header>
<section><h2>Totals</h2><div class="cards">
<div class="card">Gross, location-based<b>{{ fmt(r.totals.location_tco2e) }} tCO2e</b></div>
<div class="card">Gross, market-based<b>{% if r.totals.market_tco2e is none
%}<span class="na">not available</span>{% else %}{{ fmt(r.totals.market_tco2e) }} tCO2e{%
endif %}</b></div>
<div class="card">Removals by sinks (not netted)<b>{{ fmt(r.totals.removals_tco2) }} tCO2</b></div>
{% if r.energy %}<div class="card">Energy, GB/T 2589 ({{ r.energy.electricity_convention
}})<b>{% if r.energy.tce is none %}<span class="na">not available</span>{% else %}{{
fmt(r.energy.tce) }} tce{% endif %}</b></div>{% endif %}
</div></section>
{% for title, svg in figures if svg %}<section><h2>{{ title }}</h2>{{ svg|safe }}</section>
{% endfor %}
<section><h2>Notes</h2><ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor
%}</ul></section>
{% for t in tables %}<section><h2>{{ t.name.replace("_", " ") }}</h2>
{% if t.rows %}<table><thead><tr>{% for c in t.columns %}<th>{{ c.replace("_", " ") }}</th>{%
endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for c in row %}{% set k, v, text = cell(t.columns[loop.index0], c)
%}<td{% if k %} class="{{ k }}"{% endif %}{% if v %} data-v="{{ v }}"{% endif %}>{{ text }}</td>{%
endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p class="meta">none in this period</p>{% endif %}
</section>
{% endfor %}</body></html>
"""
_SHARES = ("_share", "completeness", "attainment")
_env = Environment(autoescape=True, keep_trailing_newline=True)
_template = _env.from_string(_TEMPLATE)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.3f}"


def _cell(column: str, value: Cell) -> tuple[str, str, str]:
    """(css class, exact value or "", text shown) of one cell."""
    if value is None:
        return "na", "", "n/a"
    if isinstance(value, bool):
        return "", "", "yes" if value else "no"
    if isinstance(value, float):
        shown = f"{value * 100:.1f} %" if column.endswith(_SHARES) else _fmt(value)
        return "n", repr(value), shown
    if isinstance(value, int):
        return "n", "", str(value)
    if isinstance(value, datetime):
        return "", "", value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return "", "", value.isoformat()
    return "", "", str(value)


def _render(
    report: InventoryReport | ReviewReport,
    heading: str,
    clause: str,
    figures: list[tuple[str, str]],
    notes: list[str],
) -> str:
    shown: list[Table] = [t for t in tables(report) if t.name != "summary"]
    return _template.render(
        r=report,
        heading=heading,
        clause=clause,
        figures=figures,
        notes=notes,
        tables=shown,
        fmt=_fmt,
        cell=_cell,
    )


def _targets(report: InventoryReport | ReviewReport) -> str:
    return charts.attainment(
        "Share of each target used",
        [(f"{t.subject_id} {t.kind} {t.target_period}", t.attainment) for t in report.targets],
    )


def inventory_html(report: InventoryReport) -> str:
    figures = [
        (
            "Gross emissions by source category (location-based)",
            charts.hbars(
                "by source category",
                [(b.key, b.location_tco2e) for b in report.by_source_category],
                "tCO2e",
            ),
        ),
        (
            "Gross emissions by enterprise (location-based)",
            charts.hbars(
                "by enterprise", [(b.key, b.location_tco2e) for b in report.by_enterprise], "tCO2e"
            ),
        ),
        (
            "Gross emissions by month",
            charts.months(
                "by month",
                [(b.key[:7], b.location_tco2e, b.market_tco2e, None) for b in report.by_month],
                "tCO2e",
            ),
        ),
        ("Targets", _targets(report)),
    ]
    return _render(
        report, "Carbon inventory", "clause 6.3.1 f", figures, [*report.method, *report.notes]
    )


def review_html(report: ReviewReport) -> str:
    figures = [
        (
            "Monthly emissions against the year before",
            charts.months(
                "monthly trend",
                [
                    (m.month.isoformat()[:7], m.location_tco2e, m.market_tco2e, m.year_before_tco2e)
                    for m in report.trends
                ],
                "tCO2e",
            ),
        ),
        (
            "Nonconformities by cause (alerts)",
            charts.hbars("alerts by cause", _by_cause(report), "alerts"),
        ),
        (
            "Tickets by state",
            charts.hbars(
                "tickets by state",
                [(k, float(v)) for k, v in report.actions.by_state.items()],
                "tickets",
            ),
        ),
        ("Target attainment", _targets(report)),
    ]
    notes = [report.audit_results, report.projection.note, *report.notes]
    return _render(report, "Management review inputs", "clause 9.5.1", figures, notes)


def _by_cause(report: ReviewReport) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for row in report.nonconformities:
        totals[row.cause] = totals.get(row.cause, 0.0) + row.alerts
    return sorted(totals.items())


def page(report: InventoryReport | ReviewReport) -> str:
    """The printable page of either report."""
    if isinstance(report, InventoryReport):
        return inventory_html(report)
    return review_html(report)
