"""A report in one of its formats, as bytes, and the file name it goes by (API and CLI)."""

from __future__ import annotations

from accounting.i18n import DEFAULT_LANG, Lang
from api.reports.html import page
from api.reports.models import InventoryReport, ReviewReport
from api.reports.render import EXTENSIONS, Format, csv_zip, xlsx
from api.reports.tables import tables


def render(report: InventoryReport | ReviewReport, fmt: Format, lang: Lang = DEFAULT_LANG) -> bytes:
    """JSON as the API returns it, CSV (a zip: one CSV per table), XLSX or printable HTML (in
    ``lang``; the CSV and XLSX columns are the JSON field names, the same in every language)."""
    if fmt is Format.JSON:
        return report.model_dump_json(indent=2).encode()
    if fmt is Format.HTML:
        return page(report, lang).encode()
    if fmt is Format.CSV:
        return csv_zip(tables(report))
    return xlsx(tables(report))


def file_name(report: InventoryReport | ReviewReport, fmt: Format) -> str:
    """``inventory-<park or enterprise>-<period>.<ext>``, safe as a file name."""
    who = report.enterprise_id or report.park_id
    label = report.period.label.replace("..", "_")
    return f"{report.report}-{who}-{label}.{EXTENSIONS[fmt]}".replace("/", "_")
