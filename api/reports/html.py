"""The printable report: one self-contained HTML page (inline CSS with print rules, inline SVG
charts, no script, no external resource). Figures show three decimals; each cell keeps the
exact value in ``data-v`` for anyone who needs it. Every heading and label comes from the one
catalogue (``accounting.i18n``) in the language asked for; figures, dates and units are written
by ``accounting.locale_format``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from jinja2 import Environment

from accounting import locale_format
from accounting.i18n import Lang, translate
from api.reports import charts
from api.reports.models import InventoryReport, ReviewReport
from api.reports.tables import Cell, Table, tables

# The page's style, shared by every printable page (reports, inventories, management reviews).
STYLE = """body { font: 13px/1.4 "DejaVu Sans", Arial, "Noto Sans CJK SC", "Microsoft YaHei",
  sans-serif; color: #222; margin: 2em; }
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
"""
_TEMPLATE = (
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ heading }} - {{ r.park_name }} - {{ r.period.label }}</title>
<style>
"""
    + STYLE
    + """</style></head><body>
<header><h1>{{ heading }}: {{ r.park_name }}</h1>
<p class="meta">{{ tr("report.meta_park", park=r.park_id) }}, {% if r.enterprise_id %}{{
tr("report.meta_enterprise", enterprise=r.enterprise_id) }}{% else %}{{ tr("report.meta_all")
}}{% endif %} &middot; {{ tr("report.meta_period", label=r.period.label, start=day(r.period.start),
end=day(r.period.end), timezone=r.period.timezone) }} &middot; {{ tr("report.meta_generated",
at=stamp(r.generated_at)) }} &middot; {{ tr("report.clause", clause=clause) }}</p></header>
<section><h2>{{ tr("report.totals") }}</h2><div class="cards">
<div class="card">{{ tr("report.gross_location") }}<b>{{ qty(r.totals.location_tco2e, "tCO2e")
}}</b></div>
<div class="card">{{ tr("report.gross_market") }}<b>{% if r.totals.market_tco2e is none
%}<span class="na">{{ tr("report.not_available") }}</span>{% else %}{{
qty(r.totals.market_tco2e, "tCO2e") }}{% endif %}</b></div>
<div class="card">{{ tr("report.removals") }}<b>{{ qty(r.totals.removals_tco2, "tCO2") }}</b></div>
{% if r.energy %}<div class="card">{{ tr("report.energy", convention=convention(
r.energy.electricity_convention)) }}<b>{% if r.energy.tce is none %}<span class="na">{{
tr("report.not_available") }}</span>{% else %}{{ qty(r.energy.tce, "tce") }}{% endif %}</b></div>{%
endif %}
</div></section>
{% for title, svg in figures if svg %}<section><h2>{{ title }}</h2>{{ svg|safe }}</section>
{% endfor %}
<section><h2>{{ tr("report.notes") }}</h2><ul class="notes">{% for n in notes %}<li>{{ n }}</li>{%
endfor %}</ul></section>
{% for t in tables %}<section><h2>{{ tr("report.table." ~ t.name) }}</h2>
{% if t.rows %}<table><thead><tr>{% for c in t.columns %}<th>{{ tr("report.col." ~ c) }}</th>{%
endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for c in row %}{% set k, v, text = cell(t.columns[loop.index0], c)
%}<td{% if k %} class="{{ k }}"{% endif %}{% if v %} data-v="{{ v }}"{% endif %}>{{ text }}</td>{%
endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p class="meta">{{ tr("report.none_in_period") }}</p>{%
endif %}
</section>
{% endfor %}</body></html>
"""
)
_SHARES = ("_share", "completeness", "attainment")
_env = Environment(autoescape=True, keep_trailing_newline=True)
_template = _env.from_string(_TEMPLATE)


def cell_view(column: str, value: Cell, lang: Lang = Lang.EN) -> tuple[str, str, str]:
    """(css class, exact value or "", text shown) of one cell."""
    if value is None:
        return "na", "", translate("common.not_available", lang)
    if isinstance(value, bool):
        return "", "", locale_format.yes_no(value, lang)
    if isinstance(value, float):
        if column.endswith(_SHARES):
            return "n", repr(value), locale_format.percent(value, lang)
        return "n", repr(value), locale_format.number(value, lang)
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
    lang: Lang,
) -> str:
    shown: list[Table] = [t for t in tables(report) if t.name != "summary"]

    def tr(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    return _template.render(
        r=report,
        lang=lang.value,
        heading=heading,
        clause=clause,
        figures=figures,
        notes=notes,
        tables=shown,
        tr=tr,
        qty=lambda v, unit: locale_format.quantity(v, unit, lang),
        day=lambda d: locale_format.day(d, lang),
        stamp=lambda at: locale_format.instant(at, lang, UTC),
        convention=lambda c: tr(f"convention.{c}"),
        cell=lambda column, value: cell_view(column, value, lang),
    )


def _targets(report: InventoryReport | ReviewReport, lang: Lang) -> str:
    return charts.attainment(
        translate("report.fig_target_share", lang),
        [(f"{t.subject_id} {t.kind} {t.target_period}", t.attainment) for t in report.targets],
    )


def inventory_html(report: InventoryReport, lang: Lang) -> str:
    unit = locale_format.unit("tCO2e", lang)
    figures = [
        (
            translate("report.fig_by_category", lang),
            charts.hbars(
                translate("report.table.by_source_category", lang),
                [(b.key, b.location_tco2e) for b in report.by_source_category],
                unit,
            ),
        ),
        (
            translate("report.fig_by_enterprise", lang),
            charts.hbars(
                translate("report.table.by_enterprise", lang),
                [(b.key, b.location_tco2e) for b in report.by_enterprise],
                unit,
            ),
        ),
        (
            translate("report.fig_by_month", lang),
            charts.months(
                translate("report.table.by_month", lang),
                [(b.key[:7], b.location_tco2e, b.market_tco2e, None) for b in report.by_month],
                unit,
            ),
        ),
        (translate("report.fig_targets", lang), _targets(report, lang)),
    ]
    heading = translate("report.inventory", lang)
    return _render(report, heading, "6.3.1 f", figures, [*report.method, *report.notes], lang)


def review_html(report: ReviewReport, lang: Lang) -> str:
    unit = locale_format.unit("tCO2e", lang)
    figures = [
        (
            translate("report.fig_trend", lang),
            charts.months(
                translate("report.table.trends", lang),
                [
                    (m.month.isoformat()[:7], m.location_tco2e, m.market_tco2e, m.year_before_tco2e)
                    for m in report.trends
                ],
                unit,
            ),
        ),
        (
            translate("report.fig_causes", lang),
            charts.hbars(
                translate("report.fig_causes", lang),
                _by_cause(report, lang),
                locale_format.unit("alerts", lang),
            ),
        ),
        (
            translate("report.fig_tickets", lang),
            charts.hbars(
                translate("report.fig_tickets", lang),
                [
                    (translate(f"ticket_state.{k}", lang), float(v))
                    for k, v in report.actions.by_state.items()
                ],
                locale_format.unit("tickets", lang),
            ),
        ),
        (translate("report.fig_attainment", lang), _targets(report, lang)),
    ]
    notes = [report.audit_results, report.projection.note, *report.notes]
    heading = translate("report.review", lang)
    return _render(report, heading, "9.5.1", figures, notes, lang)


def _by_cause(report: ReviewReport, lang: Lang) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for row in report.nonconformities:
        cause = translate(f"cause.{row.cause}", lang)
        totals[cause] = totals.get(cause, 0.0) + row.alerts
    return sorted(totals.items())


def page(report: InventoryReport | ReviewReport, lang: Lang) -> str:
    """The printable page of either report, in ``lang``."""
    if isinstance(report, InventoryReport):
        return inventory_html(report, lang)
    return review_html(report, lang)
