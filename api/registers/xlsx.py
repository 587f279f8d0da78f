"""A register (or another ``SheetSpec``: the meter import) as an XLSX workbook and back: one
sheet, row 1 the column names, row 2 their zh-CN / English labels, then one record per row.

Cells are typed: dates as date cells, numbers as numbers, booleans as booleans, lists joined
with ``"; "`` (their items never hold ``;``: ``ListItem``), text made formula-safe with
``accounting.spreadsheet.formula_safe`` (undone on import by ``restored``). The bytes do not
depend on when the file was written, so exporting, importing that file and exporting again
gives the same bytes.

Reading is strict: the sheet must carry exactly known column names (an unknown or repeated one
refuses the file) and the label row is recognised and skipped; empty cells are absent fields.
"""

from __future__ import annotations

import io
import re
import types
import zipfile
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Protocol, Union, get_args, get_origin

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from pydantic import AfterValidator, BaseModel

from accounting.spreadsheet import formula_safe, restored
from api.errors import ApiError
from api.tickets.models import LongText as LongText_
from api.tickets.models import ShortText as ShortText_
from api.tickets.models import Title as Title_

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
_JOIN = "; "
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"<dcterms:(created|modified)([^>]*)>[^<]*</dcterms:\1>")


class SheetSpec(Protocol):
    """What a sheet declares: its name, its columns in order (row 1), each column's zh-CN /
    English label (row 2), and the model its rows' fields belong to (list fields among them).
    A register (``api.registers.spec.RegisterSpec``) is one; the meter import is another."""

    @property
    def sheet(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def content(self) -> type[BaseModel]: ...

    def label(self, column: str) -> str: ...


def _sheet_safe(value: str) -> str:
    # XLSX (XML 1.0) cannot hold control characters other than tab, LF and CR: a record that
    # holds one could never be exported, so it is refused when it is written.
    if ILLEGAL_CHARACTERS_RE.search(value):
        raise ValueError("text must not contain control characters (tab and newlines aside)")
    return value


def _no_separator(value: str) -> str:
    if ";" in value:
        raise ValueError("a list item must not contain ';' (the XLSX list separator)")
    return value


# Register text: what the database and an XLSX sheet can both hold.
ShortText = Annotated[ShortText_, AfterValidator(_sheet_safe)]
LongText = Annotated[LongText_, AfterValidator(_sheet_safe)]
Title = Annotated[Title_, AfterValidator(_sheet_safe)]  # may be empty, at most 500
# An item of a list field: text without the separator.
ListItem = Annotated[ShortText, AfterValidator(_no_separator)]


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(a) for a in get_args(annotation))
    return False


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Enum):
        return formula_safe(str(value.value))
    if isinstance(value, list):
        return formula_safe(_JOIN.join(str(v) for v in value)) if value else None
    if isinstance(value, datetime):
        return value.isoformat()  # Excel has no time zones: an aware time stays text
    if isinstance(value, str):
        return formula_safe(value) if value else None
    return value  # date, bool, int, float: typed cells


def export(spec: SheetSpec, rows: list[dict[str, Any]]) -> bytes:
    """The rows (by column name) as a workbook of one sheet; no rows: a template to fill in."""
    book = Workbook()
    sheet = book.active
    sheet.title = spec.sheet
    sheet.append(list(spec.columns))
    sheet.append([spec.label(c) for c in spec.columns])
    for row in rows:
        sheet.append([_cell(row[c]) for c in spec.columns])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A3"
    book.properties.created = datetime(*_FIXED_TIME)
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_times(buffer.getvalue())


def _fixed_times(data: bytes) -> bytes:
    # openpyxl stamps the save time into docProps/core.xml and every zip entry.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = _STAMP.sub(rb"<dcterms:\1\2>2020-01-01T00:00:00Z</dcterms:\1>", content)
            info = zipfile.ZipInfo(entry.filename, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return out.getvalue()


Row = tuple[int, dict[str, Any]]  # (row number in the sheet, values by column)


def read(spec: SheetSpec, data: bytes) -> list[Row]:
    """The sheet's records as field values (not validated yet); 422 for a file that is not
    this spec's sheet."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ApiError(422, f"the file is not a readable XLSX workbook: {exc}") from None
    try:
        sheets = book.sheetnames
        if spec.sheet in sheets:
            sheet = book[spec.sheet]
        elif len(sheets) == 1:
            sheet = book[sheets[0]]
        else:
            raise ApiError(422, f"the workbook has no sheet {spec.sheet!r}")
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    if not table:
        raise ApiError(422, "the sheet is empty: row 1 names the columns")
    header = [str(c).strip() if c is not None else "" for c in table[0]]
    while header and header[-1] == "":
        header.pop()
    unknown = [c for c in header if c not in spec.columns]
    if unknown:
        raise ApiError(422, f"unknown columns {unknown}; the columns are {list(spec.columns)}")
    if len(set(header)) != len(header):
        raise ApiError(422, f"a column is named twice: {header}")
    labels = [spec.label(c) for c in header]
    lists = {n for n, f in spec.content.model_fields.items() if _is_list(f.annotation)}
    rows: list[Row] = []
    for number, cells in enumerate(table[1:], start=2):
        cells = cells[: len(header)] if len(cells) >= len(header) else cells
        if number == 2 and [c for c in cells] == labels:
            continue  # the label row
        if any(c not in (None, "") for c in table[number - 1][len(header) :]):
            raise ApiError(422, f"row {number} has cells beyond the named columns")
        values = {
            name: _value(cell, name in lists)
            for name, cell in zip(header, cells, strict=False)
            if cell is not None and cell != ""
        }
        if values:
            rows.append((number, values))
    if len(rows) > MAX_ROWS:
        raise ApiError(413, f"{len(rows)} rows; a file holds at most {MAX_ROWS}")
    return rows


def _value(cell: Any, is_list: bool) -> Any:
    if isinstance(cell, str):
        text = restored(cell)
        return [item.strip() for item in text.split(";")] if is_list else text
    if isinstance(cell, datetime) and cell.time() == datetime.min.time():
        return cell.date()  # a date cell; a time of day makes it a datetime, refused by dates
    return cell
