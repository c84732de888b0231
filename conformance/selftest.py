"""Run the conformance cases against the stacks at hand and write the docs' result files.

``python -m conformance.selftest --out docs/_data/conformance`` starts, each on a free loopback
port, sipref's minimal UAS (``python -m rfc3261.asyncio.uas_minimal``), SIPp's built-in ``uas``
scenario, sipref's own programs (``python -m rfc3261 ua --answer 200``, ``registrar``,
``redirect``, ``proxy``) and Kamailio (registrar, proxy and, with ``-A REDIRECT``, redirect
server: the configuration in conformance/tests/kamailio);
runs the cases of the matching role against each (UDP; the `VARIANTS` over TCP or TLS run
the transport-dependent cases), writes ``<stack>.json``
(and, in the UAC role, ``sipref-ua-uac.json`` and ``sipp-uac.json``: `UAC_STACKS`)
per target (the schema in `conformance.report`), and stops them.  A stack that is not
installed is skipped with a message; exit status 1 when none could be run, 2 when a case
module does not load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from conformance.discovery import CaseLoadError, load_cases
from conformance.model import Case, Profile
from conformance.profile import load_profile
from conformance.report import progress_line, summary_text, write_json
from conformance.runner import NoAnswer, Runner, select_cases
from conformance.target import parse_target
from rfc3261.asyncio.loopback import free_port as _free_port

ROOT = Path(__file__).resolve().parents[1]
PROFILES = Path(__file__).resolve().parent / "profiles"
KAMAILIO = Path(__file__).resolve().parent / "tests" / "kamailio"


def _kamailio(port: int, work: Path, *defines: str) -> list[str] | None:
    """Kamailio's command line with the tests' configuration for ``port`` (None: not installed);
    ``defines`` switch on its ``#!ifdef`` parts (``REDIRECT``: a redirect server)."""
    binary = "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    binary = binary or shutil.which("kamailio")
    modules = next(iter(Path("/usr/lib").glob("*/kamailio/modules")), None)
    if binary is None or modules is None or port == 0:
        return None if binary is None or modules is None else [binary]
    template = (KAMAILIO / "kamailio.cfg.in").read_text(encoding="utf-8")
    config = work / f"kamailio-{port}.cfg"
    text = template.replace("@PORT@", str(port)).replace("@MODULES@", f"{modules}/")
    config.write_text(text, encoding="utf-8")
    run = work / f"kamailio-{port}"
    run.mkdir(exist_ok=True)
    return [binary, "-f", str(config), "-DD", "-E", "-Y", str(run)] + [
        arg for name in defines for arg in ("-A", name)
    ]


def sipp_uas_argv(sipp: str, port: int, timeout: str) -> list[str]:
    """SIPp's built-in ``uas`` scenario on 127.0.0.1:``port``, bounded by ``timeout``."""
    return [
        sipp,
        "-sn",
        "uas",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-nostdin",
        "-buff_size",
        "4194304",
        "-timeout",
        timeout,
        "-timeout_error",
        "-recv_timeout",
        "10000",
    ]


def minimal_uas_argv(port: int) -> list[str]:
    """sipref's minimal UAS (``python -m rfc3261.asyncio.uas_minimal``) on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "rfc3261.asyncio.uas_minimal",
        "--listen",
        f"sip:127.0.0.1:{port}",
    ]


#: the challenges of the registrar with authentication, most preferred first: several, so
#: that the RFC 7616 §3.7 / RFC 8760 §2.3 cases judge them (conformance.cases.auth_rfc7616)
ALGORITHMS = ("SHA-256", "SHA-512-256", "MD5")
#: its second user, name and password not ASCII (RFC 7616 §4; the profile names it too)
INTERNATIONAL = ("Zoë", "127.0.0.1", "pässwörd€")


def _ha1_file(work: Path, port: int) -> str:
    """The Digest H(A1) file of the registrar with authentication: alice, password "secret",
    realm 127.0.0.1, SHA-256, SHA-512-256 and MD5 (the sipref-registrar-auth profile's
    credentials);
    written only when ``port`` is not 0 (a listing writes nothing)."""
    path = work / "ha1.txt"
    if port:
        from rfc3261.digest_server import ha1_line

        lines = [ha1_line("alice", "127.0.0.1", "secret", algo) for algo in ALGORITHMS]
        lines += [ha1_line(*INTERNATIONAL, algo) for algo in ALGORITHMS]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _stacks(port: int, work: Path) -> dict[str, tuple[list[str] | None, str, str]]:
    """Stack name: (command line or None when not installed, profile file, role).

    ``port`` 0 only lists them (nothing is written to ``work``).
    """
    sipp = shutil.which("sipp")
    listen = ["--listen", f"sip:127.0.0.1:{port}", "-q"]
    sipref = [sys.executable, "-m", "rfc3261"]
    domain = ["--domain", "127.0.0.1"]
    t1 = ["--t1", "0.1"]
    # RFC 3262, 3311, 3326, 3428, 4028, 3891, 3515 (the profile lists PRACK, UPDATE, MESSAGE
    # and REFER)
    ua_ext = ["--extension", "100rel,update,reason,message,timer,replaces,refer"]
    # users for the §13.3.1.3 (busy) and §15 (the callee hangs up) cases
    ua_calls = ["--ring-user", "ring", *ua_ext, "--busy-user", "busy", "--hang-up-user", "hangup"]
    ua_calls += ["--hold-user", "hold", "--hang-up-after", "0.5"]
    return {
        "sipref-minimal-uas": (
            minimal_uas_argv(port),
            "minimal-uas.toml",
            "uas",
        ),
        "sipp-uas": (
            sipp_uas_argv(sipp, port, "300s") if sipp else None,
            "sipp-uas.toml",
            "uas",
        ),
        "sipref-ua": (
            [*sipref, "ua", *listen, "--answer", "200", "--ring", *ua_calls],
            "sipref-ua.toml",
            "uas",
        ),
        "sipref-registrar": (
            # --t1 0.1: Timer J (64*T1) lasts 6.4 s, short enough to measure
            [*sipref, "registrar", *listen, *domain, "--db", str(work / "registrar.db"), *t1],
            "sipref-registrar.toml",
            "registrar",
        ),
        # the same with RFC 5626 outbound (conformance/cases/registrar_rfc5626.py)
        "sipref-registrar-outbound": (
            [
                *sipref,
                "registrar",
                *listen,
                *domain,
                "--db",
                str(work / "outbound.db"),
                *t1,
                "--outbound",
                # a Flow-Timer short enough for reg-outbound-flow-timer-grace to wait out
                "--flow-timer",
                "1",
            ],
            "sipref-registrar-outbound.toml",
            "registrar",
        ),
        "sipref-redirect": (
            [
                *sipref,
                "redirect",
                *listen,
                *domain,
                "--db",
                str(work / "redirect.db"),
                *t1,
                "--user",
                "known",
                # the profile's user is always redirected (cases register it as well)
                "--static",
                "alice=sip:alice@127.0.0.1:9",
            ],
            "sipref-redirect.toml",
            "redirect",
        ),
        # the same with Digest (RFC 3261 §22): the auth_* cases answer its challenges
        "sipref-registrar-auth": (
            [
                *sipref,
                "registrar",
                *listen,
                *domain,
                "--db",
                str(work / "registrar-auth.db"),
                "--auth-file",
                _ha1_file(work, port),
                "--digest-algorithms",
                ",".join(ALGORITHMS),
            ],
            "sipref-registrar-auth.toml",
            "registrar",
        ),
        "sipref-proxy": (
            # its domain is not 127.0.0.1: the cases' downstream URIs (sip:x@127.0.0.1:port)
            # are then forwarded by Request-URI (§16.5), not looked up in the location service
            # --t1 0.1: Timer B, F and H (64*T1) last 6.4 s, so the cases can wait for them
            [
                *sipref,
                "proxy",
                *listen,
                "--domain",
                "sipref.test",
                "--t1",
                "0.1",
                "--db",
                str(work / "proxy.db"),
            ],
            "sipref-proxy.toml",
            "proxy",
        ),
        # the presence server beside the proxy (--presence, RFC 3903 ESC and RFC 6665/3856
        # notifier): the runner talks to it on ``port``, the proxy listens on another port
        "sipref-presence": (
            [
                *sipref,
                "proxy",
                "--listen",
                f"sip:127.0.0.1:{_free_port() if port else 0}",
                "-q",
                *domain,
                *t1,
                "--db",
                str(work / "presence.db"),
                "--presence",
                f"sip:127.0.0.1:{port}",
            ],
            "sipref-presence.toml",
            "uas",
        ),
        # Kamailio as registrar and stateful proxy (conformance/tests/kamailio/kamailio.cfg.in)
        "kamailio-registrar": (_kamailio(port, work), "kamailio.toml", "registrar"),
        "kamailio-proxy": (_kamailio(port, work), "kamailio.toml", "proxy"),
        # ... and as a redirect server over its location service (-A REDIRECT)
        "kamailio-redirect": (_kamailio(port, work, "REDIRECT"), "kamailio.toml", "redirect"),
    }


#: cases run side by side against every stack (`Runner.segments`): each wave stays under 3
#: minutes; every stack here serves concurrent calls and transactions
JOBS = 4

#: Transport variants of the stacks above: name: (stack, transport, case globs).  The stack
#: listens on ``sip:`` (UDP and TCP) or, for TLS, on ``sips:`` with a certificate made for the
#: run and the RFC 3261 cipher suite on (§26.2.1); only the cases whose verdict depends on
#: the transport run, so that `make conformance` stays quick.
VARIANTS = {
    "sipref-ua-tcp": ("sipref-ua", "tcp", "transport-*,tls-*,uas-*,txn-*"),
    "sipref-ua-tls": ("sipref-ua", "tls", "transport-*,tls-*,uas-*,txn-*"),
    "sipref-registrar-tls": ("sipref-registrar", "tls", "transport-*,tls-*,reg-*"),
    "sipref-proxy-tcp": ("sipref-proxy", "tcp", "transport-*,tls-*,proxy-5658-*"),
    # a proxy between TLS and non-TLS sides (§16.6 SIPS, §16.7 Record-Route rewriting)
    "sipref-proxy-tls": ("sipref-proxy", "tls", "proxy-tls-*,proxy-5658-tls-*"),
    # a proxy with a local route set (§16.6 step 5) to a socket of the runner's
    "sipref-proxy-local-route": ("sipref-proxy", "udp", "proxy-local-route-*"),
    "kamailio-proxy-tcp": ("kamailio-proxy", "tcp", "transport-*,proxy-5658-*"),
    # SIP over WebSocket (RFC 7118): the ws-* cases
    "sipref-ua-ws": ("sipref-ua", "ws", "ws-*"),
    "sipref-registrar-ws": ("sipref-registrar", "ws", "ws-*"),
    "sipref-proxy-ws": ("sipref-proxy", "ws", "ws-*"),
    "kamailio-registrar-tcp": ("kamailio-registrar", "tcp", "transport-*"),
    # the proxy as RFC 5626 edge and authoritative proxy (its registrar with outbound) and
    # locating next hops by RFC 3263 with the DNS server the cases run ({dns}: a free port,
    # the variant's profile names it): the cases not applicable to the plain proxy
    "sipref-proxy-edge": (
        "sipref-proxy",
        "udp",
        "proxy-5626-*,rfc5626-*,rfc3327-*,proxy-3263-*",
        "--edge",
        "--outbound",
        "--dns",
        "127.0.0.1:{dns}",
        # a Flow-Timer short enough for a case to outwait (RFC 5626 §5.4's grace period)
        "--flow-timer",
        "1",
    ),
    # only the event cases: the presence server is no UA for calls
    "sipref-presence": ("sipref-presence", "udp", "esc-*,presence-*,notifier-*,rfc6665-*"),
    "sipref-presence-tls": (
        "sipref-presence",
        "tls",
        "esc-tls-*,presence-tls-*,tls-sips-uri,tls-aes128-sha,"
        "transport-crlf-before-start-line,transport-stream-content-length",
    ),
}


def certificate(work: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate and key for 127.0.0.1 in ``work`` (None without openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = work / "tls-cert.pem", work / "tls-key.pem"
    subject = ["-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)]
    names = ["-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"]
    argv = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    if not cert.exists():
        subprocess.run([*argv, *subject, *names], check=True, capture_output=True, timeout=60)
    return cert, key


def variant(name: str, port: int, work: Path) -> tuple[list[str] | None, str, str, str, str]:
    """(command line or None, profile file, role, transport, case globs) of a stack or of
    one of its `VARIANTS` (a stack itself runs every case of its role over UDP)."""
    stack, transport, globs, *options = VARIANTS.get(name, (name, "udp", "*"))
    command, profile_name, role = _stacks(port, work)[stack]
    if command is not None and any("{dns}" in o for o in options) and port:
        # the DNS server the stack asks: the profile tells the cases where to serve their zone
        dns = f"127.0.0.1:{_free_port()}"
        options = [o.replace("127.0.0.1:{dns}", dns) for o in options]
        profile = work / f"{name}.toml"
        text = (PROFILES / profile_name).read_text(encoding="utf-8")
        profile.write_text(f'dns = "{dns}"\n' + text, encoding="utf-8")
        profile_name = str(profile)
    if command is not None:
        command = [*command, *options]
    if command is not None and transport == "tls":
        made = certificate(work) if port else (Path("cert"), Path("key"))
        if made is None:
            return None, profile_name, role, transport, globs
        # the runner's port: the presence server's when the stack runs one (sipref-presence)
        listen = command.index("--presence" if "--presence" in command else "--listen") + 1
        command = [*command[:listen], f"sips:127.0.0.1:{port}", *command[listen + 1 :]]
        command += ["--cert", str(made[0]), "--key", str(made[1]), "--tls-rfc3261-ciphers"]
        if role == "proxy":
            # §16.6/§16.7 between TLS and non-TLS: a UDP/TCP side too (any port: the cases
            # learn it from the proxy's Via), and the run's certificate trusted downstream
            command += ["--listen", "sip:127.0.0.1:0", "--ca", str(made[0])]
    if command is not None and name == "sipref-proxy-local-route":
        command += ["--local-route", f"sip:127.0.0.1:{_free_port() if port else 9};lr"]
    if command is not None and transport == "ws":
        # SIP over WebSocket (RFC 7118) on the port; a proxy also listens on UDP (any port)
        # to reach the runner's downstream sockets
        listen = command.index("--listen") + 1
        ws = f"sip:127.0.0.1:{port};transport=ws"
        command = [*command[:listen], ws, *command[listen + 1 :]]
        if role == "proxy":
            command += ["--listen", "sip:127.0.0.1:0"]
    return command, profile_name, role, transport, globs


def for_command(profile: Profile, command: list[str]) -> Profile:
    """The profile told what the command line sets up for the runner: the local route
    (``--local-route``) the runner listens on."""
    if "--local-route" in command:
        return replace(profile, local_route=command[command.index("--local-route") + 1])
    return profile


def tls_downstream(profile: Profile, transport: str, work: Path) -> Profile:
    """Over TLS the runner's own TLS listeners serve the run's certificate (the one the
    variants' programs trust with --ca)."""
    if transport != "tls":
        return profile
    made = certificate(work)
    if made is None:
        return profile
    return replace(profile, tls_cert=str(made[0]), tls_key=str(made[1]))


#: UAC-role stacks: no server to start, the profile's [uac] commands make each one call the
#: runner case by case (conformance.trigger); name: (profile file, program it needs)
UAC_STACKS = {
    "sipref-ua-uac": ("sipref-uac.toml", sys.executable),
    "sipp-uac": ("sipp-uac.toml", "sipp"),
}


def run_uac(name: str, cases: list[Case], out: Path, jobs: int = JOBS) -> bool:
    """The UAC-role cases against one of `UAC_STACKS`; False when it is not installed."""
    profile_name, program = UAC_STACKS[name]
    if shutil.which(program) is None:
        print(f"{name}: not installed, skipped", file=sys.stderr)
        return False
    profile = load_profile(PROFILES / profile_name)
    # the runner is the server: the target address only names the run in the report
    target = parse_target("udp:127.0.0.1:5060")
    # a wave takes under 3 minutes; the bound leaves room for a busy machine
    runner = Runner(target, "uac", profile, progress=progress_line, total_timeout=300, jobs=jobs)
    run = runner.run(select_cases(cases, "uac"))
    run.stack = profile.name
    write_json(run, out / f"{name}.json", base64=False)
    print(f"{name}: " + summary_text(run).splitlines()[-1])
    return True


def _bound(port: int, tcp: bool = False) -> bool:
    """Whether something holds UDP ``port`` on loopback (with ``tcp``: accepts a TCP
    connection there): the target is listening."""
    if tcp:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@contextlib.contextmanager
def _running(
    argv: list[str], port: int = 0, tcp: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    # A session of its own: Kamailio's worker processes are stopped with it.
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(0.5)
        # a Python program can take seconds to start on a loaded machine: wait for its port
        end = time.monotonic() + 10
        while port and not _bound(port, tcp) and process.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's whole session (workers included), SIGKILL after 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers that outlive their parent share its session id: make sure none is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.selftest", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_data" / "conformance")
    parser.add_argument("--stack", action="append", help="only these stacks")
    parser.add_argument("--cases", default="*", help="case id glob(s)")
    parser.add_argument("--jobs", type=int, default=JOBS, help="cases run side by side")
    args = parser.parse_args(argv)
    try:
        cases = load_cases()  # the core's and the extensions'
    except CaseLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = 0
    with tempfile.TemporaryDirectory(prefix="sipref-selftest-") as work:
        # (a stack that is its own variant, sipref-presence, runs once: with its globs)
        for name in dict.fromkeys([*_stacks(0, Path(work)), *VARIANTS]):
            if args.stack and name not in args.stack:
                continue
            port = _free_port()
            command, profile_name, role, transport, globs = variant(name, port, Path(work))
            if command is None:
                print(f"{name}: not installed, skipped", file=sys.stderr)
                continue
            profile = tls_downstream(load_profile(PROFILES / profile_name), transport, Path(work))
            profile = for_command(profile, command)
            target = parse_target(f"{transport}:127.0.0.1:{port}")
            with _running(command, port, tcp=transport in ("tls", "ws")):
                # bounded: a wave of one role against one stack stays under 3 minutes (issue
                # 25); Kamailio's proxy wave takes about 2 on a loaded machine
                runner = Runner(target, role, profile, total_timeout=170, jobs=args.jobs)
                runner.progress = progress_line
                wanted = {c.id for c in select_cases(cases, role, globs)}
                chosen = [c for c in select_cases(cases, role, args.cases) if c.id in wanted]
                try:
                    run = runner.run(chosen)
                except NoAnswer as exc:
                    print(f"{name}: {exc}", file=sys.stderr)
                    continue
            run.stack = profile.name
            # the docs need verdicts and ladders as text; the base64 copies would double the size
            write_json(run, args.out / f"{name}.json", base64=False)
            print(f"{name}: " + summary_text(run).splitlines()[-1])
            done += 1
    for name in UAC_STACKS:
        if not args.stack or name in args.stack:
            chosen = select_cases(cases, "uac", args.cases)
            done += run_uac(name, chosen, args.out, args.jobs)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
