"""The gateway runs without the platform's packages: a substation box installs only the base."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_ONLY = ("faust", "psycopg", "numpy", "fastapi", "uvicorn", "grafana_client")

_PROBE = f"""
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {PLATFORM_ONLY!r}:
            raise ImportError('platform package imported by the gateway: ' + name)
        return None
sys.meta_path.insert(0, Refuse())
import cli.gateway_commands, ingest.gateway, ingest.modbus, ingest.opcua, ingest.buffer
import ingest.forwarder, ingest.config
cli.gateway_commands.main()
"""


def test_the_gateway_imports_no_platform_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--config" in result.stdout
