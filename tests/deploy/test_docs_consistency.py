"""The deployment docs say only what the code does.

docs/configuration.md and docs/gateway-config.md are what ``python -m deploy.docs_gen`` makes of
the settings and gateway models today; every ``PARKCARBON_*`` variable named in the compose file,
.env.example or the docs is a setting that exists; every setting of a service's process kind can
reach its container; every ``parkcarbon ...`` command the guides name exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import ApiSettings, CommonSettings, WorkerSettings
from deploy import docs_gen
from ingest.config import load_gateway_config
from tests.deploy.test_compose import check_project_command, resolve_command, services

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Files this issue owns that name settings or commands.
NAMING_FILES = [
    ROOT / "docker-compose.yml",
    ROOT / ".env.example",
    ROOT / "Dockerfile",
    DOCS / "configuration.md",
    DOCS / "operations.md",
    DOCS / "gateway-config.md",
]
VARIABLE = re.compile(r"\bPARKCARBON_[A-Z0-9_]+")


@pytest.mark.parametrize(
    ("path", "render"),
    [
        (docs_gen.CONFIGURATION_MD, docs_gen.render_configuration),
        (docs_gen.GATEWAY_MD, docs_gen.render_gateway),
    ],
    ids=["configuration.md", "gateway-config.md"],
)
def test_generated_docs_equal_what_the_code_gives(path: Path, render: object) -> None:
    assert callable(render)
    assert path.read_text(encoding="utf-8") == render(), (
        f"{path.relative_to(ROOT)} is out of date: run `python -m deploy.docs_gen`"
    )


def test_the_generator_check_mode_agrees() -> None:
    assert docs_gen.main(["--check"]) == 0


def test_the_configuration_reference_lists_every_setting() -> None:
    text = docs_gen.CONFIGURATION_MD.read_text(encoding="utf-8")
    for cls in docs_gen.settings_classes():
        for name in cls.model_fields:
            assert f"`{docs_gen.env_name(cls, name)}`" in text


def _readme_docker_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.find("## Deploying with Docker")
    if start < 0:
        return ""
    end = readme.find("\n## ", start + 3)
    return readme[start : end if end > 0 else None]


@pytest.mark.parametrize("path", NAMING_FILES, ids=lambda p: p.name)
def test_every_variable_named_is_a_real_setting(path: Path) -> None:
    named = set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    unknown = named - docs_gen.setting_variables()
    assert not unknown, f"{path.name} names settings that do not exist: {sorted(unknown)}"


def test_the_readme_docker_section_names_only_real_settings_and_commands() -> None:
    section = _readme_docker_section()
    assert section, "README.md lost its 'Deploying with Docker' section"
    assert "docker compose up" in section
    # Every file the section links to exists (the guides are what a park's IT team reads next).
    links = re.findall(r"\]\(([^)#]+)\)", section)
    assert links and all((ROOT / link).is_file() for link in links), links
    assert not set(VARIABLE.findall(section)) - docs_gen.setting_variables()
    for path in _parkcarbon_commands(section):
        check_command_exists(path)


@pytest.mark.parametrize(
    ("service", "kind"),
    [("worker", WorkerSettings), ("api", ApiSettings), ("migrate", CommonSettings)],
)
def test_every_setting_of_a_service_reaches_its_container(
    service: str, kind: type[CommonSettings]
) -> None:
    """Set in the compose file, or passed on from .env: a new setting cannot be forgotten."""
    env = services()[service]["environment"]
    missing = [
        docs_gen.env_name(kind, name)
        for name in kind.model_fields
        if docs_gen.env_name(kind, name) not in env
    ]
    assert not missing, f"docker-compose.yml: add {missing} to the {service} service's environment"


def test_env_example_lists_every_setting_compose_passes_on() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    passed = docs_gen.compose_environment().passed
    assert passed, "docker-compose.yml passes no setting on from .env"
    missing = sorted(v for v in passed if f"{v}=" not in example)
    assert not missing, f".env.example does not mention {missing}"


def _parkcarbon_commands(text: str) -> list[list[str]]:
    """The `parkcarbon ...` commands quoted in code spans and shell blocks: program and path."""
    spans = re.findall(r"`([^`\n]+)`", text)
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.S)
    candidates = [*spans, *(line for block in blocks for line in block.splitlines())]
    found = []
    for candidate in candidates:
        for part in re.split(r"&&|\||;", candidate.split("#", 1)[0]):
            words = part.split()
            starts = [i for i, w in enumerate(words) if w in ("parkcarbon", "parkcarbon-gateway")]
            if not starts:
                continue
            words = words[starts[0] :]
            # The command path: the program and the words up to the first option or placeholder.
            path = [words[0]]
            for word in words[1:]:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                path.append(word)
            found.append(path)
    return found


def check_command_exists(path: list[str]) -> None:
    """Each word names a real (sub)command; the leaf's --help runs."""
    if path[0] == "parkcarbon-gateway":
        check_project_command([path[0], "--help"])
        return
    _, resolved, _ = resolve_command([*path, "--help"])
    assert resolved == path[1 : 1 + len(resolved)]
    check_project_command([path[0], *resolved, "--help"])


def test_every_command_the_operations_guide_names_exists() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    commands = _parkcarbon_commands(text)
    assert len(commands) >= 5, commands
    for path in commands:
        check_command_exists(path)


def test_the_docker_gateway_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(docs_gen.DOCKER_GATEWAY_EXAMPLE, encoding="utf-8")
    config = load_gateway_config(path)
    assert config.kafka.bootstrap == "kafka:9092"
    assert str(config.buffer.path).startswith("/var/lib/parkcarbon/")
    # The port the compose gateway's health check reads.
    assert config.metrics.port == 9108
    assert "9108/metrics" in str(services()["gateway"]["healthcheck"]["test"])


def test_a_gateway_key_without_a_meaning_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(docs_gen.GATEWAY_MEANINGS, ("ModbusDevice", "host"))
    with pytest.raises(LookupError, match=r"ModbusDevice\.host"):
        docs_gen.render_gateway()
