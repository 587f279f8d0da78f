"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

Every project service's command must be a real `parkcarbon` command with real options (parsed by
the CLI itself, and `--help` run for it), the image's entry point too; only the API and Grafana
publish ports; every stateful service keeps its data in a named volume; every long-running
service has a health check and a restart policy. Where the `docker compose` plugin exists,
`docker compose config` validates the file against the Compose specification.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cli.gateway_commands import standalone_app
from cli.main import app as cli_app
from config.settings import StackSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
LOCK = ROOT / "deploy" / "requirements.lock"
BIN = ROOT / ".venv" / "bin"
SECRETS = ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_DB_PASSWORD")
# Services that run once and exit; everything else runs until stopped.
ONE_SHOT = {"migrate", "demo-seed"}
STATEFUL = {
    "kafka": "/var/lib/kafka/data",
    "timescaledb": "/var/lib/postgresql/data",
    "grafana": "/var/lib/grafana",
    "gateway": "/var/lib/parkcarbon",
    "modbus-sim": "/var/lib/parkcarbon",
    "opcua-sim": "/var/lib/parkcarbon",
    "mqtt": "/mosquitto/data",
}


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def project_services() -> dict[str, dict[str, Any]]:
    """The services built from this project's image (the others are upstream images)."""
    return {name: s for name, s in services().items() if "build" in s}


def argv_of(service: dict[str, Any]) -> list[str]:
    """entrypoint + command as the container runs them, without the init (tini --)."""
    entrypoint = list(service.get("entrypoint") or dockerfile_instruction("ENTRYPOINT"))
    if entrypoint[:2] == ["tini", "--"]:
        entrypoint = entrypoint[2:]
    command = service.get("command")
    if command is None:
        command = dockerfile_instruction("CMD")
    if isinstance(command, str):
        command = shlex.split(command)
    return [*entrypoint, *command]


def commands_of(argv: list[str]) -> list[list[str]]:
    """The commands an argv runs: itself, or each `&&` step of a `/bin/sh -ec SCRIPT`."""
    if argv[:1] in (["/bin/sh"], ["sh"]) and argv[1].startswith("-") and "c" in argv[1]:
        return [shlex.split(step) for step in argv[2].split("&&")]
    return [argv]


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form argument list of the Dockerfile's last ENTRYPOINT or CMD."""
    found = re.findall(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert found, f"the Dockerfile has no exec-form {name}"
    value = yaml.safe_load(found[-1])
    assert isinstance(value, list)
    return [str(v) for v in value]


def resolve_command(argv: list[str]) -> tuple[Any, list[str], list[str]]:
    """(click command, subcommand path, its arguments) of a `parkcarbon ...` argv.

    Typer carries its own copy of click, so groups are recognised by their `commands`.
    """
    program, *args = argv
    if program == "parkcarbon-gateway":
        return typer.main.get_command(standalone_app()), [], args
    assert program == "parkcarbon", f"not a project command: {argv}"
    command: Any = typer.main.get_command(cli_app)
    path: list[str] = []
    while hasattr(command, "commands") and args[:1] != ["--help"]:
        assert args, f"{argv}: a group needs a subcommand"
        sub = command.get_command(command.context_class(command), args[0])
        assert sub is not None, f"{argv}: no such command {args[0]!r} after {path}"
        path.append(args.pop(0))
        command = sub
    return command, path, args


def check_project_command(argv: list[str]) -> None:
    """The CLI parses argv's options and values as it would at run time, and --help works."""
    command, path, args = resolve_command(argv)
    if "--help" not in args:
        # make_context parses and converts every option (types, ranges) and runs nothing.
        command.make_context(" ".join([argv[0], *path]), list(args))
    result = subprocess.run(
        [str(BIN / argv[0]), *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{argv[0]} {' '.join(path)} --help: {result.stderr}"


def test_the_project_services_are_all_there() -> None:
    assert set(project_services()) == {
        "migrate",
        "worker",
        "api",
        "gateway",
        "demo-seed",
        "modbus-sim",
        "modbus-gateway",
        "opcua-sim",
        "opcua-gateway",
    }
    profiles = {name: s.get("profiles", []) for name, s in services().items()}
    for name in ("demo-seed", "modbus-sim", "modbus-gateway", "opcua-sim", "opcua-gateway"):
        assert profiles[name] == ["simulated-park"], name
    assert profiles["gateway"] == ["gateway"]
    # One image for every project service.
    assert len({s["image"] for s in project_services().values()}) == 1


@pytest.mark.parametrize("name", sorted(project_services()))
def test_each_project_service_runs_a_real_command(name: str) -> None:
    commands = commands_of(argv_of(services()[name]))
    ran = 0
    for argv in commands:
        if argv[:2] == ["python", "-c"]:
            compile(argv[2], f"<{name} python -c>", "exec")  # at least it is Python
            continue
        check_project_command(argv)
        ran += 1
    assert ran, f"{name} runs no parkcarbon command"


def test_the_services_run_what_the_issue_and_the_readme_say() -> None:
    def first(name: str) -> list[str]:
        return [" ".join(a[:3]) for a in commands_of(argv_of(services()[name]))]

    assert first("migrate")[:2] == ["parkcarbon db migrate", "parkcarbon topics create"]
    assert first("worker") == ["parkcarbon worker -l"]
    assert first("api") == ["parkcarbon api"]
    assert argv_of(services()["gateway"])[:2] == ["parkcarbon-gateway", "--config"]
    assert first("modbus-sim") == ["parkcarbon simulate modbus"]
    assert first("opcua-sim") == ["parkcarbon demo opcua"]


def test_the_image_entry_point_and_default_command_are_real() -> None:
    assert dockerfile_instruction("ENTRYPOINT") == ["tini", "--"]
    check_project_command(dockerfile_instruction("CMD"))


def test_only_the_api_and_grafana_publish_ports_on_loopback_by_default() -> None:
    published = {name: s["ports"] for name, s in services().items() if s.get("ports")}
    assert set(published) == {"api", "grafana"}
    for ports in published.values():
        (port,) = ports
        assert port.startswith("${") and ":-127.0.0.1}:" in port, port
    for name, service in services().items():
        assert "expose" not in service, name


def test_workers_scale_no_fixed_name_or_port() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert not any("container_name" in s for s in services().values())


def test_every_stateful_service_keeps_its_data_in_a_named_volume() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    for name, path in STATEFUL.items():
        volumes = [v for v in services()[name].get("volumes", []) if isinstance(v, str)]
        named = [v.split(":")[0] for v in volumes if v.split(":")[1] == path]
        assert named and named[0] in declared, f"{name}: no named volume at {path}"
    # And nothing else writes state: the workers and the API are stateless.
    for name in ("worker", "api", "migrate"):
        assert not services()[name].get("volumes"), name


def test_long_running_services_have_health_checks_and_restart_policies() -> None:
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") in ("unless-stopped", "always") or str(
            service.get("restart")
        ).startswith("on-failure"), name


def test_one_network() -> None:
    assert list(compose()["networks"]) == ["park"]
    for name, service in services().items():
        if "network_mode" in service:
            # A simulator's gateway shares its simulator's namespace (simulators bind loopback).
            assert service["network_mode"].startswith("service:"), name
            assert "networks" not in service, name
        else:
            assert service.get("networks") == ["park"], name


def test_upstream_images_are_pinned_to_the_versions_the_project_runs() -> None:
    kafka = services()["kafka"]["image"]
    assert kafka == f"apache/kafka:{StackSettings().kafka_version}"
    assert re.fullmatch(
        r"timescale/timescaledb:2\.\d+\.\d+-pg1[56]", services()["timescaledb"]["image"]
    )
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", services()["grafana"]["image"])
    # Mosquitto 2.0, the series Debian ships and the MQTT tests run against.
    assert re.fullmatch(r"eclipse-mosquitto:2\.0\.\d+", services()["mqtt"]["image"])
    assert services()["mqtt"]["profiles"] == ["mqtt"]


def test_secrets_come_from_the_env_file_and_none_is_committed() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    for secret in SECRETS:
        assert example[secret] == "", f"{secret} has a value in .env.example"
        # Required: compose stops with a message instead of starting without a password.
        assert f"${{{secret}:?" in text, secret
    assert "PASSWORD=" not in text and not re.search(r"PASSWORD:\s+[^$\s]", text)


def test_the_dockerfile_is_multi_stage_slim_pinned_non_root_and_locked() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.M)
    stages = re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.M)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER parkcarbon:parkcarbon$", runtime, re.M)
    assert "COPY --from=build /opt/parkcarbon /opt/parkcarbon" in runtime
    assert "--require-hashes" in text and "deploy/requirements.lock" in text
    assert "tini" in runtime  # the ENTRYPOINT's init is installed


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        found = re.match(r"^\s*\"?([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s\\;\"]+)", line)
        if found:
            pins[found.group(1).lower().replace("_", "-")] = found.group(3)
    return pins


def test_the_lock_holds_every_pin_of_pyproject_with_hashes() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = _pins(project["dependencies"] + project["optional-dependencies"]["platform"])
    lock_text = LOCK.read_text(encoding="utf-8")
    locked = _pins(lock_text.splitlines())
    stale = {
        name: (pin, locked.get(name)) for name, pin in wanted.items() if locked.get(name) != pin
    }
    assert not stale, (
        f"deploy/requirements.lock is stale {stale}: "
        "regenerate it (docs/operations.md, 'The image')"
    )
    assert lock_text.count("--hash=sha256:") >= len(locked)
    assert "--find-links" not in lock_text and "--index-url" not in lock_text


# The Compose specification's own loader (compose-go), built by deploy/bootstrap.sh from
# deploy/compose-check/: the same interpolation, profiles and JSON-schema validation as
# `docker compose config`, without Docker on the machine.
COMPOSE_CHECK = ROOT / ".parkcarbon" / "compose-check"
needs_compose = pytest.mark.skipif(
    not COMPOSE_CHECK.is_file(),
    reason=f"{COMPOSE_CHECK} is missing: run deploy/bootstrap.sh (it needs Go) to build "
    "deploy/compose-check; the structural checks in this file still run",
)


def _compose_config(*profiles: str, secrets: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    if secrets:
        env.update(dict.fromkeys(SECRETS, "not-a-real-secret"))
    chosen = [arg for name in profiles for arg in ("-profile", name)]
    return subprocess.run(
        [str(COMPOSE_CHECK), "-f", "docker-compose.yml", "-env-file", str(ENV_EXAMPLE), *chosen],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


@needs_compose
@pytest.mark.parametrize(
    "profiles",
    [(), ("gateway",), ("simulated-park",), ("mqtt",)],
    ids=str,
)
def test_docker_compose_config_validates(profiles: tuple[str, ...]) -> None:
    result = _compose_config(*profiles)
    assert result.returncode == 0, result.stderr


@needs_compose
def test_docker_compose_refuses_to_run_without_the_secrets() -> None:
    result = _compose_config(secrets=False)
    assert result.returncode != 0
    assert "required variable POSTGRES_PASSWORD is missing a value" in result.stderr
    assert "required variable GRAFANA_DB_PASSWORD is missing a value" in result.stderr


@needs_compose
def test_compose_check_refuses_what_the_specification_refuses(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  api:\n    image: busybox\n    restartt: always\n")
    result = subprocess.run(
        [str(COMPOSE_CHECK), "-f", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and "restartt" in result.stderr
