"""The layout is the architecture: data flows ingest -> stream -> store <- api, all on
``accounting`` and ``contracts``. These rules are read from the source (every ``import`` and
``from ... import``, also inside functions), so a wrong-way import fails here before it settles
in: the pure domain imports nothing of ours, the wire contracts only the domain, the gateway
nothing of the worker, the store or the API, the store nothing of the stream or the API, and no
private name (``_x``) crosses from one top-level package into another."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset(
    {"accounting", "contracts", "ingest", "stream", "store", "api", "cli", "config", "deploy"}
    | {"simulators", "bench", "tests"}
)
# What each package may never import (issue-level rules of the architecture).
FORBIDDEN: dict[str, frozenset[str]] = {
    "accounting": OURS - {"accounting"},
    "contracts": OURS - {"accounting", "contracts"},
    "ingest": frozenset({"stream", "store", "api", "simulators", "bench", "tests"}),
    "store": frozenset({"stream", "api", "ingest", "simulators", "bench", "tests"}),
    "stream": frozenset({"api", "ingest", "simulators", "bench", "tests"}),
    "api": frozenset({"ingest", "simulators", "bench", "tests"}),
}
# The API imports nothing of the worker (its app, sinks, window computer, agents): what both
# compute with (a window's CO2e, a baseline's restatement) lives in ``accounting``.
API_MAY_IMPORT_FROM_STREAM: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]  # the names taken from it (``from x import a, b``)
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = tuple(a.name for a in node.names)
            found.append(Import(module, node.module, names, node.lineno))
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _all_imports() -> list[Import]:
    return [i for package in sorted(FORBIDDEN) for p in _sources(package) for i in imports_of(p)]


def violations(imports: list[Import]) -> list[str]:
    """Every import that breaks a rule, as 'module:line imports target (rule)'."""
    out = []
    for i in imports:
        own, theirs = i.module.split(".")[0], i.target.split(".")[0]
        if theirs in FORBIDDEN.get(own, frozenset()):
            out.append(f"{i.module}:{i.line} imports {i.target} ({own} never imports {theirs})")
        if own == "api" and theirs == "stream" and i.target not in API_MAY_IMPORT_FROM_STREAM:
            out.append(f"{i.module}:{i.line} imports {i.target} (the worker's, not the API's)")
        if theirs in OURS and theirs != own:
            private = [n for n in i.names if n.startswith("_")]
            private += [p for p in i.target.split(".")[1:] if p.startswith("_") and p != "__init__"]
            if private:
                out.append(f"{i.module}:{i.line} imports private {i.target}.{private}")
    return out


def test_every_import_follows_the_direction_of_the_data() -> None:
    imports = _all_imports()
    assert len(imports) > 500  # the whole tree was read
    assert violations(imports) == []


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("store.targets", "from stream.alerts import Alert", "store never imports stream"),
        ("api.live_windows", "from stream.window_sink import decode_windows", "the worker's"),
        ("api.tickets.intake", "from store.targets import _UPSERT", "private"),
        ("stream.window_sink", "from store.windows import _COLUMNS, _UPSERT", "private"),
        ("ingest.forwarder", "from stream.split import split_message", "ingest never imports"),
        ("accounting.co2e", "import store.windows", "accounting never imports store"),
        ("api.registry.proposals", "from stream.restatement import x", "the worker's"),
        ("contracts.records", "from config.settings import Settings", "contracts never"),
        ("stream.app", "from simulators.meters import x", "stream never imports simulators"),
    ],
)
def test_the_imports_that_once_slipped_in_would_fail(module: str, source: str, rule: str) -> None:
    tree = ast.parse(source)
    node = tree.body[0]
    if isinstance(node, ast.ImportFrom):
        assert node.module is not None
        found = [Import(module, node.module, tuple(a.name for a in node.names), 1)]
    else:
        assert isinstance(node, ast.Import)
        found = [Import(module, a.name, (), 1) for a in node.names]
    problems = violations(found)
    assert problems and any(rule.split()[-1] in p or rule in p for p in problems), problems
