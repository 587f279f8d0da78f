"""TimescaleDB for the local stack, built from a release source archive (no download).

``stack start`` with ``timescaledb_source`` set builds the archive once with the project's own
PostgreSQL development files (cmake, postgresql-server-dev) under ``state_dir/timescaledb/``,
keyed by the archive's SHA-256, and installs it into the server's library and extension
folders. PostgreSQL 15 reads extension control files only from its share folder (a folder of
our own, ``extension_control_path``, arrives with PostgreSQL 18), so the files go where the
server looks, as the vendor's instructions do. The server is then started with
``shared_preload_libraries = 'timescaledb'`` (``deploy.postgres``), which the extension needs
before ``CREATE EXTENSION`` can run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

from deploy.process import StackError

# The build options of the vendor's instructions: no regression or TAP test targets (they need
# a PostgreSQL source tree), warnings not fatal (a newer compiler warns where 2.28 did not).
_BOOTSTRAP = (
    "-DREGRESS_CHECKS=OFF",
    "-DTAP_CHECKS=OFF",
    "-DWARNINGS_AS_ERRORS=OFF",
    "-DCMAKE_BUILD_TYPE=Release",
)
BUILD_TIMEOUT_S = 1200  # about 1.5 minutes on 2 cores; bounded whatever happens


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_config(bin_dir: Path, flag: str) -> Path:
    tool = bin_dir / "pg_config"
    if not tool.is_file():
        found = shutil.which("pg_config")
        if found is None:
            raise StackError("pg_config is missing: apt-get install postgresql-server-dev-15")
        tool = Path(found)
    out = subprocess.run(  # noqa: S603 - the server's own pg_config, a fixed flag
        [str(tool), flag], capture_output=True, text=True, check=True, timeout=30
    )
    return Path(out.stdout.strip())


def installed(bin_dir: Path) -> bool:
    """Whether the server's folders hold the extension (library and control file)."""
    lib = _pg_config(bin_dir, "--pkglibdir")
    share = _pg_config(bin_dir, "--sharedir")
    return (lib / "timescaledb.so").is_file() and (
        share / "extension" / "timescaledb.control"
    ).is_file()


def ensure_installed(archive: Path, state_dir: Path, bin_dir: Path) -> str:
    """Build (once per archive) and install TimescaleDB; what was done, for the log."""
    if not archive.is_file():
        raise StackError(f"timescaledb_source {archive} is not a file")
    key = _sha256(archive)[:16]
    work = state_dir / "timescaledb" / key
    stamp = work / "installed"
    if stamp.is_file() and installed(bin_dir):
        return f"TimescaleDB from {archive.name} already installed"
    src = work / "src"
    log = work / "build.log"
    if not (src / "build" / "Makefile").is_file():
        shutil.rmtree(work, ignore_errors=True)
        src.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(src, filter="data")
        _step(["./bootstrap", *_BOOTSTRAP], src, log)
    _step(["make", "-j2"], src / "build", log)
    _step(["make", "install"], src / "build", log)
    if not installed(bin_dir):
        raise StackError(f"TimescaleDB built but not found in the server's folders; see {log}")
    stamp.write_text(archive.name + "\n", encoding="utf-8")
    return f"TimescaleDB built from {archive.name} and installed ({log})"


def _step(argv: list[str], cwd: Path, log: Path) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}  (in {cwd})\n".encode())
        out.flush()
        try:
            subprocess.run(  # noqa: S603 - fixed build commands in the extracted archive
                argv,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=BUILD_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            step = " ".join(argv)
            raise StackError(f"building TimescaleDB failed at `{step}`; see {log}") from exc
