"""A real DNS server for the RFC 3263 tests: Debian's dnsmasq on 127.0.0.1, records from a list.

dnsmasq (package ``dnsmasq-base``) serves NAPTR (``--naptr-record``), SRV
(``--srv-host``) and A/AAAA (``--host-record``) records from its command
line, which is all RFC 3263 needs.  It runs with ``--no-resolv --no-hosts``
and ``--local=/example.test/``: it never forwards a query and answers
NXDOMAIN for any other name under example.test.  Without dnsmasq the tests
skip, unless SIPREF_REQUIRE_EXTERNAL=1.

:func:`forbid_system_resolver` is the guard every DNS test uses: it makes
reading /etc/resolv.conf (dnspython's system configuration) and name lookups
through the C library (``socket.getaddrinfo`` of a name) fail the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.resolver
import pytest

from rfc3261.tests.transport_support import require_external


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (as far as one can tell)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise OSError("no port free for both UDP and TCP")


def dnsmasq_path() -> str:
    """The dnsmasq binary (often in /usr/sbin, outside a user's PATH)."""
    for candidate in ("/usr/sbin/dnsmasq", shutil.which("dnsmasq")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return require_external("dnsmasq", "dnsmasq-base")


@dataclass
class Zone:
    """Records for dnsmasq, each as its option value.

    ``naptr``: "name,order,preference,flags,service,regexp,replacement";
    ``srv``: "_service._proto.name,target,port,priority,weight";
    ``hosts``: "name,address[,address]".
    """

    naptr: list[str] = field(default_factory=list)
    srv: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    ttl: int = 60

    def arguments(self) -> list[str]:
        args = [f"--naptr-record={record}" for record in self.naptr]
        args += [f"--srv-host={record}" for record in self.srv]
        args += [f"--host-record={record}" for record in self.hosts]
        return args


@contextlib.contextmanager
def dnsmasq(zone: Zone, port: int | None = None, address: str = "127.0.0.1") -> Iterator[str]:
    """Run dnsmasq on ``address`` (loopback) serving ``zone``; yields "ADDRESS:PORT"."""
    for attempt in range(5):
        chosen = port or free_port()
        try:
            process = _start_dnsmasq(zone, chosen, address)
        except RuntimeError as error:
            # Another process took the port between the probe and dnsmasq's bind.
            if port is not None or "in use" not in str(error) or attempt == 4:
                raise
            continue
        break
    try:
        yield f"{address}:{chosen}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


def _start_dnsmasq(zone: Zone, port: int, address: str) -> subprocess.Popen[bytes]:
    binary = dnsmasq_path()
    command = [
        binary,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        f"--listen-address={address}",
        "--bind-interfaces",
        f"--port={port}",
        "--pid-file=",
        "--user=",
        "--log-facility=-",
        "--local=/example.test/",
        f"--local-ttl={zone.ttl}",
        *zone.arguments(),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        _wait_ready(address, port, process)
    except BaseException:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        raise
    return process


def _wait_ready(address: str, port: int, process: subprocess.Popen[bytes]) -> None:
    probe = dns.resolver.Resolver(configure=False)
    probe.nameservers = [address]
    probe.port = port
    probe.lifetime = 0.2
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"dnsmasq exited: {error.strip()}")
        try:
            probe.resolve("ready.example.test.", "A", raise_on_no_answer=False)
            return
        except dns.resolver.NXDOMAIN:
            return  # it answers
        except dns.exception.DNSException:
            time.sleep(0.05)
    raise RuntimeError("dnsmasq did not answer within 5 s")


@pytest.fixture
def forbid_system_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything reads the system resolver configuration or resolves a name."""

    def no_resolv_conf(*args: object, **kwargs: object) -> None:
        pytest.fail("the system resolver configuration (/etc/resolv.conf) was read")

    real_getaddrinfo = socket.getaddrinfo

    def numeric_only(host: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, bytes):
            host = host.decode()
        if isinstance(host, str) and host not in ("", "localhost"):
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            except OSError:
                pytest.fail(f"the system resolver was asked for {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", no_resolv_conf)
    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
