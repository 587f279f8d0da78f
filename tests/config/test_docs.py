"""The README names only settings that exist, and every setting is in the README."""

from __future__ import annotations

import re
from pathlib import Path

from config.settings import CommonSettings, StackSettings, WorkerSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def _fields() -> set[str]:
    names: set[str] = set()
    for kind in (CommonSettings, StackSettings, WorkerSettings):
        names |= {f"PARKCARBON_{name.upper()}" for name in kind.model_fields}
    return names


def test_every_setting_named_in_the_readme_exists() -> None:
    named = set(re.findall(r"PARKCARBON_[A-Z_]+[A-Z]", README.read_text()))
    named -= {"PARKCARBON_CONFIG_FILE"}  # chooses the YAML file itself
    assert named <= _fields(), named - _fields()


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = {name for name in _fields() if f"`{name}`" not in text}
    assert not missing, missing
