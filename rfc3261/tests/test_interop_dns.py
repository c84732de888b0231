"""RFC 3263 interop: sipref and Kamailio (and SIPp) find each other through DNS names.

One dnsmasq (``dns_support``) serves example.test on 127.0.0.77, port 53: Kamailio
has no setting for its DNS server and asks the servers of /etc/resolv.conf, so it runs
in a private mount namespace (``unshare -m``) whose /etc/resolv.conf names only that
dnsmasq.  The machine's own resolver configuration is never changed.  sipref is given
the same server with ``--dns``.

- sipref UA --(SRV kam.example.test)--> Kamailio --(NAPTR/SRV callee.example.test,
  TCP)--> sipref UA: a call set up and torn down through names in both directions.
- SIPp calls sipref's proxy, which forwards to a name resolved over DNS to a SIPp UAS.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfc3261.programs.common import WIRE_LOG, parse_args
from rfc3261.programs.ua import EXIT_OK, build_parser, run_program

from .dns_support import Zone, dnsmasq, free_port
from .test_interop_ua import options_ping, stop
from .transport_support import require_external

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
DNS_ADDRESS = "127.0.0.77"  # a loopback address of its own, so that port 53 is free


def _private_resolv_conf_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    result = subprocess.run(
        [unshare, "-m", "sh", "-c", "mount --bind /dev/null /etc/resolv.conf"],
        capture_output=True,
        timeout=10,
    )
    return result.returncode == 0


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def wire() -> Iterator[Capture]:
    handler = Capture()
    level, disabled = WIRE_LOG.level, WIRE_LOG.disabled
    WIRE_LOG.setLevel(logging.INFO)
    WIRE_LOG.disabled = False
    WIRE_LOG.addHandler(handler)
    try:
        yield handler
    finally:
        WIRE_LOG.removeHandler(handler)
        WIRE_LOG.setLevel(level)
        WIRE_LOG.disabled = disabled


def _port_53_free() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((DNS_ADDRESS, 53))
        except OSError:
            return False
    return True


def test_kamailio_and_sipref_call_each_other_through_names(tmp_path: Path, wire: Capture) -> None:
    kamailio = require_external("kamailio", "kamailio")
    if not _private_resolv_conf_works():
        pytest.skip("unshare -m with a bind mount is not permitted here (needs root)")
    if not _port_53_free():
        pytest.skip(f"port 53 on {DNS_ADDRESS} is taken")
    kport, callee_port = free_port(), free_port()
    zone = Zone(
        naptr=["callee.example.test,10,10,S,SIP+D2T,,_sip._tcp.callee.example.test"],
        srv=[
            f"_sip._udp.kam.example.test,kam.example.test,{kport},0,0",
            f"_sip._tcp.callee.example.test,callee.example.test,{callee_port},0,0",
        ],
        hosts=["kam.example.test,127.0.0.1", "callee.example.test,127.0.0.1"],
    )
    config = tmp_path / "dns_proxy.cfg"
    config.write_text(
        (HERE / "kamailio" / "dns_proxy.cfg").read_text().replace("@PORT@", str(kport))
    )
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions attempts:1 timeout:1\n")
    rundir = tmp_path / "run"
    rundir.mkdir()
    log = tmp_path / "kamailio.log"
    with dnsmasq(zone, port=53, address=DNS_ADDRESS) as server, log.open("w") as log_file:
        process = subprocess.Popen(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                f"mount --bind {resolv} /etc/resolv.conf && exec {kamailio} -f {config} "
                f"-DD -E -Y {rundir} -m 64 -M 8",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            end = time.monotonic() + 15
            while not options_ping(kport):
                if process.poll() is not None or time.monotonic() > end:
                    raise AssertionError(f"kamailio did not start: {log.read_text()[-3000:]}")
            caller, outcome = asyncio.run(_call(server, callee_port))
        finally:
            stop(process)
    text = log.read_text()
    assert caller.status == EXIT_OK, text[-3000:]
    assert caller.calls_established == caller.calls_ended == 1
    assert outcome.calls_answered == 1
    # Kamailio reached the callee over TCP: only the NAPTR record says TCP.
    assert any(line.startswith("<- TCP") and " INVITE " in line for line in wire.lines), wire.lines


async def _call(server: str, callee_port: int) -> tuple[object, object]:
    callee_out, caller_out = io.StringIO(), io.StringIO()
    callee = asyncio.ensure_future(
        run_program(
            parse_args(
                build_parser(),
                [
                    "-v",
                    "--listen",
                    f"sip:127.0.0.1:{callee_port}",
                    "--answer",
                    "200",
                    "--count",
                    "1",
                    "--timeout",
                    "15",
                ],
            ),
            out=callee_out,
        )
    )
    for _ in range(300):
        if "listening on" in callee_out.getvalue():
            break
        await asyncio.sleep(0.01)
    caller = await run_program(
        parse_args(
            build_parser(),
            [
                "-v",
                "--listen",
                "sip:127.0.0.1:0",
                "--dns",
                server,
                "--outbound-proxy",
                "sip:kam.example.test",
                "--call",
                "sip:bob@callee.example.test",
                "--duration",
                "0.1",
                "--timeout",
                "15",
            ],
        ),
        out=caller_out,
    )
    outcome = await asyncio.wait_for(callee, 15)
    return caller, outcome


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If it was not, because a transport was specified
##% explicitly, the client performs an SRV query for that specific
##% transport, using the service identifier "_sips" for SIPS URIs.
def test_sipp_calls_through_our_proxy_to_a_name(tmp_path: Path) -> None:
    from .test_interop_servers import CALLS, calls
    from .test_programs_servers import ServerProcess

    sipp = require_external("sipp", "sip-tester")
    uas_port = free_port()
    zone = Zone(
        srv=[f"_sip._udp.far.example.test,uas.example.test,{uas_port},0,0"],
        hosts=["uas.example.test,127.0.0.1"],
    )
    config = tmp_path / "proxy.toml"
    config.write_text(
        '[[route]]\ndomain = "example.com"\nnext-hop = "sip:far.example.test;transport=udp"\n'
    )
    with dnsmasq(zone) as server:
        # SIPp's scenario calls bob@example.com: a domain of someone else, routed by name.
        proxy = ServerProcess(
            "proxy",
            *("--listen", "sip:127.0.0.1:0", "--domain", "proxy.example.test"),
            *("--db", str(tmp_path / "location.db"), "--dns", server, "--config", str(config)),
            cwd=tmp_path,
        )
        try:
            calls(sipp, proxy.port, "bob", uas_port, tmp_path)
        finally:
            proxy.stop()
    log = proxy.log_text()
    assert "Traceback" not in log, log[-3000:]
    # Every INVITE went on to the SIPp UAS found through SRV (calls() checked each call).
    assert log.count(f"-> UDP 127.0.0.1:{uas_port} INVITE") == CALLS
