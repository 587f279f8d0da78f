"""`parkcarbon report inventory|review`: the period inventory (clause 6.3.1) and the
management-review inputs (9.5.1) written to a file, with a progress bar while they build.

Formats: html (printable, self-contained), csv (a zip with one CSV per table), xlsx (one sheet
per table), json (as the API returns it).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from config.settings import CommonSettings, load

report_app = typer.Typer(no_args_is_help=True, help="Reports: inventory (6.3.1), review (9.5.1).")

PeriodOpt = Annotated[
    str | None, typer.Option(help="A local year (2026) or month (2026-03); or --from and --to.")
]
FromOpt = Annotated[
    datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], help="First local day (with --to)."),
]
ToOpt = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last local day, included.")
]
ParkOpt = Annotated[str | None, typer.Option(help="The park (default: the only one).")]
EnterpriseOpt = Annotated[str | None, typer.Option(help="One enterprise's report.")]
FormatOpt = Annotated[
    str, typer.Option("--format", help="html | csv (zip of tables) | xlsx | json")
]
LangOpt = Annotated[
    str,
    typer.Option("--lang", help="Language of the html report: zh-CN (default) or en."),
]
OutOpt = Annotated[
    Path | None, typer.Option(help="The file to write (default: a name from the report).")
]


def _fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _generate(
    kind: str,
    period: str | None,
    first: datetime | None,
    last: datetime | None,
    park: str | None,
    enterprise: str | None,
    fmt: str,
    out: Path | None,
    lang: str = "zh-CN",
) -> None:
    from psycopg import AsyncConnection, OperationalError
    from rich.progress import Progress

    from accounting.i18n import parse_lang
    from accounting.report_period import ReportPeriodError, parse_period, period_between
    from api.reports import review, service
    from api.reports.output import file_name, render
    from api.reports.render import Format
    from store.reports import park_info

    try:
        chosen = Format(fmt)
    except ValueError:
        _fail(f"unknown format {fmt!r}: html, csv, xlsx or json")
        return
    try:
        language = parse_lang(lang)
    except ValueError as exc:
        _fail(str(exc))
        return
    try:
        if period is not None and first is None and last is None:
            span = parse_period(period)
        elif period is None and first is not None and last is not None:
            span = period_between(first.date(), last.date())
        else:
            _fail("give either --period (2026 or 2026-03) or both --from and --to")
            return
    except ReportPeriodError as exc:
        _fail(str(exc))
        return
    settings = load(CommonSettings)
    steps = service.INVENTORY_STEPS if kind == "inventory" else review.REVIEW_STEPS

    async def build(progress: Progress, task: Any) -> bytes | None:
        def step(name: str) -> None:
            progress.update(task, advance=1, description=name)

        async with await AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            found = await park_info(conn, park_id=park, enterprise_id=enterprise)
            if found is None:
                return None
            build_report = service.inventory if kind == "inventory" else review.review
            report = await build_report(
                conn, park=found, enterprise_id=enterprise, period=span, step=step
            )
        progress.update(task, description=f"rendering {chosen.value}")
        body = await asyncio.to_thread(render, report, chosen, language)
        nonlocal out
        out = out or Path(file_name(report, chosen))
        progress.update(task, advance=1, description=f"written {out}")
        return body

    with Progress(transient=False) as progress:
        task = progress.add_task("connecting", total=steps + 1)
        try:
            body = asyncio.run(build(progress, task))
        except OperationalError as exc:
            _fail(f"database unavailable: {exc}", 1)
            return
        except service.NotAccountableError as exc:
            _fail(f"the inventory cannot be computed: {exc}")
            return
    if body is None:
        what = f"enterprise {enterprise!r}" if enterprise else f"park {park!r}"
        _fail(f"no such {what}" if enterprise or park else "several parks: name one with --park")
        return
    assert out is not None
    out.write_bytes(body)
    typer.echo(f"{out} ({len(body)} bytes)")


@report_app.command("inventory")
def inventory(
    period: PeriodOpt = None,
    first: FromOpt = None,
    to: ToOpt = None,
    park: ParkOpt = None,
    enterprise: EnterpriseOpt = None,
    fmt: FormatOpt = "html",
    out: OutOpt = None,
    lang: LangOpt = "zh-CN",
) -> None:
    """The period's GHG inventory (clause 6.3.1): by source, ISO category, gas and enterprise;
    electricity location- and market-based; intensity; baseline and targets; data quality."""
    _generate("inventory", period, first, to, park, enterprise, fmt, out, lang)


@report_app.command("review")
def review_inputs(
    period: PeriodOpt = None,
    first: FromOpt = None,
    to: ToOpt = None,
    park: ParkOpt = None,
    enterprise: EnterpriseOpt = None,
    fmt: FormatOpt = "html",
    out: OutOpt = None,
    lang: LangOpt = "zh-CN",
) -> None:
    """Management-review inputs (clause 9.5.1): status of actions, trends, nonconformities,
    monitoring results, target attainment."""
    _generate("review", period, first, to, park, enterprise, fmt, out, lang)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
