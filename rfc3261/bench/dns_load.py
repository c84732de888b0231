"""Calls/s through the proxy to a name located over DNS (RFC 3263) vs to an IP literal.

SIPp ``sipp/uac_rr.xml`` -> ``python -m rfc3261 proxy`` -> SIPp ``sipp/uas_rr.xml``, as in
:mod:`rfc3261.bench.proxy_load`, twice in one run: the proxy's static route for
example.com names the UAS as ``sip:127.0.0.1:PORT`` (no DNS), then as
``sip:uas.example.test`` with ``--dns`` pointed at a dnsmasq on 127.0.0.1 whose zone has
``_sip._udp.uas.example.test`` SRV and A records.  Both run at the same offered rate,
alternately, three rounds each; the figure is the calls the proxy completes per second
of its own CPU time (the median round), which a loaded machine disturbs less than the
highest rate SIPp manages to push.  The target: a name costs nothing in steady state
(every answer is cached for its TTL, and a cached answer is used without a task), so
the ratio name / IP literal is >= 0.9.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rfc3261.asyncio.loopback import free_port

from .proxy_load import (
    REPO,
    SCENARIOS,
    _cpu_seconds,
    _pinned,
    _sipp,
    _sipp_step,
    _stop,
)

NAME = "dns_load"
TARGET_RATIO = 0.9


def _dnsmasq(port: int, uas_port: int) -> subprocess.Popen[bytes]:
    binary = "/usr/sbin/dnsmasq" if os.access("/usr/sbin/dnsmasq", os.X_OK) else "dnsmasq"
    process = subprocess.Popen(
        [
            binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
            f"--port={port}", "--pid-file=", "--user=", "--local=/example.test/",
            "--local-ttl=300",
            f"--srv-host=_sip._udp.uas.example.test,uas.example.test,{uas_port},0,0",
            "--host-record=uas.example.test,127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError("dnsmasq did not start")
    return process


def _proxy(port: int, workdir: Path, next_hop: str, *extra: str) -> subprocess.Popen[str]:
    config = workdir / f"proxy-{port}.toml"
    config.write_text(f'[[route]]\ndomain = "example.com"\nnext-hop = "{next_hop}"\n')
    command = _pinned(
        0,
        [
            sys.executable, "-m", "rfc3261", "proxy", "--listen", f"sip:127.0.0.1:{port}",
            "--domain", "proxy.example.test", "--buffer", "4194304", "-q",
            "--db", str(workdir / f"proxy-{port}.db"), "--config", str(config), *extra,
        ],
    )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening" not in line:
        process.kill()
        raise RuntimeError(f"proxy did not start: {line!r}")
    return process


def _step(kind: str, rate: int, seconds: float, workdir: Path, dns: str | None) -> dict[str, Any]:
    """One load step; ``kind`` "ip" routes to the UAS by address, "dns" by name."""
    uas_port, proxy_port = free_port(), free_port()
    dns_server: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[str] | None = None
    uas: subprocess.Popen[str] | None = None
    try:
        if kind == "dns":
            dns_port = free_port()
            dns_server = _dnsmasq(dns_port, uas_port)
            server = _proxy(
                proxy_port, workdir, "sip:uas.example.test", "--dns", f"127.0.0.1:{dns_port}"
            )
        else:
            server = _proxy(proxy_port, workdir, f"sip:127.0.0.1:{uas_port}")
        uas = _sipp(
            ["-sf", str(SCENARIOS / "uas_rr.xml"), "-i", "127.0.0.1", "-p", str(uas_port)],
            workdir,
            background=True,
        )
        time.sleep(0.3)
        cpu_before = _cpu_seconds(server.pid)
        result = _sipp_step(
            "uac_rr.xml", proxy_port, rate, int(rate * seconds), workdir, "-s", "bob"
        )
        cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        for process in (server, uas, dns_server):
            if process is not None:
                _stop(process)  # type: ignore[arg-type]
    result["server_cpu_us_per_call"] = round(cpu / max(result["successful"], 1) * 1e6, 1)
    result["cpu_bound_calls_per_second"] = round(result["successful"] / cpu if cpu > 0 else 0.0)
    return result


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    doc: dict[str, Any] = {"name": NAME, "machine": machine_info(), "target_ratio": TARGET_RATIO}
    if shutil.which("sipp") is None:
        doc["skipped"] = "sipp not found (Debian package sip-tester)"
        return doc
    if not (os.access("/usr/sbin/dnsmasq", os.X_OK) or shutil.which("dnsmasq")):
        doc["skipped"] = "dnsmasq not found (Debian package dnsmasq-base)"
        return doc
    seconds = 1.0 if quick else 5.0
    rate = 100 if quick else 300
    rounds = 1 if quick else 3
    doc.update(seconds_per_step=seconds, rate=rate, ip=[], dns=[])
    with tempfile.TemporaryDirectory(prefix="sipref-dns-bench-") as tmp:
        workdir = Path(tmp)
        # Alternate the two, so that a change in the machine's load hits both alike.
        for _ in range(rounds):
            for kind in ("ip", "dns"):
                doc[kind].append(_step(kind, rate, seconds, workdir, None))
    ip = statistics.median(s["cpu_bound_calls_per_second"] for s in doc["ip"])
    dns = statistics.median(s["cpu_bound_calls_per_second"] for s in doc["dns"])
    clean = all(s["failed"] == 0 and s["exit_status"] == 0 for s in doc["ip"] + doc["dns"])
    doc["clean"] = clean
    doc["ip_calls_per_cpu_second"] = ip
    doc["dns_calls_per_cpu_second"] = dns
    if clean and ip:
        doc["ratio"] = round(dns / ip, 3)
    return doc


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """Calls/s to a name >= 0.9 x calls/s to an IP literal (None when not measured)."""
    ratio = doc.get("ratio")
    return None if ratio is None else ratio >= TARGET_RATIO


def render(doc: dict[str, Any]) -> str:
    lines = [f"{NAME}: proxy calls/s to a name over DNS vs to an IP literal"]
    if "skipped" in doc:
        return "\n".join([*lines, f"  skipped ({doc['skipped']})"])
    for kind in ("ip", "dns"):
        for step in doc[kind]:
            lines.append(
                f"  {kind:4} offered {step['rate']:5} cps, achieved {step['sipp_call_rate']}:"
                f" {step['successful']} ok, {step['failed']} failed,"
                f" proxy {step['server_cpu_us_per_call']} us CPU per call"
                f" (= {step['cpu_bound_calls_per_second']} calls/s per core)"
            )
    lines.append(
        f"  median calls per proxy CPU second: IP literal {doc['ip_calls_per_cpu_second']},"
        f" name over DNS {doc['dns_calls_per_cpu_second']}: ratio {doc.get('ratio')}"
        f" (target {TARGET_RATIO}; every call clean: {doc['clean']})"
    )
    return "\n".join(lines)
