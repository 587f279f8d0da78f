"""Configuration of one OPC UA server the gateway collects from, validated on load.

The gateway config (``ingest/config.py``) holds a list of these under ``opcua_servers``. Each
point names a node, the meter it measures, and how it is collected: a monitored item in a
subscription (the normal path) or a polled read (the fallback for servers or nodes where
subscriptions misbehave). Security follows OPC UA Part 7 profiles: the policy and the message
mode go together (None with None, a signing policy with Sign or SignAndEncrypt).

The server's certificate is never trusted because the server presents it (OPC UA Part 2 8.1,
Part 4 6.1.3: the client validates the server's Application Instance Certificate against its
trust list): a signing policy needs either a pinned ``server_certificate`` or a ``trust_list``
directory. A user name and password travel only over a signed and encrypted channel, so they
are refused with security policy None (Part 4 7.36.4: the password is encrypted to the server's
key, which policy None does not have).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from accounting.instants import DEFAULT_BOUND_YEARS
from contracts.patterns import ID_RE, UNIT_RE

SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
PointKind = Literal["cumulative", "instantaneous"]

# The string NodeId forms of OPC UA Part 6 5.3.1.10, namespace index form only (``nsu=`` needs
# the server's namespace table, which the gateway resolves nowhere).
_NODE_ID = re.compile(
    r"^(ns=\d{1,5};)?(i=\d{1,10}|s=.{1,4000}|b=[A-Za-z0-9+/=]{1,4000}"
    r"|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\Z",
    re.DOTALL,
)
# Same alphabets as the wire contract in ``contracts/records.py``; no "/" in a server name because
# the source key is "<gateway_id>/<server name>".
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,63}\Z")
_METER_ID = ID_RE
_UNIT = UNIT_RE

# Paths come from YAML as strings; strict mode would otherwise refuse str for Path.
FilePath = Annotated[Path, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SubscriptionSettings(_Strict):
    """How a point is monitored: intervals in milliseconds, deadband in the point's unit."""

    publishing_interval_ms: float = Field(default=1000.0, gt=0, le=3_600_000)
    sampling_interval_ms: float = Field(default=1000.0, ge=0, le=3_600_000)
    deadband_abs: float | None = Field(
        default=None, ge=0, description="Absolute deadband; None reports every change."
    )


class OpcUaPoint(_Strict):
    """One variable node read as one meter's register."""

    node_id: str
    meter_id: str
    unit: str
    kind: PointKind = "instantaneous"
    subscription: SubscriptionSettings | None = None
    poll_interval_s: float | None = Field(default=None, gt=0, le=86_400)

    @field_validator("node_id")
    @classmethod
    def _node_id_form(cls, value: str) -> str:
        if not _NODE_ID.match(value):
            raise ValueError(
                f"node_id {value!r} is not a string NodeId such as 'ns=2;s=E-001.ActiveEnergy' "
                "or 'ns=0;i=2258'"
            )
        return value

    @field_validator("meter_id")
    @classmethod
    def _meter_id_form(cls, value: str) -> str:
        if not _METER_ID.match(value):
            raise ValueError(f"meter_id {value!r} must match {_METER_ID.pattern}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_form(cls, value: str) -> str:
        if not _UNIT.match(value):
            raise ValueError(f"unit {value!r} must match {_UNIT.pattern}")
        return value

    @model_validator(mode="after")
    def _one_collection_mode(self) -> Self:
        if (self.subscription is None) == (self.poll_interval_s is None):
            raise ValueError(
                f"point {self.node_id!r} needs exactly one of 'subscription' or 'poll_interval_s'"
            )
        return self


class OpcUaServerConfig(_Strict):
    """One OPC UA server: endpoint, security, credentials, reconnect policy and points."""

    name: str
    endpoint: str
    security_policy: SecurityPolicy = "None"
    security_mode: SecurityMode = "None"
    certificate: FilePath | None = Field(default=None, description="Client certificate (DER/PEM)")
    private_key: FilePath | None = Field(default=None, description="Client private key (PEM)")
    server_certificate: FilePath | None = Field(
        default=None,
        description="Pin the server's certificate (DER/PEM): only this one is accepted.",
    )
    trust_list: FilePath | None = Field(
        default=None,
        description=(
            "Directory of trusted server certificates or their issuing CA certificates "
            "(.der/.pem); a server certificate not trusted by it is refused."
        ),
    )
    username: str | None = None
    password: SecretStr | None = None
    request_timeout_s: float = Field(default=4.0, gt=0, le=120)
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)
    clock_skew_threshold_s: float = Field(
        default=5.0, gt=0, description="Device vs gateway clock difference that is flagged."
    )
    timestamp_bound_years: int = Field(
        default=DEFAULT_BOUND_YEARS,
        ge=1,
        le=1000,
        description="Device times more than this many years from the gateway's clock are "
        "counted (opcua_timestamp_out_of_range_readings_total) and quarantined by the worker "
        "as TIMESTAMP_OUT_OF_RANGE.",
    )
    points: list[OpcUaPoint] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_form(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r} must match {_NAME.pattern}")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_form(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"endpoint {value!r} has an invalid port") from exc
        if parts.scheme != "opc.tcp" or not parts.hostname:
            raise ValueError(f"endpoint {value!r} must look like opc.tcp://host:4840[/path]")
        if port is None:
            raise ValueError(f"endpoint {value!r} must name a port, e.g. opc.tcp://host:4840")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError(
                f"security_policy {self.security_policy!r} and security_mode "
                f"{self.security_mode!r} do not go together: policy None requires mode None, "
                "and a signing policy requires Sign or SignAndEncrypt"
            )
        if self.security_policy != "None" and (
            self.certificate is None or self.private_key is None
        ):
            raise ValueError(
                f"security_policy {self.security_policy!r} requires 'certificate' and "
                "'private_key' paths"
            )
        if self.security_policy != "None" and (
            (self.server_certificate is None) == (self.trust_list is None)
        ):
            raise ValueError(
                f"security_policy {self.security_policy!r} requires exactly one of "
                "'server_certificate' (pin the server's certificate) or 'trust_list' (a directory "
                "of trusted certificates): a certificate the server merely presents is not trusted"
            )
        if self.security_policy == "None" and (
            self.server_certificate is not None or self.trust_list is not None
        ):
            raise ValueError(
                "'server_certificate' and 'trust_list' need a signing security_policy; "
                "with policy None the server's certificate is never checked"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("'username' and 'password' go together: give both or neither")
        if self.username is not None and self.security_policy == "None":
            raise ValueError(
                "'username' and 'password' are refused with security_policy None and "
                "security_mode None: the password would cross the network readable by anyone; "
                "use a signing policy with security_mode SignAndEncrypt"
            )
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                f"reconnect_min_s ({self.reconnect_min_s}) exceeds "
                f"reconnect_max_s ({self.reconnect_max_s})"
            )
        _refuse_duplicates("node_id", [p.node_id for p in self.points])
        _refuse_duplicates("meter_id", [p.meter_id for p in self.points])
        return self


def _refuse_duplicates(key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key} {value!r} appears in more than one point")
        seen.add(value)
