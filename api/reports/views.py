"""``/v1/reports``: the period inventory (clause 6.3.1) and the management-review inputs (9.5.1)
as JSON, CSV (a zip of one CSV per table), XLSX (one sheet per table) or printable HTML.

An enterprise key gets its own enterprise's report only: naming another enterprise, or a park
that is not its own, is 404, as for any object it cannot see.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from accounting.i18n import DEFAULT_LANG, Lang, negotiate, parse_lang
from accounting.report_period import ReportPeriod, ReportPeriodError, parse_period, period_between
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import IdText
from api.reports import review, service
from api.reports.models import InventoryReport, ReviewReport
from api.reports.output import file_name, render
from api.reports.render import MEDIA_TYPES, Format
from store.reports import ParkInfo, park_info

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(require(Scope.REPORTS_READ))]

PeriodQ = Annotated[
    str | None,
    Query(description="A local year `2026` or month `2026-03`; or give `from` and `to` instead"),
]
# Dates and format are read here, not by FastAPI, so a bad one is a problem document like the rest.
FromQ = Annotated[
    str | None,
    Query(
        alias="from", description="First local day, YYYY-MM-DD (with `to`)", examples=["2026-01-01"]
    ),
]
ToQ = Annotated[
    str | None,
    Query(
        description="Last local day, included, YYYY-MM-DD (with `from`)", examples=["2026-03-31"]
    ),
]
ParkQ = Annotated[
    IdText | None,
    Query(description="The park; may be left out when there is one, or with enterprise"),
]
EnterpriseQ = Annotated[
    IdText | None,
    Query(description="One enterprise's report (an enterprise key: its own, the default)"),
]
FormatQ = Annotated[
    str,
    Query(
        alias="format",
        description="json; csv (a zip: one CSV per table); xlsx (one sheet per table); html",
        json_schema_extra={"enum": [f.value for f in Format]},
    ),
]
LangQ = Annotated[
    str | None,
    Query(
        description="Language of the HTML report: en or zh-CN (default: Accept-Language, then"
        " the park's language, then zh-CN)",
        examples=["zh-CN"],
    ),
]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language", include_in_schema=False)]
_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report in the requested format",
        "content": {MEDIA_TYPES[f]: {} for f in (Format.CSV, Format.XLSX, Format.HTML)},
    }
}
_ERRORS = problems(401, 403, 404, 422, 503)


def read_period(period: str | None, first: str | None, last: str | None) -> ReportPeriod:
    """The period from ``period`` or from ``from``/``to``: exactly one of the two ways."""
    try:
        if period is not None and first is None and last is None:
            return parse_period(period)
        if period is None and first is not None and last is not None:
            return period_between(_day("from", first), _day("to", last))
    except ReportPeriodError as exc:
        raise ApiError(422, str(exc)) from exc
    raise ApiError(422, "give either period (2026 or 2026-03) or both from and to dates")


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportPeriodError(f"{name} {text!r} is not a date (YYYY-MM-DD)") from None


def read_format(text: str) -> Format:
    try:
        return Format(text)
    except ValueError:
        allowed = [f.value for f in Format]
        raise ApiError(422, f"format {text!r} is not one of {allowed}", allowed=allowed) from None


async def _scope(
    conn: DbDep, who: Principal, park_id: str | None, enterprise_id: str | None
) -> tuple[ParkInfo, str | None]:
    if who.enterprise_id is not None:
        if enterprise_id is not None and enterprise_id != who.enterprise_id:
            raise ApiError(404, f"no enterprise {enterprise_id!r}")
        enterprise_id = who.enterprise_id
    park = await park_info(conn, park_id=park_id, enterprise_id=enterprise_id)
    if park is not None:
        return park, enterprise_id
    if enterprise_id is not None:
        raise ApiError(
            404,
            f"no enterprise {enterprise_id!r} in park {park_id!r}"
            if park_id
            else f"no enterprise {enterprise_id!r}",
        )
    if park_id is not None:
        raise ApiError(404, f"no park {park_id!r}")
    raise ApiError(422, "several parks (or none) are registered: name one with park=")


# park.language is a park setting a schema may not have yet: read through jsonb, so this works
# with or without it.
_PARK_LANGUAGE = "SELECT to_jsonb(p) ->> 'language' FROM park p WHERE p.park_id = %s"


async def read_lang(
    conn: DbDep, park_id: str, asked: str | None, accept_language: str | None
) -> Lang:
    """``?lang=`` if given (a bad one is 422), else Accept-Language, else the park's language,
    else zh-CN."""
    if asked is not None:
        try:
            return parse_lang(asked)
        except ValueError as exc:
            allowed = [lang.value for lang in Lang]
            raise ApiError(422, str(exc), allowed=allowed) from None
    row = await (await conn.execute(_PARK_LANGUAGE, (park_id,))).fetchone()
    try:
        default = parse_lang(row[0]) if row and row[0] else DEFAULT_LANG
    except ValueError:
        default = DEFAULT_LANG
    return negotiate(accept_language, default)


async def _answer(
    report: InventoryReport | ReviewReport, fmt: Format, lang: Lang = DEFAULT_LANG
) -> Response:
    if fmt is Format.JSON:
        return Response(report.model_dump_json(), media_type=MEDIA_TYPES[fmt])
    # Rendering a year's workbook takes a while: off the event loop.
    body = await asyncio.to_thread(render, report, fmt, lang)
    disposition = "inline" if fmt is Format.HTML else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{file_name(report, fmt)}"',
        "Content-Language": lang.value,
        "Vary": "Accept-Language",
    }
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get(
    "/inventory",
    response_model=InventoryReport,
    responses={**_FILES, **_ERRORS},
    summary="The period's GHG inventory",
)
async def inventory(
    conn: DbDep,
    who: Reader,
    period: PeriodQ = None,
    first: FromQ = None,
    to: ToQ = None,
    park: ParkQ = None,
    enterprise: EnterpriseQ = None,
    fmt: FormatQ = Format.JSON.value,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Gross emissions by source category, ISO 14064-1 category, gas and enterprise;
    electricity location- and market-based side by side; intensity; baseline and targets;
    factor versions used; data quality; sinks apart, never netted (clause 6.3.1 f)."""
    span, chosen = read_period(period, first, to), read_format(fmt)
    found, enterprise_id = await _scope(conn, who, park, enterprise)
    try:
        report = await service.inventory(conn, park=found, enterprise_id=enterprise_id, period=span)
    except service.NotAccountableError as exc:
        raise ApiError(422, f"the inventory cannot be computed: {exc}") from exc
    language = await read_lang(conn, found.park_id, lang, accept_language)
    return await _answer(report, chosen, language)


@router.get(
    "/review",
    response_model=ReviewReport,
    responses={**_FILES, **_ERRORS},
    summary="Management-review inputs (clause 9.5.1)",
)
async def management_review(
    conn: DbDep,
    who: Reader,
    period: PeriodQ = None,
    first: FromQ = None,
    to: ToQ = None,
    park: ParkQ = None,
    enterprise: EnterpriseQ = None,
    fmt: FormatQ = Format.JSON.value,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Status of corrective actions (tickets), monthly trends against the year before and a
    projection, nonconformities by cause, monitoring results, baseline and target attainment."""
    span, chosen = read_period(period, first, to), read_format(fmt)
    found, enterprise_id = await _scope(conn, who, park, enterprise)
    language = await read_lang(conn, found.park_id, lang, accept_language)
    report = await review.review(conn, park=found, enterprise_id=enterprise_id, period=span)
    return await _answer(report, chosen, language)
