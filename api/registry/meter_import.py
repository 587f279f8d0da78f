"""Bulk meter registration: one row per meter from an XLSX workbook (the template from
``GET /v1/meters/import-template``) or a CSV file, checked as ``POST /v1/meters`` checks one
meter (clause 4.3 boundary, GB 17167 metering points), stored all or nothing.

Each row gets a result: ``created``, ``unchanged`` (the meter is registered with the values the
row gives: importing the same file again changes nothing), or ``rejected`` with the reasons. A
meter registered with other values is rejected, not changed: a metering point changes through
``PATCH /v1/meters/{id}``, with its reason in the audit log. If any row is rejected nothing is
stored and the other rows read ``valid``. Rows are applied in file order, so a sub-meter's
parent comes before it.
"""

from __future__ import annotations

import csv
import io
import types
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union, get_args, get_origin

from psycopg import AsyncConnection
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from api.errors import ApiError
from api.registers import xlsx
from api.registry import rows, service
from api.registry.models import MeterCreate

CSV_MEDIA_TYPE = "text/csv"

# Column order of the template: the meter and its owner first, then as MeterFields lists them.
_FIRST = ("meter_id", "enterprise_id")
COLUMNS = (*_FIRST, *(f for f in MeterCreate.model_fields if f not in _FIRST))
LABELS = {
    "meter_id": "计量点编号 / Meter id",
    "enterprise_id": "企业 / Enterprise",
    "site_id": "场所 / Site",
    "name": "名称 / Name",
    "carrier": "能源品种 / Energy carrier",
    "unit": "计量单位 / Unit",
    "register_kind": "读数类型 / Register kind",
    "source_category": "排放源类别 / Source category",
    "multiplier": "倍率 / Multiplier (CT/PT ratio)",
    "rollover": "满量程翻转值 / Rollover",
    "range_min": "量程下限 / Range min",
    "range_max": "量程上限 / Range max",
    "expected_interval_s": "采集周期 (s) / Expected interval (s)",
    "accuracy_class": "准确度等级 / Accuracy class",
    "metering_level": "计量级别 / Metering level",
    "accuracy_category": "准确度要求类别 / Accuracy category",
    "calibration_due": "检定有效期至 / Calibration due",
    "factor_key": "排放因子系列 / Factor series",
    "in_boundary": "在核算边界内 / In the boundary",
    "parent_meter_id": "上级计量点 / Parent meter",
    "role": "用途 / Role",
    "max_rate_per_h": "每小时最大量 / Max per hour",
    "installed_at": "投用时间 / Installed at",
    "serial": "出厂编号 / Serial",
}
assert set(LABELS) == set(COLUMNS), "label every meter column"


@dataclass(frozen=True, slots=True)
class MeterSheet:
    """The meter import's sheet, for ``api.registers.xlsx`` (one XLSX writer and reader)."""

    sheet: str = "meters"
    columns: tuple[str, ...] = COLUMNS
    content: type[BaseModel] = MeterCreate

    def label(self, column: str) -> str:
        return LABELS[column]


SHEET = MeterSheet()


class MeterRowResult(BaseModel):
    row: int = Field(description="The row's number in the file (1: the column names)")
    outcome: str = Field(description="created, unchanged, valid or rejected")
    meter_id: str | None = None
    errors: list[str] = Field(default_factory=list)


class MeterImportResult(BaseModel):
    stored: bool
    created: int
    unchanged: int
    rows: list[MeterRowResult]


def template() -> bytes:
    """The XLSX template: the column names and their labels, no meter."""
    return xlsx.export(SHEET, [])


def csv_template() -> bytes:
    """The same columns as CSV (UTF-8 with a byte order mark, as spreadsheet programs expect)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([LABELS[c] for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def read_csv(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file as text values by column; UTF-8 (with or without a byte order mark)
    or GB 18030 (what a spreadsheet program saves on a Chinese system). 422 for another file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ApiError(422, "the CSV file is neither UTF-8 nor GB 18030 text") from None
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a cell beyond the field size limit: not a meter table
        raise ApiError(422, f"the file is not a readable CSV table: {exc}") from None
    if not table:
        raise ApiError(422, "the file is empty: row 1 names the columns")
    header = [c.strip() for c in table[0]]
    while header and header[-1] == "":
        header.pop()
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ApiError(422, f"unknown columns {unknown}; the columns are {list(COLUMNS)}")
    if len(set(header)) != len(header):
        raise ApiError(422, f"a column is named twice: {header}")
    labels = [LABELS[c] for c in header]
    found: list[tuple[int, dict[str, Any]]] = []
    for number, cells in enumerate(table[1:], start=2):
        if number == 2 and [c.strip() for c in cells[: len(header)]] == labels:
            continue  # the label row
        if any(c.strip() for c in cells[len(header) :]):
            raise ApiError(422, f"row {number} has cells beyond the named columns")
        values = {n: c.strip() for n, c in zip(header, cells, strict=False) if c.strip()}
        if values:
            found.append((number, values))
    if len(found) > xlsx.MAX_ROWS:
        raise ApiError(413, f"{len(found)} rows; a file holds at most {xlsx.MAX_ROWS}")
    return found


def _scalar(annotation: Any) -> Any:
    """``float | None`` -> ``float``: the type a cell of that field holds."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else annotation
    return annotation


_LAX: dict[type, TypeAdapter[Any]] = {
    float: TypeAdapter(float),
    int: TypeAdapter(int),
    bool: TypeAdapter(bool),
}


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """Cell values as the model's strict fields take them: a number or a yes/no written as text
    (every CSV cell, an XLSX cell typed as text) is parsed; 900.0 in an integer field is 900.
    What does not parse is left as it is, for validation to name."""
    out = dict(values)
    for name, value in values.items():
        field = MeterCreate.model_fields.get(name)
        kind = _scalar(field.annotation) if field is not None else None
        adapter = _LAX.get(kind) if isinstance(kind, type) else None
        if adapter is None:
            continue
        try:
            if isinstance(value, str) or (kind is int and isinstance(value, float)):
                out[name] = adapter.validate_python(value)
        except ValidationError:
            pass
    return out


def _stored_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _differences(given: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The fields the row gives that the registered meter holds otherwise."""
    out = []
    for name, value in given.items():
        want, have = _stored_value(value), stored.get(name)
        same = want == have  # dates and aware times compare as instants, 1 == 1.0
        if not same:
            out.append(f"{name}: registered {have!r}, file {want!r}")
    return out


class _Rejected(Exception):  # noqa: N818 - rolls the import's transaction back
    pass


def _messages(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]


async def _one(
    conn: AsyncConnection[Any],
    number: int,
    values: dict[str, Any],
    seen: dict[str, int],
    actor: str,
) -> MeterRowResult:
    try:
        body = MeterCreate.model_validate(_typed(values))
    except ValidationError as exc:
        return MeterRowResult(
            row=number, outcome="rejected", meter_id=values.get("meter_id"), errors=_messages(exc)
        )
    if body.meter_id in seen:
        return MeterRowResult(
            row=number,
            outcome="rejected",
            meter_id=body.meter_id,
            errors=[f"meter_id {body.meter_id!r} is on row {seen[body.meter_id]} already"],
        )
    seen[body.meter_id] = number
    current = await rows.one(conn, "meter", "meter_id", body.meter_id)
    if current is not None:
        differ = _differences(body.model_dump(exclude_unset=True), current)
        if not differ:
            return MeterRowResult(row=number, outcome="unchanged", meter_id=body.meter_id)
        return MeterRowResult(
            row=number,
            outcome="rejected",
            meter_id=body.meter_id,
            errors=[
                f"meter {body.meter_id!r} is registered with other values"
                f" (change it with PATCH /v1/meters/{body.meter_id}): {'; '.join(differ)}"
            ],
        )
    try:
        async with conn.transaction():  # a savepoint: a refused row leaves the others intact
            await service.create_meter(conn, body=body, actor=actor)
    except ApiError as exc:
        return MeterRowResult(
            row=number, outcome="rejected", meter_id=body.meter_id, errors=[exc.detail]
        )
    return MeterRowResult(row=number, outcome="created", meter_id=body.meter_id)


async def import_meters(
    conn: AsyncConnection[Any], found: Sequence[tuple[int, dict[str, Any]]], *, actor: str
) -> MeterImportResult:
    """Register every row's meter, or none (see the module's docstring)."""
    results: list[MeterRowResult] = []
    seen: dict[str, int] = {}
    try:
        async with conn.transaction():
            for number, values in found:
                results.append(await _one(conn, number, values, seen, actor))
            if any(r.outcome == "rejected" for r in results):
                raise _Rejected
    except _Rejected:
        for r in results:
            if r.outcome != "rejected":
                r.outcome = "valid"
        return MeterImportResult(stored=False, created=0, unchanged=0, rows=results)
    return MeterImportResult(
        stored=True,
        created=sum(r.outcome == "created" for r in results),
        unchanged=sum(r.outcome == "unchanged" for r in results),
        rows=results,
    )
