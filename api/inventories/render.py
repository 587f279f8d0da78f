"""A stored inventory as a workbook or a printable page, in the structure of a GB/T 32150
enterprise report: reporting entity and boundary, period, emission sources, activity data and
their sources, emission factors and their sources, emissions by category and gas, removals, data
quality and, for the park, the roll-up by enterprise.

The XLSX has one sheet per section (``api.reports.render.xlsx``, numbers at full precision);
the HTML is one self-contained page (no script, no external resource) with the figures at three
decimals and the exact value of each in ``data-v``.
"""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment

from accounting.i18n import DEFAULT_LANG, Lang, catalogue, translate
from api.inventories.enums import Boundary
from api.inventories.models import InventoryOut
from api.reports import charts
from api.reports.render import xlsx
from api.reports.tables import Cell, Table


def sections(inv: InventoryOut) -> list[Table]:
    """The report's sections as tables (the enterprise roll-up for a park's inventory only)."""
    c = inv.content
    entity: list[tuple[Cell, ...]] = [
        ("inventory_id", inv.inventory_id),
        ("version", inv.version),
        ("supersedes", inv.supersedes),
        ("state", inv.state.value),
        ("content_sha256", inv.content_sha256),
        ("created_by", inv.created_by),
        ("created_at", inv.created_at),
        ("standard", c.standard),
        ("park", f"{c.entity.park_name} ({c.entity.park_id})"),
        ("boundary", c.entity.boundary.value),
        ("enterprise", c.entity.enterprise_id),
        *(
            ("enterprise_in_boundary", f"{e.name} ({e.enterprise_id})")
            for e in c.entity.enterprises
        ),
        ("gwp_set", c.gwp_set),
        ("gross_location_tco2e", c.totals.location_tco2e),
        ("gross_market_tco2e", c.totals.market_tco2e),
        ("removals_tco2", c.totals.removals_tco2),
        *(("method", m) for m in c.method),
        *(("note", n) for n in c.notes),
    ]
    period: list[tuple[Cell, ...]] = [
        ("label", c.period.label),
        ("first_local_day", c.period.start),
        ("last_local_day", c.period.end),
        ("timezone", c.period.timezone),
    ]
    out = [
        Table("entity", ("item", "value"), tuple(entity)),
        Table("period", ("item", "value"), tuple(period)),
        Table(
            "sources",
            ("enterprise_id", "source_category", "iso_category", "carrier", "material", "origins"),
            tuple(
                (
                    s.enterprise_id,
                    s.source_category,
                    s.iso_category,
                    s.carrier,
                    s.material,
                    ", ".join(s.origins),
                )
                for s in c.emission_sources
            ),
        ),
        Table(
            "activity",
            (
                "enterprise_id",
                "source_category",
                "carrier",
                "material",
                "basis",
                "origin",
                "activity",
                "activity_unit",
            ),
            tuple(
                dict.fromkeys(
                    (
                        ln.enterprise_id,
                        ln.source_category,
                        ln.carrier,
                        ln.material,
                        ln.basis,
                        ln.origin,
                        ln.activity,
                        ln.activity_unit,
                    )
                    for ln in c.lines
                )
            ),
        ),
        Table(
            "activity_records",
            (
                "record",
                "enterprise_id",
                "source_category",
                "carrier",
                "material",
                "quantity",
                "unit",
                "period_start",
                "period_end",
                "share",
                "document_ref",
                "evidence_sha256",
                "replaces_meters",
            ),
            tuple(
                (
                    r.record,
                    r.enterprise_id,
                    r.source_category,
                    r.carrier,
                    r.material,
                    r.quantity,
                    r.unit,
                    r.period_start,
                    r.period_end,
                    r.share,
                    r.document_ref,
                    r.evidence_sha256,
                    ", ".join(r.replaces_meters),
                )
                for r in c.activity_records
            ),
        ),
        Table(
            "factors",
            (
                "enterprise_id",
                "source_category",
                "carrier",
                "material",
                "origin",
                "gas",
                "factor",
                "factor_unit",
                "gwp",
                "factor_versions",
                "factor_sources",
                "gwp_source",
            ),
            tuple(
                (
                    ln.enterprise_id,
                    ln.source_category,
                    ln.carrier,
                    ln.material,
                    ln.origin,
                    ln.gas,
                    ln.factor,
                    ln.factor_unit,
                    ln.gwp,
                    ", ".join(ln.factor_versions),
                    "; ".join(ln.factor_sources),
                    ln.gwp_source,
                )
                for ln in c.lines
            ),
        ),
        Table(
            "emissions",
            (
                "enterprise_id",
                "source_category",
                "iso_category",
                "carrier",
                "material",
                "basis",
                "origin",
                "activity",
                "activity_unit",
                "gas",
                "tonnes",
                "tco2e",
            ),
            tuple(
                (
                    ln.enterprise_id,
                    ln.source_category,
                    ln.iso_category,
                    ln.carrier,
                    ln.material,
                    ln.basis,
                    ln.origin,
                    ln.activity,
                    ln.activity_unit,
                    ln.gas,
                    ln.tonnes,
                    ln.tco2e,
                )
                for ln in c.lines
            ),
        ),
        Table(
            "by_category",
            ("source_category", "location_tco2e", "market_tco2e"),
            tuple((b.key, b.location_tco2e, b.market_tco2e) for b in c.by_source_category),
        ),
        Table(
            "by_iso_category",
            ("iso_category", "location_tco2e", "market_tco2e"),
            tuple((b.key, b.location_tco2e, b.market_tco2e) for b in c.by_iso_category),
        ),
        Table(
            "by_gas",
            ("gas", "location_tco2e", "market_tco2e"),
            tuple((g.gas, g.location_tco2e, g.market_tco2e) for g in c.by_gas),
        ),
        Table(
            "removals",
            (
                "enterprise_id",
                "source_category",
                "iso_category",
                "origin",
                "tco2_removed",
                "method_note",
            ),
            tuple(
                (
                    r.enterprise_id,
                    r.source_category,
                    r.iso_category,
                    r.origin,
                    r.tco2_removed,
                    r.method_note,
                )
                for r in c.removals
            ),
        ),
        Table(
            "quality",
            ("item", "value"),
            (
                ("completeness", c.quality.completeness),
                ("window_completeness", c.quality.window_completeness),
                ("windows", c.quality.windows),
                ("interpolated_windows", c.quality.interpolated_windows),
                ("unfactored_windows", c.quality.unfactored_windows),
                ("rejected_readings", c.quality.rejected_readings),
                *((f"rejected: {k}", v) for k, v in c.quality.rejects_by_reason.items()),
                *(
                    (f"excluded meter {x.meter_id}", f"{x.record}: {x.starts_at} to {x.ends_at}")
                    for x in c.excluded_meters
                ),
            ),
        ),
    ]
    out.extend(_energy(inv))
    if c.entity.boundary is Boundary.PARK:
        out.append(
            Table(
                "enterprises",
                ("enterprise_id", "location_tco2e", "market_tco2e", "removals_tco2"),
                tuple(
                    (e.enterprise_id, e.location_tco2e, e.market_tco2e, e.removals_tco2)
                    for e in c.by_enterprise
                ),
            )
        )
    return out


def _energy(inv: InventoryOut) -> list[Table]:
    """tce by carrier (the boundary's, then each enterprise's) and per output; none for an
    inventory stored before energy was part of the content."""
    energy = inv.content.energy
    if energy is None:
        return []
    head = ("enterprise_id", "carrier", "activity", "unit", "tce", "coefficient_versions")
    carriers: list[tuple[Cell, ...]] = [
        (None, c.carrier, c.activity, c.unit, c.tce, ", ".join(c.coefficient_versions))
        for c in energy.by_carrier
    ]
    carriers += [
        (e.enterprise_id, c.carrier, c.activity, c.unit, c.tce, ", ".join(c.coefficient_versions))
        for e in energy.by_enterprise
        for c in e.by_carrier
    ]
    carriers.append(("total", None, None, None, energy.tce, None))
    carriers.append(("electricity convention", energy.electricity_convention, *(None,) * 4))
    return [
        Table("energy", head, tuple(carriers)),
        Table(
            "energy_by_enterprise",
            ("enterprise_id", "tce", "tce_per_t_product", "tce_per_cny_10k"),
            tuple(
                (e.enterprise_id, e.tce, e.tce_per_t_product, e.tce_per_cny_10k)
                for e in energy.by_enterprise
            ),
        ),
    ]


def workbook(inv: InventoryOut) -> bytes:
    """One sheet per section; text cells that a spreadsheet would run as a formula are quoted
    (``api.reports.render.xlsx``)."""
    return xlsx(sections(inv))


_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ tr("inventory.title", park=c.entity.park_name, label=c.period.label,
version=inv.version) }}</title>
<style>
body { font: 13px/1.4 "DejaVu Sans", Arial, sans-serif; color: #222; margin: 2em; }
h1 { font-size: 20px; margin: 0 0 .2em; } h2 { font-size: 15px; margin: 1.4em 0 .4em; }
.meta { color: #555; } table { border-collapse: collapse; margin: .3em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #eef3f6; }
.na { color: #a33; }
@media print {
  body { margin: 0; font-size: 10px; } @page { size: A4 landscape; margin: 12mm; }
  section { break-inside: avoid-page; } h2 { break-after: avoid; }
  table { font-size: 8px; } thead { display: table-header-group; } tr { break-inside: avoid; }
}
</style></head><body>
<header><h1>{{ tr("inventory.heading", entity=entity) }}</h1>
<p class="meta">{{ tr("inventory.meta", standard=c.standard, label=c.period.label,
start=c.period.start, end=c.period.end, timezone=c.period.timezone, version=inv.version,
state=tr("inventory.state." ~ inv.state.value),
stored=inv.created_at.strftime("%Y-%m-%d %H:%M UTC"), by=inv.created_by) }}{% if inv.supersedes
%} &middot; {{ tr("inventory.supersedes", inventory=inv.supersedes) }}{% endif %}
&middot; sha256 {{ inv.content_sha256 }}</p></header>
{% if chart %}<section><h2>{{ tr("inventory.chart") }}</h2>{{ chart|safe }}</section>{% endif %}
{% for t in tables %}<section><h2>{{ tr("inventory.section." ~ t.name) }}</h2>
{% if t.rows %}<table><thead><tr>{% for col in t.columns %}<th>{{ tr("report.col." ~ col) }}</th>{%
endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for v in row %}{% set k, exact, text = cell(v, t.name, loop.index0)
%}<td{% if k %} class="{{ k }}"{% endif %}{% if exact %} data-v="{{ exact }}"{% endif %}>{{ text
}}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p class="meta">{{ tr("inventory.none") }}</p>{% endif %}
</section>
{% endfor %}</body></html>
"""
_env = Environment(autoescape=True, keep_trailing_newline=True)
_template = _env.from_string(_TEMPLATE)


def _cell(value: Cell) -> tuple[str, str, str]:
    """(css class, exact value or "", text shown) of one cell."""
    if value is None:
        return "na", "", "n/a"
    if isinstance(value, bool):
        return "", "", "yes" if value else "no"
    if isinstance(value, float):
        return (
            "n",
            repr(value),
            f"{value:,.3f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}",
        )
    if isinstance(value, int):
        return "n", "", str(value)
    if isinstance(value, datetime):
        return "", "", value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return "", "", value.isoformat()
    return "", "", str(value)


# The first column of these sections names an item (a key in the XLSX, words on the page).
_ITEM_SECTIONS = frozenset({"entity", "period", "quality"})


def page(inv: InventoryOut, lang: Lang = DEFAULT_LANG) -> str:
    """The printable page in ``lang``: every section of ``sections`` under its GB/T 32150
    heading, headings, column names and item names from the catalogue."""
    chart = charts.hbars(
        "by source category",
        [(b.key, b.location_tco2e) for b in inv.content.by_source_category],
        "tCO2e",
    )

    def tr(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    def cell(value: Cell, table: str, column: int) -> tuple[str, str, str]:
        if value is None:
            return "na", "", tr("common.not_available")
        if isinstance(value, bool):
            return "", "", tr("common.yes" if value else "common.no")
        if table in _ITEM_SECTIONS and column == 0 and isinstance(value, str):
            key = f"inventory.item.{value}"
            # a fixed item's name; a per-reason or per-meter line keeps its code and id
            return "", "", tr(key) if key in catalogue() else value
        return _cell(value)

    c = inv.content
    entity = c.entity.park_name
    if c.entity.enterprise_id:
        entity += f", {c.entity.enterprise_name or c.entity.enterprise_id}"
    return _template.render(
        inv=inv,
        c=c,
        chart=chart,
        tables=sections(inv),
        cell=cell,
        tr=tr,
        lang=lang.value,
        entity=entity,
    )
