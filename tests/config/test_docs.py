"""The README names only settings that exist, and every setting is in the README."""

from __future__ import annotations

import re
from pathlib import Path

from config.settings import CommonSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def _fields() -> set[str]:
    # Every process kind's settings class, including ones added later.
    names: set[str] = set()
    kinds: list[type[CommonSettings]] = [CommonSettings]
    while kinds:
        kind = kinds.pop()
        names |= {f"PARKCARBON_{name.upper()}" for name in kind.model_fields}
        kinds.extend(kind.__subclasses__())
    return names


def test_every_setting_named_in_the_readme_exists() -> None:
    named = set(re.findall(r"PARKCARBON_[A-Z_]+[A-Z]", README.read_text()))
    named -= {"PARKCARBON_CONFIG_FILE"}  # chooses the YAML file itself
    assert named <= _fields(), named - _fields()


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = {name for name in _fields() if f"`{name}`" not in text}
    assert not missing, missing
