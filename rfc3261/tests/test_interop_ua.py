"""``python -m rfc3261 ua`` against real stacks on loopback: SIPp and Kamailio.

- our UA calls SIPp's built-in ``uas`` scenario, over UDP and TCP;
- SIPp's built-in ``uac`` scenario calls our UA running ``--answer 200`` (50 calls);
- our UA registers with Kamailio (``kamailio/registrar.cfg``) and a second UA of
  ours calls it by its address-of-record through Kamailio, which record-routes;
- with ``kamailio/registrar_auth.cfg`` Kamailio challenges REGISTER (Digest,
  qop=auth) and our UA answers the 401.

Every process is started on a free port and stopped by its PID in a ``finally``;
every wait is bounded.  Without sipp or kamailio these tests skip, unless
SIPREF_REQUIRE_EXTERNAL=1 (then they fail).
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfc3261.asyncio.loopback import free_port

from .transport_support import require_external, sipp_stats

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[2]
KAMAILIO_CONFIGS = Path(__file__).resolve().parent / "kamailio"
# What every SIPp run gets (INTEROP.md: -timeout alone can hang).
SIPP_BOUNDS = ["-nostdin", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10000"]


def wait_bound(port: int, transport: str, timeout: float = 10) -> None:
    """Wait until a socket of ``transport`` is bound (TCP: listening) to ``port`` (Linux /proc)."""
    table = Path("/proc/net/udp" if transport == "udp" else "/proc/net/tcp")
    wanted = f":{port:04X} "
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not table.exists():
            time.sleep(0.5)  # not Linux: give the process the time it usually needs
            return
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1] + " ").endswith(wanted) and (transport == "udp" or fields[3] == "0A"):
                return
        time.sleep(0.02)
    raise AssertionError(f"nothing bound to {transport} port {port} after {timeout} s")


def stop(process: subprocess.Popen[str], timeout: float = 10) -> None:
    """SIGTERM the process by its PID, SIGKILL it if it is still there after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class UaProcess:
    """``python -m rfc3261 ua ARGS`` in a subprocess; its stdout lines read with a bound."""

    def __init__(self, log: Path, *args: str) -> None:
        command = [sys.executable, "-m", "rfc3261", "ua", *args, "--log-file", str(log)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.log = log
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )

    def wait_line(self, prefix: str, timeout: float = 15) -> str:
        """The first output line starting with ``prefix`` (AssertionError after ``timeout``)."""
        for line in self.lines:
            if line.startswith(prefix):
                return line
        stdout = self.process.stdout
        assert stdout is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([stdout], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            line = stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line {prefix!r} from the UA; it said: {self.lines}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; (exit status, all its output)."""
        out, _ = self.process.communicate(timeout=timeout)
        self.lines.extend(out.splitlines())
        return self.process.returncode, "\n".join(self.lines)

    def stop(self) -> None:
        stop(self.process)


def messages(log: str) -> list[str]:
    """The records of a wire log written with ``-v`` (one per message, with its text)."""
    return re.split(r"\n(?=\d{4}-\d\d-\d\d )", log)


def run_ua(log: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    process = UaProcess(log, *args)
    try:
        return process.finish(timeout)
    finally:
        process.stop()


# -- SIPp ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sipp() -> str:
    return require_external("sipp", "sip-tester")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_our_ua_calls_sipp_uas(sipp: str, transport: str, tmp_path: Path) -> None:
    calls = 5
    port = free_port()
    mode = "u1" if transport == "udp" else "t1"
    server = subprocess.Popen(
        [sipp, "-sn", "uas", "-t", mode, "-i", "127.0.0.1", "-p", str(port), "-m", str(calls),
         *SIPP_BOUNDS],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_bound(port, transport)
        target = f"sip:service@127.0.0.1:{port}" + ("" if transport == "udp" else ";transport=tcp")
        status, output = run_ua(
            tmp_path / "ua.log",
            # port 0: the kernel picks a free one (a port chosen beforehand can be taken
            # by one of SIPp's own sockets in between)
            "--listen", "sip:127.0.0.1:0", "--call", target, "--count", str(calls),
            "--duration", "0.1", "--timeout", "40",
        )  # fmt: skip
        sipp_out, _ = server.communicate(timeout=60)
    finally:
        stop(server)
    assert status == 0, output
    assert output.count("established") == calls
    assert output.count("hung up (BYE answered 200)") == calls
    assert server.returncode == 0, sipp_out
    assert sipp_stats(sipp_out).get("Successful call") == calls
    # The wire log shows each message: an INVITE, ACK and BYE per call, over the transport.
    log = (tmp_path / "ua.log").read_text()
    assert len(re.findall(rf"-> {transport.upper()} \S+ INVITE ", log)) == calls
    assert len(re.findall(r"-> \w+ \S+ ACK ", log)) == calls


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The UAS core generates a 2xx response.  This response establishes a
##% dialog, and therefore follows the procedures of Section 12.1.1 in
##% addition to those of Section 8.2.6.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% Whether or not it ends its participation on the session,
##% the UAS core MUST generate a 2xx response to the BYE, and MUST pass
##% that to the server transaction for transmission.
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_uac_calls_our_ua(sipp: str, transport: str, tmp_path: Path) -> None:
    calls = 50
    port, sipp_port = free_port(), free_port()
    ua = UaProcess(
        tmp_path / "ua.log",
        "--listen", f"sip:127.0.0.1:{port}", "--answer", "200", "--count", str(calls),
        "--timeout", "60",
    )  # fmt: skip
    try:
        ua.wait_line("listening on")
        mode = "u1" if transport == "udp" else "t1"
        result = subprocess.run(
            [sipp, "-sn", "uac", f"127.0.0.1:{port}", "-t", mode, "-i", "127.0.0.1",
             "-p", str(sipp_port), "-m", str(calls), "-r", "25", *SIPP_BOUNDS],
            cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        status, output = ua.finish(timeout=30)
    finally:
        ua.stop()
    sipp_out = result.stdout + result.stderr
    assert result.returncode == 0, sipp_out
    assert sipp_stats(sipp_out).get("Successful call") == calls
    assert status == 0, output
    assert output.count(": answered 200") == calls
    assert output.count("ended (remote BYE)") == calls


# -- Kamailio --------------------------------------------------------------------------------


def options_ping(port: int) -> bool:
    """True when something at 127.0.0.1:port answers a bare OPTIONS within 0.5 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        local = sock.getsockname()[1]
        request = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-ping-{time.monotonic_ns()}\r\n"
            "Max-Forwards: 70\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"From: <sip:ping@127.0.0.1:{local}>;tag=ping\r\n"
            f"Call-ID: ping-{time.monotonic_ns()}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 200")


class Kamailio:
    """Kamailio with a config of kamailio/, on a free port, stopped by its PID."""

    def __init__(self, binary: str, config: str, workdir: Path) -> None:
        self.port = free_port()
        for name in ("registrar.cfg", "registrar_auth.cfg"):
            text = (KAMAILIO_CONFIGS / name).read_text()
            text = text.replace('#!substdef "!SIPREF_PORT!5090!"', (
                f'#!substdef "!SIPREF_PORT!{self.port}!"'
            ))  # fmt: skip
            (workdir / name).write_text(text)
        rundir = workdir / "run"
        rundir.mkdir()
        self.log = workdir / "kamailio.log"
        self.log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [binary, "-f", str(workdir / config), "-DD", "-E", "-Y", str(rundir),
             "-m", "64", "-M", "8"],
            cwd=workdir, stdout=self.log_file, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        end = time.monotonic() + 15
        while not options_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > end:
                self.stop()
                raise AssertionError(f"kamailio did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        stop(self.process)
        self.log_file.close()


@pytest.fixture(scope="module")
def kamailio_binary() -> str:
    return require_external("kamailio", "kamailio")


@pytest.fixture
def kamailio(kamailio_binary: str, tmp_path: Path) -> Iterator[Kamailio]:
    server = Kamailio(kamailio_binary, "registrar.cfg", tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kamailio_auth(kamailio_binary: str, tmp_path: Path) -> Iterator[Kamailio]:
    server = Kamailio(kamailio_binary, "registrar_auth.cfg", tmp_path)
    try:
        yield server
    finally:
        server.stop()


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1
##= type=test
##% The REGISTER request sent to a registrar includes the contact
##% address(es) to which SIP requests for the address-of-record should be
##% forwarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and its first URI does not contain the
##% lr parameter, the UAC MUST place the first URI from the route set
##% into the Request-URI, stripping any parameters that are not allowed
##% in a Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and the first URI in the route set
##% contains the lr parameter (see Section 19.1.1), the UAC MUST place
##% the remote target URI into the Request-URI and MUST include a Route
##% header field containing the route set values in order, including all
##% parameters.
def test_register_with_kamailio_and_call_through_it(kamailio: Kamailio, tmp_path: Path) -> None:
    kport = kamailio.port
    bob = UaProcess(
        tmp_path / "bob.log",
        "--listen", f"sip:127.0.0.1:{free_port()}", "--register", f"sip:bob@127.0.0.1:{kport}",
        "--expires", "60", "--answer", "200", "--count", "2", "--timeout", "40", "-v",
    )  # fmt: skip
    try:
        bob.wait_line("registered sip:bob@")
        status, output = run_ua(
            tmp_path / "alice.log",
            "--listen", f"sip:127.0.0.1:{free_port()}", "--register",
            f"sip:alice@127.0.0.1:{kport}", "--expires", "60",
            "--call", f"sip:bob@127.0.0.1:{kport}", "--count", "2", "--duration", "0.2",
            "--timeout", "30", "-v",
        )  # fmt: skip
        bob_status, bob_output = bob.finish(timeout=30)
    finally:
        bob.stop()
    assert status == 0, output + (tmp_path / "alice.log").read_text()[-3000:]
    assert f"registered sip:alice@127.0.0.1:{kport}" in output
    assert output.count("established") == 2 and output.count("BYE answered 200") == 2
    assert "unregistered sip:alice@" in output
    assert bob_status == 0, bob_output
    assert bob_output.count(": answered 200") == 2
    assert bob_output.count("ended (remote BYE)") == 2
    # Kamailio record-routed: Alice's ACK and BYE carry its URI with lr in Route and
    # go to Kamailio, while the Request-URI is Bob's contact (the remote target).
    log = (tmp_path / "alice.log").read_text()
    byes = [m for m in messages(log) if re.search(r"-> UDP \S+ BYE ", m)]
    assert len(byes) == 2
    for bye in byes:
        assert f"-> UDP 127.0.0.1:{kport} BYE sip:bob@127.0.0.1:" in bye
        assert re.search(rf"^Route: <sip:127\.0\.0\.1:{kport};lr", bye, re.M), bye


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
def test_register_answers_kamailio_digest_challenge(
    kamailio_auth: Kamailio, tmp_path: Path
) -> None:
    kport = kamailio_auth.port
    status, output = run_ua(
        tmp_path / "alice.log",
        "--listen", f"sip:127.0.0.1:{free_port()}", "--register", f"sip:alice@127.0.0.1:{kport}",
        "--password", "sipref-secret", "--expires", "60", "--timeout", "20", "-v",
    )  # fmt: skip
    log = (tmp_path / "alice.log").read_text()
    assert status == 0, output + log[-3000:]
    assert f"registered sip:alice@127.0.0.1:{kport} at sip:127.0.0.1:{kport}" in output
    assert "<- UDP" in log and "401 Unauthorized" in log
    registers = [m for m in messages(log) if re.search(r"-> UDP \S+ REGISTER ", m)]
    first, second = registers[0], registers[1]
    assert "Authorization:" not in first and 'Authorization: Digest username="alice"' in second
    cseq = [int(re.search(r"^CSeq: (\d+) REGISTER", m, re.M).group(1)) for m in registers]  # type: ignore[union-attr]
    assert cseq[1] == cseq[0] + 1
    assert "qop=auth" in second and "cnonce=" in second

    # A wrong password: Kamailio's second 401 is final, the exit status its class (4).
    status, output = run_ua(
        tmp_path / "wrong.log",
        "--listen", f"sip:127.0.0.1:{free_port()}", "--register", f"sip:alice@127.0.0.1:{kport}",
        "--password", "not-the-secret", "--timeout", "20",
    )  # fmt: skip
    assert status == 4, output
    assert "401 Unauthorized" in output


def test_kamailio_configs_are_in_the_repository() -> None:
    # The configs stay usable by hand: the documented port and the alias with its port.
    text = (KAMAILIO_CONFIGS / "registrar.cfg").read_text()
    assert '#!substdef "!SIPREF_PORT!5090!"' in text
    assert 'alias="127.0.0.1:SIPREF_PORT"' in text and "dns=no" in text and "rev_dns=no" in text
    assert (
        '#!include_file "registrar.cfg"' in (KAMAILIO_CONFIGS / "registrar_auth.cfg").read_text()
    )
