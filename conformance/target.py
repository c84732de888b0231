"""The element under test: where it listens and over which transport (RFC 3261 §18, §19.1)."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, replace

__all__ = ["Target", "TargetError", "is_loopback", "parse_target"]

TRANSPORTS = ("udp", "tcp", "tls", "ws")
_SHORT = re.compile(
    r"(?P<transport>udp|tcp|tls|ws):(?P<host>\[[^\]]+\]|[^:]+):(?P<port>\d+)", re.I
)
_URI = re.compile(
    r"(?P<scheme>sips?):(?:(?P<user>[^@;:]*)(?::[^@;]*)?@)?(?P<host>\[[^\]]+\]|[^:;?]+)(?::(?P<port>\d+))?"
    r"(?P<params>;[^?]*)?",
    re.I,
)


class TargetError(ValueError):
    """A target the runner cannot or will not test."""


@dataclass(frozen=True)
class Target:
    """Host, port and transport of the element under test, and the user it serves.

    ``user`` is the user part of ``--target sip:USER@host:port`` ('' when not given): the
    runner addresses every request to it (it wins over the profile's ``user``).
    """

    host: str
    port: int
    transport: str = "udp"
    scheme: str = "sip"
    user: str = ""

    @property
    def address(self) -> tuple[str, int]:
        return (self.host.strip("[]"), self.port)

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def hostport(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"

    @property
    def via_transport(self) -> str:
        return self.transport.upper()

    def uri(self, user: str | None = None) -> str:
        """A URI naming the target (a Request-URI for requests sent straight to it)."""
        userinfo = f"{user}@" if user else ""
        suffix = "" if self.transport == "udp" or self.scheme == "sips" else ";transport=tcp"
        if self.transport in ("tls", "ws") and self.scheme == "sip":
            suffix = f";transport={self.transport}"
        return f"{self.scheme}:{userinfo}{self.hostport}{suffix}"

    def aor_uri(self, user: str | None = None) -> str:
        """A URI naming ``user`` at the target's host, fit for To and From: RFC 3261 §19.1.1
        Table 1 allows neither a port nor a transport parameter there."""
        userinfo = f"{user}@" if user else ""
        return f"{self.scheme}:{userinfo}{self.host}"

    def __str__(self) -> str:
        userinfo = f"{self.user}@" if self.user else ""
        return f"{self.scheme}:{userinfo}{self.hostport};transport={self.transport}"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; names are not resolved."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(text: str, transport: str | None = None, allow_remote: bool = False) -> Target:
    """A `Target` from ``sip:host:port;transport=tcp``, ``sips:...`` or ``udp:host:port``."""
    text = text.strip()
    if m := _SHORT.fullmatch(text):
        target = Target(m["host"], int(m["port"]), m["transport"].lower())
    elif m := _URI.fullmatch(text):
        scheme = m["scheme"].lower()
        params = dict(
            (p.partition("=")[0].lower(), p.partition("=")[2].lower())
            for p in (m["params"] or "").split(";")
            if p
        )
        chosen = params.get("transport") or ("tls" if scheme == "sips" else "udp")
        default_port = 5061 if chosen == "tls" else 5060
        port = int(m["port"]) if m["port"] else default_port
        target = Target(m["host"], port, chosen, scheme, m["user"] or "")
    else:
        raise TargetError(f"not a SIP URI or transport:host:port: {text!r}")
    if transport:
        target = replace(target, transport=transport.lower())
    if target.transport not in TRANSPORTS:
        raise TargetError(f"unsupported transport {target.transport!r} (udp, tcp, tls or ws)")
    if target.host.lower() == "localhost":
        target = replace(target, host="127.0.0.1")
    if not allow_remote and not is_loopback(target.host):
        raise TargetError(
            f"{target.host} is not a loopback address; the runner sends hostile messages and "
            "only tests loopback targets unless --allow-remote is given"
        )
    if target.family == socket.AF_INET6:
        target = replace(target, host=f"[{target.host.strip('[]')}]")
    return target
