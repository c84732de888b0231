"""The registrar and proxy programs against other SIP stacks on loopback.

- SIPp (``sip-tester``): two users register through our proxy
  (``sipp/register_user.xml``) and call each other through it, 50 calls each
  way, with ``sipp/uac_rr.xml`` / ``sipp/uas_rr.xml``, which honour Record-Route;
- Kamailio (``kamailio``) as a second proxy in the chain: SIPp -> Kamailio ->
  our proxy -> SIPp UAS, with ``kamailio/proxy.cfg``;
- sipsak (``sipsak``): an OPTIONS ping and a REGISTER (usrloc mode);
- sofia-sip (``sofia-sip-bin``): ``sip-options``.

A missing tool skips its test with the reason, unless SIPREF_REQUIRE_EXTERNAL=1
(then it fails).  Every process is stopped by its PID in a ``finally``; every
run is bounded (SIPp ``-m``, ``-timeout``, ``-recv_timeout``; subprocess timeouts).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rfc3261.asyncio.loopback import free_port

from .test_programs_servers import ServerProcess
from .transport_support import require_external, sipp_stats

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "sipp"
KAMAILIO_CFG = HERE / "kamailio" / "proxy.cfg"
CALLS = 50
SIPP_COMMON = [
    "-nostdin", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10000",
    "-buff_size", "4194304",
]  # fmt: skip


def stop(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """Stop a helper process by its PID (SIGTERM, then SIGKILL); its output."""
    if process.poll() is None:
        process.terminate()
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


def sipp_run(sipp: str, args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    result = subprocess.run(
        [sipp, *args, *SIPP_COMMON],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def sipp_start(sipp: str, args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sipp, *args, *SIPP_COMMON],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def register(sipp: str, registrar_port: int, user: str, port: int, cwd: Path) -> None:
    """SIPp registers ``user`` at example.com with a Contact at 127.0.0.1:``port``."""
    status, output = sipp_run(
        sipp,
        [
            f"127.0.0.1:{registrar_port}", "-sf", str(SCENARIOS / "register_user.xml"),
            "-s", user, "-i", "127.0.0.1", "-p", str(port), "-m", "1",
        ],
        cwd,
    )  # fmt: skip
    assert status == 0, output[-2000:]


def calls(sipp: str, first_hop: int, user: str, uas_port: int, cwd: Path) -> None:
    """CALLS calls from a SIPp UAC to ``user`` via ``first_hop``, answered at ``uas_port``."""
    uas = sipp_start(
        sipp,
        ["-sf", str(SCENARIOS / "uas_rr.xml"), "-i", "127.0.0.1", "-p", str(uas_port),
         "-m", str(CALLS)],
        cwd,
    )  # fmt: skip
    try:
        status, output = sipp_run(
            sipp,
            [
                f"127.0.0.1:{first_hop}", "-sf", str(SCENARIOS / "uac_rr.xml"), "-s", user,
                "-i", "127.0.0.1", "-p", str(free_port()), "-m", str(CALLS), "-r", "100",
            ],
            cwd,
        )  # fmt: skip
        assert status == 0, output[-3000:]
        assert sipp_stats(output) == {"Successful call": CALLS, "Failed call": 0}
        uas_output = uas.communicate(timeout=60)[0]
        assert uas.returncode == 0, uas_output[-3000:]
    finally:
        stop(uas)


@pytest.fixture
def sipp() -> str:
    return require_external("sipp", "sip-tester")


def start_proxy(tmp_path: Path, *extra: str) -> ServerProcess:
    return ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com",
        "--db", str(tmp_path / "location.db"), *extra, cwd=tmp_path,
    )  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% When accessing the
##% location service constructed by a registrar, the Request-URI MUST
##% first be canonicalized as described in Section 10.3 before being used
##% as an index.
def test_sipp_users_register_and_call_each_other_through_our_proxy(
    sipp: str, tmp_path: Path
) -> None:
    proxy = start_proxy(tmp_path, "-v")
    alice_port, bob_port = free_port(), free_port()
    try:
        register(sipp, proxy.port, "alice", alice_port, tmp_path)
        register(sipp, proxy.port, "bob", bob_port, tmp_path)
        calls(sipp, proxy.port, "bob", bob_port, tmp_path)  # alice calls bob
        calls(sipp, proxy.port, "alice", alice_port, tmp_path)  # bob calls alice
        assert proxy.process.poll() is None
    finally:
        assert proxy.stop() == 0
    assert_record_routed(proxy.log_text(), [proxy.port], 2 * CALLS)


def assert_record_routed(log: str, ports: list[int], count: int) -> None:
    """Every forwarded INVITE carried our Record-Route; every BYE came back with the
    route set the 200 taught the caller (the wire log of ``-v`` shows whole messages)."""
    entries = log.split("rfc3261.wire ")
    ours = f"<sip:127.0.0.1:{ports[-1]};lr>"
    invites_out = [e for e in entries if e.startswith("-> UDP") and " INVITE sip:" in e[:80]]
    assert len(invites_out) == count, len(invites_out)
    assert all(f"Record-Route: {ours}" in e for e in invites_out)
    byes_in = [e for e in entries if e.startswith("<- UDP") and " BYE sip:" in e[:80]]
    assert len(byes_in) == count, len(byes_in)
    assert all(re.search(r"\nRoute: <sip:127\.0\.0\.1:\d+;lr>", e) for e in byes_in)


def test_kamailio_then_our_proxy_then_sipp(sipp: str, tmp_path: Path) -> None:
    kamailio = require_external("kamailio", "kamailio")
    proxy = start_proxy(tmp_path, "-v")
    kamailio_port = free_port()
    config = tmp_path / "kamailio.cfg"
    config.write_text(
        KAMAILIO_CFG.read_text()
        .replace("@PORT@", str(kamailio_port))
        .replace("@NEXT_HOP@", f"sip:127.0.0.1:{proxy.port}")
    )
    rundir = tmp_path / "kamailio-run"
    rundir.mkdir()
    process = subprocess.Popen(
        [kamailio, "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "256"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    bob_port = free_port()
    try:
        # REGISTER passes Kamailio (not record-routed) to our embedded registrar.
        register(sipp, kamailio_port, "bob", bob_port, tmp_path)
        calls(sipp, kamailio_port, "bob", bob_port, tmp_path)
        assert process.poll() is None
    finally:
        kamailio_log = stop(process)
        assert proxy.stop() == 0
    assert "ERROR" not in kamailio_log, kamailio_log[-3000:]
    log = proxy.log_text()
    assert_record_routed(log, [kamailio_port, proxy.port], CALLS)
    # Kamailio's own Record-Route value reached the callee too, below ours.
    assert f"<sip:127.0.0.1:{kamailio_port};lr>" in log


def test_sipsak_options_ping_and_register(tmp_path: Path) -> None:
    sipsak = require_external("sipsak", "sipsak")
    # sipsak 0.9.8 writes only four digits of a five-digit port into its Request-URI
    # (sip:127.0.0.1:1707 for port 17070): the servers get ports below 10000.
    registrar = ServerProcess(
        "registrar", "--listen", f"sip:127.0.0.1:{free_port(6000)}", "--domain", "127.0.0.1",
        "--db", str(tmp_path / "location.db"), "--min-expires", "10", cwd=tmp_path,
    )  # fmt: skip
    proxy = ServerProcess(
        "proxy", "--listen", f"sip:127.0.0.1:{free_port(6000)}", "--domain", "example.com",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        for port in (registrar.port, proxy.port):
            ping = subprocess.run(
                [sipsak, "-s", f"sip:127.0.0.1:{port}", "-vv"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert ping.returncode == 0, ping.stdout + ping.stderr
            assert "SIP/2.0 200 OK" in ping.stdout
        usrloc = subprocess.run(
            [sipsak, "-U", "-v", "-s", f"sip:alice@127.0.0.1:{registrar.port}", "-H", "127.0.0.1"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert usrloc.returncode == 0, usrloc.stdout + usrloc.stderr
        assert "successful" in usrloc.stdout
    finally:
        assert proxy.stop() == 0
        assert registrar.stop() == 0
    assert "REGISTER sip:127.0.0.1" in registrar.log_text()


def test_sofia_sip_options_against_registrar_and_proxy(tmp_path: Path) -> None:
    sip_options = require_external("sip-options", "sofia-sip-bin")
    registrar = ServerProcess(
        "registrar", "--listen", "sip:127.0.0.1:0", "--domain", "example.com",
        "--db", str(tmp_path / "location.db"), cwd=tmp_path,
    )  # fmt: skip
    proxy = start_proxy(tmp_path)
    try:
        for port, allow in ((registrar.port, "REGISTER, OPTIONS"), (proxy.port, None)):
            result = subprocess.run(
                [sip_options, f"sip:127.0.0.1:{port}"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr
            assert "SIP/2.0 200 OK" in result.stdout
            if allow:
                assert f"Allow: {allow}" in result.stdout
    finally:
        assert proxy.stop() == 0
        assert registrar.stop() == 0
