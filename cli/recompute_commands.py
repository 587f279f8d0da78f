"""`parkcarbon recompute`: recompute stored CO2e windows of a period (after a park factor version
or a registry correction) with the stream worker's own computation (``stream.recompute``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from config.settings import WorkerSettings, load


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def recompute(
    first: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC), inclusive.")],
    last: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, UTC), inclusive.")],
    meter: Annotated[
        list[str] | None, typer.Option("--meter", help="Only this meter (repeatable).")
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="Only this enterprise's meters.")
    ] = None,
) -> None:
    """Recompute the stored emission windows (all widths) of a period from the stored readings
    with the current registry and factors; idempotent."""
    import psycopg
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from accounting.gwp import GwpSet
    from stream.recompute import RecomputeError, recompute, select_meters
    from stream.windows import plan_of

    start, end = _day(first), _day(last)
    settings = load(WorkerSettings)  # the worker's database and GWP set
    gwp_set = GwpSet(settings.gwp_set)
    began = datetime.now()
    try:
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
            meters = select_meters(conn, meter or [], enterprise)
            if end < start:
                raise RecomputeError(f"--to {end} is before --from {start}")
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("meter-days"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns) as progress:
                task = progress.add_task(
                    "recomputing", total=len(meters) * ((end - start).days + 1)
                )
                summary = recompute(
                    conn,
                    first=start,
                    last=end,
                    meters=meters,
                    gwp_set=gwp_set,
                    on_chunk=lambda n: progress.advance(task, n),
                    plan=plan_of(settings),
                )
    except RecomputeError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except psycopg.OperationalError as exc:
        typer.secho(f"database unavailable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    widths = ", ".join(f"{w}s: {n}" for w, n in sorted(summary.by_width.items())) or "none"
    seconds = (datetime.now() - began).total_seconds()
    typer.echo(
        f"recomputed {summary.windows} windows ({widths}) of {summary.meters} meters over"
        f" {summary.days} days in {seconds:.1f} s; {summary.changed} changed"
    )
    typer.echo(
        f"tCO2e (hour windows) {summary.tco2e_before:.6f} -> {summary.tco2e_after:.6f}"
        f" ({summary.tco2e_after - summary.tco2e_before:+.6f})"
    )


def register(app: typer.Typer) -> None:
    app.command("recompute")(recompute)
