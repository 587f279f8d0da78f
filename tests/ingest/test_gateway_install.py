"""The gateway runs without the platform's packages: a substation box installs only the base."""

from __future__ import annotations

import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "gateway" / "parkcarbon-gateway.service"
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


def test_the_documented_install_leaves_the_config_readable_by_the_service_group_only(
    tmp_path: Path,
) -> None:
    unit = UNIT.read_text(encoding="utf-8")
    [line] = [c.lstrip("# ") for c in unit.splitlines() if c.lstrip("# ").startswith("install ")]
    argv = shlex.split(line)
    group = re.search(r"^Group=(\S+)$", unit, re.MULTILINE)
    assert group is not None
    # Owner root, group of the service user: the gateway reads its password, nobody else does.
    assert argv[argv.index("-o") + 1] == "root"
    assert argv[argv.index("-g") + 1] == group.group(1)
    assert argv[-1] == "/etc/parkcarbon/gateway.yaml"
    # Run the documented command for real into a scratch directory. The owner and group are left
    # out: this machine need not have the service user.
    for flag in ("-o", "-g"):
        at = argv.index(flag)
        del argv[at : at + 2]
    source = tmp_path / "gateway.yaml"
    source.write_text("opcua_servers: []\n")
    source.chmod(0o644)  # as an editor leaves it
    target = tmp_path / "etc" / "parkcarbon" / "gateway.yaml"
    subprocess.run([*argv[:-2], str(source), str(target)], check=True, timeout=30)
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o640, oct(mode)
    assert not mode & stat.S_IRWXO
