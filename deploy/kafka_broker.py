"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).

The jars come from Maven Central through ``deploy/kafka/pom.xml``; storage is formatted once
with ``kafka.tools.StorageTool format --standalone`` and the broker listens on 127.0.0.1 only.

Besides the PLAINTEXT listener of the project's own services it opens, unless
``kafka_sasl_ssl_port`` is 0, a SASL_SSL listener as remote gateways use one: TLS with a
certificate from the project's CA (deploy/kafka_tls.py), SCRAM-SHA-512 logins, and the
StandardAuthorizer with ACLs. The PLAINTEXT principal (``User:ANONYMOUS``, loopback only: the
services and the KRaft controller) is a super user, so nothing that worked before needs an ACL.
The local users and what they may do:

- ``gateway-local``: WRITE on ``readings.raw`` and IDEMPOTENT_WRITE on the cluster, nothing
  else (a gateway may neither read readings nor write any other topic);
- ``parkcarbon-service``: a super user, the platform's services (worker, API) reaching the
  broker over SASL_SSL with the same rights they have on the PLAINTEXT listener.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from config.kafka_security import KafkaSecurity
from config.settings import StackSettings
from deploy import kafka_tls
from deploy.process import StackError, port_open, read_pid, spawn, tail, terminate, wait_until

POM = Path(__file__).parent / "kafka" / "pom.xml"
GATEWAY_USER = "gateway-local"
SERVICE_USER = "parkcarbon-service"
SCRAM_ITERATIONS = 8192  # Kafka's accepted maximum is 16384; 4096 is the RFC 7677 minimum


@dataclass(frozen=True)
class KafkaPaths:
    root: Path
    lib: Path
    data: Path
    properties: Path
    log: Path
    pid: Path
    security: Path  # CA, broker certificate, local users' passwords (owner-only files)

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
            security=root / "security",
        )

    @property
    def ca(self) -> kafka_tls.Issued:
        return kafka_tls.Issued(self.security / "ca.pem", self.security / "ca-key.pem")

    @property
    def keystore(self) -> Path:
        return self.security / "broker-keystore.pem"

    @property
    def users(self) -> Path:
        return self.security / "users.json"

    @property
    def applied(self) -> Path:
        return self.security / "applied"


@dataclass(frozen=True)
class SaslSslListener:
    """How a client reaches the local SASL_SSL listener: address, CA, the local users."""

    bootstrap: str
    ca_file: Path
    passwords: dict[str, SecretStr]

    def security(self, user: str, *, password: SecretStr | None = None) -> KafkaSecurity:
        return KafkaSecurity(
            protocol="SASL_SSL",
            ca_file=self.ca_file,
            sasl_mechanism="SCRAM-SHA-512",
            username=user,
            password=password or self.passwords[user],
        )


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)


def fetch_jars(settings: StackSettings, paths: KafkaPaths) -> None:
    """Copy the broker jars from Maven Central once; a later start reuses them."""
    # kafka-tools holds AclCommand; a lib folder from before it was needed is completed.
    v = settings.kafka_version
    wanted = [f"kafka_2.13-{v}.jar", f"kafka-tools-{v}.jar"]
    if all((paths.lib / jar).is_file() for jar in wanted):
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
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}"
    advertised = f"PLAINTEXT://{host}:{port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    secure: list[str] = []
    if settings.kafka_sasl_ssl_port:
        sasl_port = settings.kafka_sasl_ssl_port
        listeners += f",SASL_SSL://{host}:{sasl_port}"
        advertised += f",SASL_SSL://{host}:{sasl_port}"
        protocols += ",SASL_SSL:SASL_SSL"
        tls = "listener.name.sasl_ssl.ssl"
        secure = [
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{tls}.keystore.type=PEM",
            f"{tls}.keystore.location={paths.keystore}",
            f"{tls}.truststore.type=PEM",
            f"{tls}.truststore.location={paths.ca.cert}",
            # A client certificate is checked against the CA when one is offered (mutual TLS);
            # the principal still comes from the SCRAM login.
            f"{tls}.client.auth=requested",
            f"{tls}.enabled.protocols=TLSv1.3,TLSv1.2",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # PLAINTEXT listens on loopback only and carries the services and the controller.
            f"super.users=User:ANONYMOUS;User:{SERVICE_USER}",
            "allow.everyone.if.no.acl.found=false",
        ]
    # Topics are created by `parkcarbon topics create` with their declared partitions; an
    # auto-created topic would get the broker default and break co-partitioning with Faust tables.
    paths.properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={host}:{ctl}",
                f"listeners={listeners}",
                f"advertised.listeners={advertised}",
                "controller.listener.names=CONTROLLER",
                f"listener.security.protocol.map={protocols}",
                "inter.broker.listener.name=PLAINTEXT",
                *secure,
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


def cluster_id(draw: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64 without padding (22 chars).

    Never one starting with "-": the storage tool's argument parser takes it for an option
    ("argument --cluster-id/-t: expected one argument"), one fresh stack in 64; Kafka's own
    ``Uuid.randomUuid`` draws again for the same reason."""
    while True:
        found = base64.urlsafe_b64encode(draw()).rstrip(b"=").decode()
        if not found.startswith("-"):
            return found


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
        cluster_id(),
        "-c",
        str(paths.properties),
    )
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def prepare_tls(settings: StackSettings, paths: KafkaPaths) -> None:
    """The CA, the broker's PEM keystore and the local users' passwords, created once.

    The broker certificate names the listener's host (and localhost), which clients check.
    """
    host, _ = _host_port(settings.kafka_bootstrap)
    if not paths.ca.cert.is_file():
        kafka_tls.make_ca(paths.security)
        paths.keystore.unlink(missing_ok=True)
    if not paths.keystore.is_file():
        broker = kafka_tls.issue(
            paths.ca, paths.security, "broker", hosts=sorted({host, "localhost"}), server=True
        )
        # Kafka's PEM keystore: the PKCS#8 key, then the certificate chain, in one file.
        keystore = broker.key.read_bytes() + broker.cert.read_bytes() + paths.ca.cert.read_bytes()
        fd = os.open(paths.keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(keystore)
    if not paths.users.is_file():
        passwords = {user: secrets.token_hex(24) for user in (GATEWAY_USER, SERVICE_USER)}
        fd = os.open(paths.users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(passwords, out)


def sasl_ssl_listener(settings: StackSettings) -> SaslSslListener | None:
    """The local SASL_SSL listener's address, CA and users; None when it is off."""
    if not settings.kafka_sasl_ssl_port:
        return None
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    host, _ = _host_port(settings.kafka_bootstrap)
    passwords = json.loads(paths.users.read_text())
    return SaslSslListener(
        bootstrap=f"{host}:{settings.kafka_sasl_ssl_port}",
        ca_file=paths.ca.cert,
        passwords={user: SecretStr(pw) for user, pw in passwords.items()},
    )


def _run_tool(paths: KafkaPaths, main: str, *args: str) -> str:
    argv = _java(paths, main, *args, heap_mb=256)
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
    if result.returncode != 0:
        # The arguments may hold a password: name the tool, not its command line.
        raise StackError(f"{main.rsplit('.', 1)[-1]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def set_scram_password(settings: StackSettings, user: str, password: SecretStr) -> None:
    """Create or change a SCRAM-SHA-512 login (KRaft stores it in the cluster metadata)."""
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    config = f"SCRAM-SHA-512=[iterations={SCRAM_ITERATIONS},password={password.get_secret_value()}]"
    _run_tool(
        paths,
        "kafka.admin.ConfigCommand",
        "--bootstrap-server",
        settings.kafka_bootstrap,
        "--alter",
        "--add-config",
        config,
        "--entity-type",
        "users",
        "--entity-name",
        user,
    )


def gateway_acls(
    settings: StackSettings, principal: str, topic: str, *, remove: bool = False
) -> None:
    """What a gateway principal may do, and all it may do: WRITE to its readings topic and
    IDEMPOTENT_WRITE on the cluster (its producer is idempotent). ``remove`` takes them away."""
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    common = ["--bootstrap-server", settings.kafka_bootstrap, "--remove" if remove else "--add"]
    common += ["--force"] if remove else []
    who = ["--allow-principal", f"User:{principal}"]
    main = "org.apache.kafka.tools.AclCommand"
    _run_tool(paths, main, *common, *who, "--operation", "Write", "--topic", topic)
    _run_tool(paths, main, *common, *who, "--operation", "IdempotentWrite", "--cluster")


def list_acls(settings: StackSettings, principal: str) -> str:
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    return _run_tool(
        paths,
        "org.apache.kafka.tools.AclCommand",
        "--bootstrap-server",
        settings.kafka_bootstrap,
        "--list",
        "--principal",
        f"User:{principal}",
    )


def _security_fingerprint(settings: StackSettings, paths: KafkaPaths) -> str:
    """What the applied users and ACLs depend on: the cluster, the passwords, the topic."""
    meta = (paths.data / "meta.properties").read_text()
    text = f"{meta}|{paths.users.read_text()}|{settings.topic_prefix}"
    return hashlib.sha256(text.encode()).hexdigest()


def apply_users_and_acls(settings: StackSettings, paths: KafkaPaths) -> None:
    """The local SCRAM users and the gateway's ACLs, once per cluster (a few JVM runs)."""
    fingerprint = _security_fingerprint(settings, paths)
    if paths.applied.is_file() and paths.applied.read_text() == fingerprint:
        return
    listener = sasl_ssl_listener(settings)
    assert listener is not None  # only called with the listener on
    for user, password in listener.passwords.items():
        set_scram_password(settings, user, password)
    gateway_acls(settings, GATEWAY_USER, f"{settings.topic_prefix}readings.raw")
    paths.applied.write_text(fingerprint)


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
    host, port = _host_port(settings.kafka_bootstrap)
    if read_pid(paths.pid) is not None:
        # A start that stopped after the broker came up left the users or ACLs to do.
        if settings.kafka_sasl_ssl_port and port_open(host, settings.kafka_sasl_ssl_port):
            apply_users_and_acls(settings, paths)
        return "already running"
    if port_open(host, port):
        raise StackError(f"{host}:{port} is taken by a process this stack did not start")
    if settings.kafka_sasl_ssl_port and port_open(host, settings.kafka_sasl_ssl_port):
        raise StackError(
            f"{host}:{settings.kafka_sasl_ssl_port} (kafka_sasl_ssl_port) is taken by a process "
            "this stack did not start"
        )
    paths.root.mkdir(parents=True, exist_ok=True)
    fetch_jars(settings, paths)
    if settings.kafka_sasl_ssl_port:
        prepare_tls(settings, paths)
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
    if settings.kafka_sasl_ssl_port:
        apply_users_and_acls(settings, paths)
        return f"started (pid {pid}; SASL_SSL on {host}:{settings.kafka_sasl_ssl_port})"
    return f"started (pid {pid})"


def stop(settings: StackSettings) -> str:
    paths = KafkaPaths.under(settings.state_dir, settings.kafka_version)
    pid = read_pid(paths.pid)
    if pid is None:
        return "not running"
    terminate(pid, timeout=60.0)
    paths.pid.unlink(missing_ok=True)
    return f"stopped (pid {pid})"
