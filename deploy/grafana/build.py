"""Generate the dashboards' JSON (``parkcarbon grafana build``) and check the committed files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from accounting.i18n import Lang
from deploy.grafana import DASHBOARD_DIR
from deploy.grafana.dashboards import BOARDS, Board
from deploy.grafana.localize import localize
from deploy.grafana.queries import Expectation


@dataclass(frozen=True)
class Generated:
    uid: str
    title: str
    model: dict[str, Any]  # the dashboard JSON model
    expectations: dict[tuple[int, str], Expectation]
    lang: Lang

    @property
    def filename(self) -> str:
        return f"{self.uid}.json"

    def text(self) -> str:
        return render(self.model)


def render(model: dict[str, Any]) -> str:
    """The committed form: stable key order, two-space indent, one trailing newline."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _generate(board: Board) -> list[Generated]:
    # Round-trip through the encoder so the model holds plain JSON values only.
    model: dict[str, Any] = json.loads(json.dumps(board.dashboard.build(), cls=JSONEncoder))
    out = []
    for lang in Lang:
        local = localize(model, lang)
        out.append(Generated(local["uid"], local["title"], local, dict(board.expectations), lang))
    return out


def generate() -> list[Generated]:
    """Every dashboard in every language (uid suffix -en, -zh), freshly built."""
    return [generated for make in BOARDS for generated in _generate(make())]


def write(folder: Path = DASHBOARD_DIR) -> list[Path]:
    """Write every dashboard's JSON; remove generated files of dashboards that no longer exist."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = set()
    for dashboard in generate():
        path = folder / dashboard.filename
        wanted.add(path.name)
        text = dashboard.text()
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in folder.glob("parkcarbon-*.json"):
        if stale.name not in wanted:
            stale.unlink()
    return written


def differences(folder: Path = DASHBOARD_DIR) -> list[str]:
    """Files that differ from a fresh generation (empty when the committed JSON is current)."""
    problems = []
    wanted = set()
    for dashboard in generate():
        path = folder / dashboard.filename
        wanted.add(path.name)
        if not path.is_file():
            problems.append(f"{path.name}: missing")
        elif path.read_text(encoding="utf-8") != dashboard.text():
            problems.append(f"{path.name}: differs from the generator")
    problems += [
        f"{p.name}: no dashboard generates it"
        for p in sorted(folder.glob("parkcarbon-*.json"))
        if p.name not in wanted
    ]
    return problems
