"""The documented information of the carbon management system (Annex A, clause 7.3) as one ZIP.

- ``registers/<register>.xlsx``: every register of ``api.registers.catalogue.REGISTERS`` in its
  import form (a register added later is included without a change here);
- ``inventories/inventory-<id>.xlsx`` and ``.html``: the newest version of every stored
  inventory's boundary and period (GB/T 32150, 6.3.1 f);
- ``management-reviews/management-review-<id>.html``: every closed review (9.5);
- ``nonconformities/tickets.xlsx``: the nonconformities and their corrective or preventive
  tickets (10.1, 9.4);
- ``manifest.json``: every file with its size and sha256, and what was left out and why.

Everything is read with the caller's tenancy (an enterprise key: its own enterprise's records);
a part whose read scope the key lacks is left out and named in the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.inventories import render as inventory_render
from api.inventories import service as inventories
from api.keys import Principal, Scope
from api.management_reviews import render as review_render
from api.management_reviews import service as reviews
from api.registers import service as registers
from api.registers import xlsx as register_xlsx
from api.registers.catalogue import REGISTERS
from api.reports.render import xlsx
from api.reports.tables import Cell, Table
from store import inventories as stored_inventories

_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed entry times: the same records give the same files
MAX_TICKETS = 10_000
_TICKET_COLUMNS = (
    "ticket_id",
    "kind",
    "source_kind",
    "source_id",
    "subject_kind",
    "subject_id",
    "enterprise_id",
    "title",
    "description",
    "state",
    "cause_category",
    "opened_at",
    "closed_at",
    "dismissed_at",
)
_TICKETS = (
    "SELECT "  # noqa: S608 - the column names are the constants above
    + ", ".join(f"t.{c}" for c in _TICKET_COLUMNS)
    + " FROM ticket t WHERE (%(tenant)s::text IS NULL OR t.enterprise_id = %(tenant)s)"
    " ORDER BY t.ticket_id LIMIT %(limit)s"
)


@dataclass
class DocumentSet:
    files: dict[str, bytes] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)

    def add(self, path: str, data: bytes) -> None:
        self.files[path] = data


async def _registers(conn: AsyncConnection[Any], who: Principal, out: DocumentSet) -> None:
    for spec in REGISTERS:
        rows = await registers.export_rows(conn, spec, tenant=who.enterprise_id)
        out.add(f"registers/{spec.name}.xlsx", register_xlsx.export(spec, rows))


async def _inventories(conn: AsyncConnection[Any], who: Principal, out: DocumentSet) -> None:
    for inventory_id in await stored_inventories.current_ids(conn, tenant=who.enterprise_id):
        found = await stored_inventories.get(
            conn, inventory_id=inventory_id, tenant=who.enterprise_id
        )
        if found is None:
            continue  # cannot happen: the same tenancy, and inventories are never deleted
        inv = inventories.detail(*found)
        name = f"inventories/inventory-{inventory_id}"
        out.add(f"{name}.xlsx", inventory_render.workbook(inv))
        out.add(f"{name}.html", inventory_render.page(inv).encode())


async def _reviews(conn: AsyncConnection[Any], who: Principal, out: DocumentSet) -> None:
    for row in await reviews.closed(conn, tenant=who.enterprise_id):
        review = reviews.detail(row)
        path = f"management-reviews/management-review-{review.review_id}.html"
        out.add(path, review_render.page(review).encode())


async def _tickets(conn: AsyncConnection[Any], who: Principal, out: DocumentSet) -> None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_TICKETS, {"tenant": who.enterprise_id, "limit": MAX_TICKETS + 1})
        rows = await cur.fetchall()
    if len(rows) > MAX_TICKETS:
        out.left_out.append(f"nonconformities: tickets beyond the first {MAX_TICKETS}")
        rows = rows[:MAX_TICKETS]
    table_rows: tuple[tuple[Cell, ...], ...] = tuple(
        tuple(r[c] for c in _TICKET_COLUMNS) for r in rows
    )
    out.add("nonconformities/tickets.xlsx", xlsx([Table("tickets", _TICKET_COLUMNS, table_rows)]))


async def collect(conn: AsyncConnection[Any], who: Principal) -> DocumentSet:
    """The document set the caller may read."""
    out = DocumentSet()
    await _registers(conn, who, out)
    if Scope.INVENTORIES_READ in who.scopes:
        await _inventories(conn, who, out)
    else:
        out.left_out.append("inventories: the key lacks inventories:read")
    await _reviews(conn, who, out)
    if Scope.TICKETS_READ in who.scopes:
        await _tickets(conn, who, out)
    else:
        out.left_out.append("nonconformities: the key lacks tickets:read")
    return out


def manifest(found: DocumentSet, *, who: Principal, generated_at: datetime) -> bytes:
    body = {
        "generated_at": generated_at.isoformat(),
        "enterprise_id": who.enterprise_id,
        "files": [
            {"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for path, data in sorted(found.files.items())
        ],
        "left_out": found.left_out,
    }
    return json.dumps(body, indent=2, ensure_ascii=False).encode()


def archive(found: DocumentSet, *, who: Principal, generated_at: datetime) -> bytes:
    """The ZIP: the files in path order, then ``manifest.json``."""
    buffer = io.BytesIO()
    entries = [*sorted(found.files.items())]
    entries.append(("manifest.json", manifest(found, who=who, generated_at=generated_at)))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    return buffer.getvalue()
