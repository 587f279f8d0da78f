from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from config.settings import StackSettings
from deploy import kafka_broker

ROOT = Path(__file__).resolve().parents[2]
CLI = [str(ROOT / ".venv" / "bin" / "parkcarbon")]

pytestmark = pytest.mark.integration


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180, check=False
    )


def test_status_reports_both_components_up(
    running_stack: StackSettings, cli_env: dict[str, str]
) -> None:
    result = _cli("stack", "status", env=cli_env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["postgres", "up"]
    assert lines[1].split()[:2] == ["kafka", "up"]


def test_a_second_start_is_a_no_op(running_stack: StackSettings, cli_env: dict[str, str]) -> None:
    before = kafka_broker.healthy(running_stack)[1]
    result = _cli("stack", "start", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [
        "postgres  already running",
        "kafka     already running",
    ]
    assert kafka_broker.healthy(running_stack)[1] == before


@pytest.mark.disruptive
def test_status_reports_a_stopped_broker_as_down_and_start_brings_it_back(
    running_stack: StackSettings, cli_env: dict[str, str]
) -> None:
    kafka_broker.stop(running_stack)
    try:
        result = _cli("stack", "status", env=cli_env)
        assert result.returncode == 1
        assert "kafka     DOWN  not running" in result.stdout
        assert "postgres  up" in result.stdout
    finally:
        restarted = _cli("stack", "start", env=cli_env)
    assert restarted.returncode == 0, restarted.stderr
    assert "kafka     started" in restarted.stdout
    assert _cli("stack", "status", env=cli_env).returncode == 0
