"""The README's reliability section names, for each fault, the tests that prove it survives.

A renamed or deleted test would leave the table promising a proof that no longer runs, so every
test it names must exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CELL = re.compile(r"`([\w/]+\.py)?::(\w+)`")


def _section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Reliability: the faults it survives")
    return readme[start : readme.index("\n## ", start + 1)]


def _named_tests() -> list[tuple[str, str]]:
    """Every (file, test) a row names; `::name` alone reuses the row's previous file."""
    named = []
    for line in _section().splitlines():
        if not line.startswith("| ") or "::" not in line:
            continue
        current = ""
        for path, name in _CELL.findall(line):
            current = path or current
            named.append((current, name))
    return named


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_the_reliability_section_names_exists() -> None:
    named = _named_tests()
    assert len(named) >= 20, "the reliability table lost its rows"
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (ROOT / "tests" / path).is_file() or name not in _defined(ROOT / "tests" / path)
    ]
    assert missing == []
