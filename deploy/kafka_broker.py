"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).

The jars come from Maven Central through ``deploy/kafka/pom.xml``; storage is formatted once
with ``kafka.tools.StorageTool format --standalone`` and the broker listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from config.settings import StackSettings
from deploy.process import StackError, port_open, read_pid, spawn, tail, terminate, wait_until

POM = Path(__file__).parent / "kafka" / "pom.xml"


@dataclass(frozen=True)
class KafkaPaths:
    root: Path
    lib: Path
    data: Path
    properties: Path
    log: Path
    pid: Path

    @classmethod
    def under(cls, state_dir: Path, version: str) -> KafkaPaths:
        root = state_dir.resolve() / "kafka"
        return cls(
            root=root,
            lib=root / f"lib-{version}",
            data=root / "data",
            properties=root / "server.properties",
            log=root / "kafka.log",
            pid=root / "kafka.pid",
        )


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)


def fetch_jars(settings: StackSettings, paths: KafkaPaths) -> None:
    """Copy the broker jars from Maven Central once; a later start reuses them."""
    if (paths.lib / f"kafka_2.13-{settings.kafka_version}.jar").is_file():
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is needed to fetch the Kafka broker jars; install maven")
    paths.lib.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={paths.lib}",
            f"-Dkafka.version={settings.kafka_version}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(paths.lib, ignore_errors=True)
        raise StackError(
            f"fetching Kafka {settings.kafka_version} failed:\n{result.stdout}{result.stderr}"
        )


def write_properties(settings: StackSettings, paths: KafkaPaths) -> None:
    host, port = _host_port(settings.kafka_bootstrap)
    ctl = settings.kafka_controller_port
    # Topics are created by `parkcarbon topics create` with their declared partitions; an
    # auto-created topic would get the broker default and break co-partitioning with Faust tables.
    paths.properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={host}:{ctl}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={paths.data}",
                f"num.partitions={settings.topic_partitions}",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # A single local worker should not wait 3 s for others to join its group.
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )


def _java(paths: KafkaPaths, main: str, *args: str, heap_mb: int = 256) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise StackError("Java 17+ is needed to run the Kafka broker; install a JDK")
    return [
        java,
        f"-Xms{min(heap_mb, 256)}m",
        f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-cp",
        f"{paths.lib}/*",
        main,
        *args,
    ]


def _cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64 without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def format_storage(paths: KafkaPaths) -> None:
    if (paths.data / "meta.properties").is_file():
        return
    paths.data.mkdir(parents=True, exist_ok=True)
    argv = _java(
        paths,
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        _cluster_id(),
        "-c",
        str(paths.properties),
    )
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


async def _admin_ok(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:  # any failure means "not ready yet"
        return False
    finally:
        await admin.close()


def healthy(settings: StackSettings) -> tuple[bool, str]:
    """Alive, listening and answering an admin call: the broker's readiness."""
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    pid = read_pid(paths.pid)
    host, port = _host_port(settings.kafka_bootstrap)
    if pid is None:
        return False, "not running"
    if not port_open(host, port):
        return False, f"pid {pid}, port {port} closed"
    if not asyncio.run(_admin_ok(settings.kafka_bootstrap)):
        return False, f"pid {pid}, admin call failed"
    return True, f"pid {pid}, {host}:{port}, Kafka {settings.kafka_version} (KRaft)"


def start(settings: StackSettings) -> str:
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    if read_pid(paths.pid) is not None:
        return "already running"
    host, port = _host_port(settings.kafka_bootstrap)
    if port_open(host, port):
        raise StackError(f"{host}:{port} is taken by a process this stack did not start")
    paths.root.mkdir(parents=True, exist_ok=True)
    fetch_jars(settings, paths)
    write_properties(settings, paths)
    format_storage(paths)
    argv = _java(paths, "kafka.Kafka", str(paths.properties), heap_mb=settings.kafka_heap_mb)
    pid = spawn(argv, log_file=paths.log, pid_file=paths.pid, cwd=paths.root)
    try:
        wait_until(
            lambda: read_pid(paths.pid) is not None and port_open(host, port),
            timeout=settings.start_timeout_s,
            what="Kafka broker port",
        )
        wait_until(
            lambda: asyncio.run(_admin_ok(settings.kafka_bootstrap)),
            timeout=settings.start_timeout_s,
            what="Kafka broker admin API",
            interval=1.0,
        )
    except StackError as exc:
        raise StackError(f"{exc}; last log lines:\n{tail(paths.log)}") from exc
    return f"started (pid {pid})"


def stop(settings: StackSettings) -> str:
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    pid = read_pid(paths.pid)
    if pid is None:
        return "not running"
    terminate(pid, timeout=60.0)
    paths.pid.unlink(missing_ok=True)
    return f"stopped (pid {pid})"
