"""The runner's DNS server for the RFC 3263 cases: dnsmasq (Debian's ``dnsmasq-base``) on
loopback, answering only for the zones a case serves (``--local=``), stopped in the case's
postamble.  Used by ``uac_dns.py``, ``uac_rfc3263.py`` and ``proxy_rfc3263.py``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

from conformance.model import Context

__all__ = ["start_dnsmasq"]


def _dnsmasq() -> str | None:
    for candidate in ("/usr/sbin/dnsmasq", shutil.which("dnsmasq")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _ready(host: str, port: int, deadline: float) -> bool:
    """dnsmasq answers a query (any answer) on ``host``:``port``."""
    query = bytes.fromhex("12340100000100000000000005726561647904746573740000010001")
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.1)
            try:
                sock.sendto(query, (host, port))
                if sock.recv(512)[:2] == b"\x124":
                    return True
            except OSError:
                time.sleep(0.05)
    return False


def start_dnsmasq(ctx: Context, host: str, port: int, options: list[str]) -> None:
    """Serve ``options`` (dnsmasq's ``--local=``, ``--srv-host=``, ``--naptr-record=``,
    ``--host-record=`` …) on ``host``:``port`` until the postamble: not applicable without
    dnsmasq, inconclusive when it does not answer within 5 s."""
    binary = _dnsmasq()
    if binary is None:
        ctx.not_applicable("dnsmasq (dnsmasq-base) is not installed: no zone to serve")
    assert binary is not None
    # no configuration file, no upstream servers, no /etc/hosts: only the case's records
    argv = [binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv"]
    argv += ["--no-hosts", "--no-poll", f"--listen-address={host}", "--bind-interfaces"]
    argv += [f"--port={port}", "--pid-file=", "--user=", "--log-facility=-", *options]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def stop() -> bool:
        process.terminate()
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(3)
        return True

    ctx.on_teardown("the DNS server stopped", stop)
    if not _ready(host, port, time.monotonic() + 5.0):
        ctx.inconclusive("the runner's DNS server (dnsmasq) did not start")
