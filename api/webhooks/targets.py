"""Outbound URL validation against server-side request forgery (Standard Webhooks spec, "SSRF").

A webhook URL must be http(s) and its host must resolve only to addresses a webhook may reach.
Always refused: link-local (169.254.0.0/16, fe80::/10), cloud metadata (169.254.169.254,
fd00:ec2::254, Alibaba Cloud's 100.100.100.200, metadata.google.internal), unspecified and
"this network" (0.0.0.0/8, ::), multicast and reserved addresses, and IPv4-compatible IPv6
addresses (::/96 but :: and ::1; deprecated by RFC 4291 2.5.5.1, no receiver has one). Loopback
and private ranges are refused too unless the API allows private targets (a park's duty systems
often sit on its own network). IPv4 addresses carried inside IPv6 (mapped ::ffff:0:0/96,
IPv4-compatible ::/96, 6to4 2002::/16, Teredo, NAT64 64:ff9b::/96) are judged as the IPv4
address they carry.

The check runs when a subscription is made and again before every attempt (DNS can change), and
the attempt connects to the very addresses that passed (``Target.connect_urls``), so a name that
re-resolves elsewhere between check and connect cannot slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, Azure, GCP, Huawei Cloud, OpenStack
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud (ECS instance metadata)
    }
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LOOPBACK_OR_UNSPECIFIED_V6 = frozenset({ipaddress.ip_address("::"), ipaddress.ip_address("::1")})
_RESOLVE_TIMEOUT_S = 5.0
# smtp: the submission port with STARTTLS (RFC 6409); smtps: implicit TLS (RFC 8314).
_DEFAULT_PORTS = {"http": 80, "https": 443, "smtp": 587, "smtps": 465}


class TargetError(ValueError):
    """The URL cannot be used as a webhook target; the message says why."""


class TargetRefused(TargetError):  # noqa: N818 - reads as the condition it reports
    """The URL is malformed or reaches an address a webhook must not reach."""


class TargetUnresolvable(TargetError):  # noqa: N818 - reads as the condition it reports
    """The host name did not resolve (perhaps only for now)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where an attempt connects: the checked addresses in resolver order (the next one is tried
    when a connection is refused), with the original host for HTTP and TLS."""

    connect_urls: tuple[str, ...]
    host_header: str
    addresses: tuple[str, ...]
    extensions: dict[str, str] = field(default_factory=dict)
    host: str = ""  # the name TLS verifies (an SMTP client connects to the addresses itself)


def _judged(ip: IPAddress) -> list[IPAddress]:
    """The addresses that decide for ``ip``: an IPv4 address carried in IPv6 first."""
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    # Mapped and NAT64 addresses reach exactly the IPv4 address they carry.
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64 or _ipv4_compatible(ip):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    carried: list[IPAddress] = []
    if ip.sixtofour is not None:
        carried.append(ip.sixtofour)
    if ip.teredo is not None:
        carried.extend(ip.teredo)
    return [*carried, ip]


def _ipv4_compatible(ip: IPAddress) -> bool:
    return ip in _IPV4_COMPATIBLE and ip not in _LOOPBACK_OR_UNSPECIFIED_V6


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not reach ``ip``, or None when it may."""
    judged = _judged(ip)
    for each in judged:
        if each in _METADATA_ADDRESSES:
            return "a cloud metadata address"
        if each.is_link_local:
            return "a link-local address"
        if each.is_unspecified or each in _THIS_NETWORK:
            return "an unspecified address"
        if each.is_multicast:
            return "a multicast address"
        # IPv4 only: Python counts ::/8 (loopback ::1 included) as reserved IPv6.
        if isinstance(each, ipaddress.IPv4Address) and each.is_reserved:
            return "a reserved address"
    if _ipv4_compatible(ip):
        return "a deprecated IPv4-compatible IPv6 address"
    if allow_private:
        return None
    for each in judged:
        if each.is_loopback:
            return "a loopback address (private targets are not allowed)"
        if not each.is_global:
            return "a private address (private targets are not allowed)"
    return None


HTTP_SCHEMES = ("http", "https")
# E-mail channels: smtp:// is SMTP with STARTTLS (required), smtps:// is implicit TLS; no
# plain-text SMTP, since a password and the park's alerts would cross the network in clear.
SMTP_SCHEMES = ("smtp", "smtps")


def parse(url: str, *, schemes: tuple[str, ...] = HTTP_SCHEMES) -> httpx.URL:
    """The URL if it is an absolute URL of one of ``schemes`` with a host and no credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in schemes:
        raise TargetRefused(f"a URL of this channel must be {' or '.join(schemes)}")
    if not parsed.host:
        raise TargetRefused("a webhook URL needs a host")
    if parsed.userinfo:
        # Credentials in a URL end up in logs; receivers authenticate by the signature.
        raise TargetRefused("a webhook URL must not carry credentials (user:password@)")
    return parsed


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise TargetUnresolvable(f"cannot resolve {host}: {exc or 'timed out'}") from exc
    # Strip an IPv6 zone ("fe80::1%eth0"): the address itself decides.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def resolve(
    url: str, *, allow_private: bool, schemes: tuple[str, ...] = HTTP_SCHEMES
) -> Target:
    """Check ``url`` and every address its host resolves to; where to connect if all pass."""
    parsed = parse(url, schemes=schemes)
    host = parsed.raw_host.decode("ascii").rstrip(".").lower()
    if host in _METADATA_NAMES:
        raise TargetRefused(f"{host} is a cloud metadata host")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    addresses = await _addresses(host, port)
    if not addresses:
        raise TargetUnresolvable(f"{host} resolves to no address")
    for ip in addresses:
        reason = refusal(ip, allow_private=allow_private)
        if reason is not None:
            raise TargetRefused(f"{host} resolves to {ip}, {reason}")
    checked = tuple(dict.fromkeys(str(ip) for ip in addresses))  # unique, in resolver order
    extensions = {}
    if parsed.scheme == "https" and checked[0] != host:
        # TLS still presents and verifies the name, not the address we connect to.
        extensions["sni_hostname"] = host
    return Target(
        connect_urls=tuple(str(parsed.copy_with(host=ip)) for ip in checked),
        host_header=parsed.netloc.decode("ascii"),
        addresses=checked,
        extensions=extensions,
        host=host,
    )
