"""`parkcarbon report inventory|review` writes the report file (clauses 6.3.1, 9.5)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import openpyxl
import pytest
import typer
from typer.testing import CliRunner

from cli.report_commands import register
from tests.api.test_reports_data import seed

pytestmark = pytest.mark.integration

LOC = 0.5306 + 0.2653 + 0.228 + 1.0612  # March 2026 of the seeded park, by hand


@pytest.fixture(scope="module")
def park(database_url: str) -> dict[str, str]:
    return seed(database_url, uuid.uuid4().hex[:8])


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps "report" a subcommand group
    register(app)
    return app


def _run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        _app(), ["report", *args], env={"PARKCARBON_DATABASE_URL": database_url}
    )
    return result.exit_code, result.output


def test_report_inventory_writes_the_xlsx_with_the_hand_computed_total(
    database_url: str, park: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "inventory.xlsx"
    code, output = _run(
        database_url,
        "inventory",
        "--period",
        "2026-03",
        "--park",
        park["park"],
        "--format",
        "xlsx",
        "--out",
        str(out),
    )
    assert code == 0, output
    assert f"{out} (" in output
    sheet = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))["summary"]
    summary = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert summary["totals.location_tco2e"] == pytest.approx(LOC, abs=1e-9)
    assert summary["totals.removals_tco2"] == 1.5


def test_report_review_writes_json_html_and_csv(
    database_url: str, park: dict[str, str], tmp_path: Path
) -> None:
    for fmt, name in (("json", "r.json"), ("html", "r.html"), ("csv", "r.csv.zip")):
        out = tmp_path / name
        code, output = _run(
            database_url,
            "review",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--park",
            park["park"],
            "--format",
            fmt,
            "--out",
            str(out),
        )
        assert code == 0, output
    body = json.loads((tmp_path / "r.json").read_text())
    assert body["report"] == "review" and body["actions"]["by_state"] == {"open": 1}
    assert "<h1>管理评审输入:" in (tmp_path / "r.html").read_text()  # zh-CN unless asked
    english = tmp_path / "r-en.html"
    code, output = _run(
        database_url,
        "review",
        "--period",
        "2026-03",
        "--park",
        park["park"],
        "--lang",
        "en",
        "--out",
        str(english),
    )
    assert code == 0, output
    assert "<h1>Management review inputs:" in english.read_text()
    code, output = _run(database_url, "review", "--period", "2026-03", "--lang", "fr")
    assert code == 2 and "'fr' is not one of: en, zh-CN" in output
    with zipfile.ZipFile(tmp_path / "r.csv.zip") as archive:
        assert "trends.csv" in archive.namelist()


def test_report_refuses_a_bad_period_or_an_unknown_park(
    database_url: str, park: dict[str, str], tmp_path: Path
) -> None:
    code, output = _run(database_url, "inventory", "--period", "26", "--park", park["park"])
    assert code == 2 and "neither a year" in output
    code, output = _run(
        database_url,
        "inventory",
        "--period",
        "2026",
        "--park",
        "no-such-park",
        "--out",
        str(tmp_path / "x.html"),
    )
    assert code == 2 and "no such park" in output
    assert not (tmp_path / "x.html").exists()
