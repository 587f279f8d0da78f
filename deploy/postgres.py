"""A local PostgreSQL server for development and tests, in the stack's state folder.

Uses the server binaries of Debian's ``postgresql`` package. PostgreSQL refuses to run as root,
so when this process is root the server runs as the unprivileged ``postgres`` system user (the
package creates it) and owns its data folder; an ordinary user runs it as themself. The server
listens on 127.0.0.1 only and trusts local connections: it is a development database.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from config.settings import StackSettings
from deploy import timescaledb
from deploy.process import StackError, pid_alive, port_open, tail, wait_until

SERVER_USER_WHEN_ROOT = "postgres"


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "parkcarbon",
            dbname=parts.path.lstrip("/") or "parkcarbon",
        )


def bin_dir() -> Path:
    """The newest installed PostgreSQL server's bin folder."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise StackError(
        "no PostgreSQL server found: install Debian's 'postgresql' package "
        "(make bootstrap does this)"
    )


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    except KeyError as exc:
        raise StackError("running as root needs the 'postgres' system user") from exc
    return SERVER_USER_WHEN_ROOT


def _ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    user = _run_as()
    result = subprocess.run(  # noqa: S603 - argv built here
        [str(bin_dir() / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        check=False,
        user=user,
        group=user,
        cwd="/",
    )
    if check and result.returncode != 0:
        raise StackError(f"{args[0]} failed:\n{result.stdout}{result.stderr}")
    return result


def _paths(settings: StackSettings) -> tuple[Path, Path]:
    root = settings.state_dir.resolve() / "postgres"
    return root / "data", root / "postgres.log"


def _hand_to_server_user(path: Path) -> None:
    user = _run_as()
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for folder in [path, *path.parents]:
        if folder == Path("/"):
            break
        # The server user must be able to traverse down to its data folder.
        mode = folder.stat().st_mode
        if not mode & 0o001:
            raise StackError(f"{folder} is not traversable by '{user}'; chmod o+x it")
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid)


def init(settings: StackSettings) -> None:
    data, log = _paths(settings)
    if (data / "PG_VERSION").is_file():
        return
    target = Target.from_url(settings.database_url)
    data.mkdir(parents=True, exist_ok=True)
    log.touch()
    _hand_to_server_user(data.parent)
    _ctl(
        "initdb",
        "-D",
        str(data),
        "-U",
        target.user,
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            f"\nlisten_addresses = '{target.host}'\nport = {target.port}\n"
            f"unix_socket_directories = ''\nmax_connections = 200\nfsync = on\n"
        )


def pid(settings: StackSettings) -> int | None:
    """The postmaster's pid from its pid file, if that process is alive."""
    data, _ = _paths(settings)
    try:
        server_pid = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return server_pid if pid_alive(server_pid) else None


def _connect_ok(settings: StackSettings, dbname: str) -> bool:
    target = Target.from_url(settings.database_url)
    try:
        with psycopg.connect(
            host=target.host, port=target.port, user=target.user, dbname=dbname, connect_timeout=2
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_database(settings: StackSettings) -> None:
    target = Target.from_url(settings.database_url)
    with psycopg.connect(
        host=target.host, port=target.port, user=target.user, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.dbname,))
        if exists.fetchone() is None:
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(target.dbname))
            )


def healthy(settings: StackSettings) -> tuple[bool, str]:
    target = Target.from_url(settings.database_url)
    server_pid = pid(settings)
    if server_pid is None:
        return False, "not running"
    if not _connect_ok(settings, "postgres"):
        return False, f"pid {server_pid}, not accepting connections"
    return True, f"pid {server_pid}, {target.host}:{target.port}"


_PRELOAD = "shared_preload_libraries = 'timescaledb'"


def _preload(settings: StackSettings) -> bool:
    """With ``timescaledb_source``: build and install the extension (once) and write the
    preload line into the cluster's configuration; whether the configuration changed."""
    if settings.timescaledb_source is None:
        return False
    timescaledb.ensure_installed(settings.timescaledb_source, settings.state_dir, bin_dir())
    data, _ = _paths(settings)
    conf = data / "postgresql.conf"
    if _PRELOAD in conf.read_text(encoding="utf-8"):
        return False
    with open(conf, "a", encoding="utf-8") as f:
        f.write(f"\n# TimescaleDB (timescaledb_source)\n{_PRELOAD}\n")
    return True


def start(settings: StackSettings) -> str:
    if pid(settings) is not None:
        if _preload(settings):  # asked for TimescaleDB while running without it: restart
            data, log = _paths(settings)
            _ctl("pg_ctl", "-D", str(data), "-l", str(log), "-m", "fast", "-w", "restart")
            wait_until(
                lambda: _connect_ok(settings, "postgres"),
                timeout=settings.start_timeout_s,
                what="PostgreSQL",
            )
        ensure_database(settings)
        return "already running"
    target = Target.from_url(settings.database_url)
    if port_open(target.host, target.port):
        raise StackError(
            f"{target.host}:{target.port} is taken by a server this stack did not start"
        )
    init(settings)
    _preload(settings)
    data, log = _paths(settings)
    _ctl(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-t",
        str(int(settings.start_timeout_s)),
        "start",
    )
    try:
        wait_until(
            lambda: _connect_ok(settings, "postgres"),
            timeout=settings.start_timeout_s,
            what="PostgreSQL",
        )
    except StackError as exc:
        raise StackError(f"{exc}; last log lines:\n{tail(log)}") from exc
    ensure_database(settings)
    return f"started (pid {pid(settings)})"


def stop(settings: StackSettings) -> str:
    server_pid = pid(settings)
    if server_pid is None:
        return "not running"
    data, _ = _paths(settings)
    _ctl("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    return f"stopped (pid {server_pid})"
