"""The proxy and registrar programs under SIPp load, with Kamailio as the reference.

Measurements:

- **proxy calls/s**: SIPp ``sipp/uac_rr.xml`` -> ``python -m rfc3261 proxy``
  (Record-Route on, embedded registrar, SQLite location service; the callee
  registered with ``sipp/register_user.xml``) -> SIPp ``sipp/uas_rr.xml``, over
  UDP on loopback, the proxy pinned to CPU 0 and both SIPp processes to CPU 1,
  4 MB socket buffers everywhere; the offered rate steps up until a call fails.
  The same with Kamailio (``tests/kamailio/proxy.cfg``: stateful, record-routing,
  ``children=1``, ``-m 1024``) in place of our proxy, in the same run;
- **REGISTER/s**: SIPp ``sipp/register_unique.xml`` (a new user per request)
  -> ``python -m rfc3261 registrar`` with its SQLite file; every binding is
  counted in the database afterwards (persisted, not just answered);
- **memory**: tracemalloc growth per live proxied INVITE transaction (the proxy
  core fed parsed requests, no sockets), and the database bytes and process RSS
  growth per registration;
- **profile**: cProfile of our proxy process during one load step (top functions
  by own time): what bounds the rate.

``run(options)`` returns the JSON document, ``render(doc)`` the terminal table,
``floors_passed(doc)`` holds it against the targets (proxy >= 0.5 x Kamailio,
REGISTER >= 3,000/s).  Steps that need sipp or kamailio are skipped with the
reason when the tool is missing.
"""

from __future__ import annotations

import io
import os
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfc3261.asyncio.loopback import free_port as _free_port

NAME = "proxy_load"

# The targets.
TARGET_PROXY_RATIO = 0.5
TARGET_REGISTERS_PER_SECOND = 3000

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "rfc3261" / "tests" / "sipp"
KAMAILIO_CFG = REPO / "rfc3261" / "tests" / "kamailio" / "proxy.cfg"
SIPP_COMMON = [
    "-nostdin", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10000",
    "-buff_size", "4194304",
]  # fmt: skip
_STAT = re.compile(r"^\s*(Successful call|Failed call|Call Rate)\s*\|[^|]*\|\s*([\d.]+)", re.M)


# -- processes ------------------------------------------------------------------------


def _pinned(cpu: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *command]
    return command


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


def _cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its children (Kamailio's workers are its children)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _start_program(program: str, port: int, workdir: Path, *extra: str) -> subprocess.Popen[str]:
    command = _pinned(
        0,
        [
            sys.executable, "-m", "rfc3261", program, "--listen", f"sip:127.0.0.1:{port}",
            "--domain", "example.com", "--buffer", "4194304", "-q",
            # Throughput, not the overload policy: no 503 from the transaction cap.
            "--max-transactions", "10000000", *extra,
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
        raise RuntimeError(f"{program} did not start: {line!r}")
    return process


def _start_kamailio(port: int, next_hop: int, workdir: Path) -> subprocess.Popen[str]:
    config = workdir / "kamailio.cfg"
    config.write_text(
        KAMAILIO_CFG.read_text()
        .replace("@PORT@", str(port))
        .replace("@NEXT_HOP@", f"sip:127.0.0.1:{next_hop}")
    )
    rundir = workdir / "kamailio-run"
    rundir.mkdir(exist_ok=True)
    process = subprocess.Popen(
        _pinned(0, ["kamailio", "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "1024"]),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(1.0)
    if process.poll() is not None:
        raise RuntimeError("kamailio did not start (check tests/kamailio/proxy.cfg)")
    return process


def _sipp(args: list[str], workdir: Path, *, background: bool = False) -> Any:
    command = _pinned(1, ["sipp", *args, *SIPP_COMMON])
    if background:
        return subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=120, check=False
    )


def _sipp_step(
    scenario: str, port: int, rate: int, calls: int, workdir: Path, *extra: str
) -> dict[str, Any]:
    started = time.perf_counter()
    result = _sipp(
        [
            f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
            "-p", str(_free_port()), "-m", str(calls), "-r", str(rate),
            "-l", str(max(rate * 3, 1000)), *extra,
        ],
        workdir,
    )  # fmt: skip
    found = {name: float(value) for name, value in _STAT.findall(result.stdout)}
    successful = int(found.get("Successful call", 0))
    failed = int(found.get("Failed call", 0))
    return {
        "rate": rate,
        "calls": calls,
        "exit_status": result.returncode,
        "successful": successful,
        "failed": failed,
        "sipp_call_rate": found.get("Call Rate"),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


def _ramp(step: Callable[[int], dict[str, Any]], rates: list[int]) -> dict[str, Any]:
    """Step the offered rate up until a step is not clean; the best clean step."""
    steps: list[dict[str, Any]] = []
    best = None
    for rate in rates:
        result = step(rate)
        achieved = result.get("sipp_call_rate") or 0.0
        # SIPp's cumulative rate includes its start and the last calls' end: 0.85 of
        # the offered rate over a 5 s step is "kept up"; an overloaded server falls far below.
        result["clean"] = (
            result["exit_status"] == 0 and not result["failed"] and achieved >= 0.85 * rate
        )
        steps.append(result)
        if not result["clean"]:
            break
        best = result
    return {"steps": steps, "best": best}


# -- proxy calls/s ----------------------------------------------------------------------


def _proxy_step(
    kind: str, rate: int, seconds: float, workdir: Path, profile: Path | None = None
) -> dict[str, Any]:
    """One load step through our proxy (``kind`` "ours") or Kamailio ("kamailio")."""
    uas_port, proxy_port = _free_port(), _free_port()
    uas_args = ["-sf", str(SCENARIOS / "uas_rr.xml"), "-i", "127.0.0.1", "-p", str(uas_port)]
    uas: subprocess.Popen[str] | None = None
    server: subprocess.Popen[str] | None = None
    try:
        if kind == "ours":
            extra = ["--db", str(workdir / f"proxy-{proxy_port}.db")]
            if profile is not None:
                extra += ["--profile", str(profile)]
            server = _start_program("proxy", proxy_port, workdir, *extra)
            # The callee registers from the port its UAS will then listen on.
            registered = _sipp(
                [
                    f"127.0.0.1:{proxy_port}", "-sf", str(SCENARIOS / "register_user.xml"),
                    "-s", "bob", "-i", "127.0.0.1", "-p", str(uas_port), "-m", "1",
                ],
                workdir,
            )  # fmt: skip
            if registered.returncode != 0:
                raise RuntimeError("SIPp could not register bob at our proxy")
        else:
            server = _start_kamailio(proxy_port, uas_port, workdir)
        uas = _sipp(uas_args, workdir, background=True)
        time.sleep(0.3)
        cpu_before = _cpu_seconds(server.pid)
        rss_before = _rss_kib(server.pid)
        result = _sipp_step("uac_rr.xml", proxy_port, rate, int(rate * seconds), workdir,
                            "-s", "bob")  # fmt: skip
        cpu = _cpu_seconds(server.pid) - cpu_before
        result["server_rss_growth_kib"] = _rss_kib(server.pid) - rss_before
    finally:
        if server is not None:
            _stop(server)
        if uas is not None:
            _stop(uas)
    result["server_cpu_seconds"] = round(cpu, 2)
    result["server_cpu_us_per_call"] = round(cpu / max(result["successful"], 1) * 1e6, 1)
    result["cpu_bound_calls_per_second"] = round(result["successful"] / cpu if cpu > 0 else 0.0)
    return result


def proxy_load(quick: bool) -> dict[str, Any]:
    """Calls/s through our proxy and through Kamailio, stepping the offered rate."""
    if shutil.which("sipp") is None:
        return {"skipped": "sipp not found (Debian package sip-tester)"}
    seconds = 1.0 if quick else 5.0
    ours_rates = [100, 200] if quick else [400, 600, 800, 900, 1000, 1100, 1200, 1400, 1600]
    ref_rates = [500] if quick else [1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000]
    with tempfile.TemporaryDirectory(prefix="sipref-proxy-bench-") as tmp:
        workdir = Path(tmp)
        ours = _ramp(lambda r: _proxy_step("ours", r, seconds, workdir), ours_rates)
        if shutil.which("kamailio") is None:
            reference: dict[str, Any] = {"skipped": "kamailio not found (Debian package kamailio)"}
        else:
            reference = _ramp(lambda r: _proxy_step("kamailio", r, seconds, workdir), ref_rates)
        profile_rate = (ours["best"] or {"rate": ours_rates[0]})["rate"]
        profile_path = workdir / "proxy.prof"
        _proxy_step("ours", profile_rate, seconds, workdir, profile=profile_path)
        profile = _profile_top(profile_path)
    result: dict[str, Any] = {
        "ours": ours,
        "kamailio": reference,
        "seconds_per_step": seconds,
        "profile_rate": profile_rate,
        "profile_top": profile,
    }
    if ours["best"] and reference.get("best"):
        result["ratio"] = round(ours["best"]["rate"] / reference["best"]["rate"], 3)
        result["cpu_ratio"] = round(
            ours["best"]["cpu_bound_calls_per_second"]
            / max(reference["best"]["cpu_bound_calls_per_second"], 1),
            3,
        )
    return result


def _profile_top(path: Path, count: int = 15) -> list[str]:
    if not path.exists():
        return []
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(count)
    lines = out.getvalue().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            return [entry.rstrip() for entry in lines[index : index + count + 1] if entry.strip()]
    return []


# -- REGISTER/s ---------------------------------------------------------------------------


def _register_step(rate: int, seconds: float, workdir: Path) -> dict[str, Any]:
    port = _free_port()
    db = workdir / f"registrar-{port}.db"
    server = _start_program("registrar", port, workdir, "--db", str(db))
    try:
        time.sleep(0.2)
        cpu_before = _cpu_seconds(server.pid)
        rss_before = _rss_kib(server.pid)
        result = _sipp_step("register_unique.xml", port, rate, int(rate * seconds), workdir)
        cpu = _cpu_seconds(server.pid) - cpu_before
        rss_growth = _rss_kib(server.pid) - rss_before
    finally:
        _stop(server)
    with sqlite3.connect(db) as connection:
        persisted = connection.execute("SELECT COUNT(*) FROM binding").fetchone()[0]
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    result["persisted_bindings"] = persisted
    if persisted != result["successful"]:
        result["failed"] += abs(result["successful"] - persisted)
    result["db_bytes_per_binding"] = round(size / max(persisted, 1))
    result["rss_growth_bytes_per_registration"] = round(rss_growth * 1024 / max(persisted, 1))
    result["server_cpu_us_per_register"] = round(cpu / max(result["successful"], 1) * 1e6, 1)
    result["cpu_bound_registers_per_second"] = round(
        result["successful"] / cpu if cpu > 0 else 0.0
    )
    return result


def register_load(quick: bool) -> dict[str, Any]:
    if shutil.which("sipp") is None:
        return {"skipped": "sipp not found (Debian package sip-tester)"}
    seconds = 1.0 if quick else 5.0
    rates = [200, 500] if quick else [1000, 2000, 3000, 3500, 4000, 4500, 5000, 6000]
    with tempfile.TemporaryDirectory(prefix="sipref-register-bench-") as tmp:
        return _ramp(lambda r: _register_step(r, seconds, Path(tmp)), rates)


# -- memory per proxied transaction --------------------------------------------------------


def memory_per_transaction(live: int) -> dict[str, Any]:
    """tracemalloc growth per INVITE left pending in the proxy core (no sockets)."""
    from rfc3261.location import Binding, SqliteLocationService
    from rfc3261.message import parse
    from rfc3261.proxy import Proxy, ProxyConfig

    location = SqliteLocationService(":memory:")
    now = time.time()
    aor = "sip:bob@example.com"
    location.update(
        aor, [Binding(aor, "sip:bob@127.0.0.1:5090", now + 3600, "c", 1, None, None)], (), now
    )
    proxy = Proxy(ProxyConfig(host="127.0.0.1", port=5060, domains=frozenset({"example.com"})),
                  location)  # fmt: skip

    def invite(n: int) -> bytes:
        return (
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{n}-1;rport=5071"
            ";received=127.0.0.1\r\n"
            f"From: <sip:caller@example.com>;tag={n}SIPpTag001\r\n"
            "To: <sip:bob@example.com>\r\n"
            f"Call-ID: {n}-11602@127.0.0.1\r\n"
            "CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:5071>\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    source = ("UDP", "127.0.0.1", 5071)
    for n in range(100):
        proxy.receive_request(parse(invite(n)), source, now)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(1000, 1000 + live):
        proxy.receive_request(parse(invite(n)), source, now)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    transactions = len(proxy.layer)
    location.close()
    return {
        "live_invites": live,
        "live_transactions": transactions,
        "bytes_per_proxied_invite": round(grown / live),
        "bytes_per_transaction": round(grown / max(transactions, 1)),
    }


# -- the document ----------------------------------------------------------------------------


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    return {
        "name": NAME,
        "machine": machine_info(),
        "memory": memory_per_transaction(200 if quick else 5_000),
        "proxy": proxy_load(quick),
        "register": register_load(quick),
        "targets": {
            "proxy_ratio": TARGET_PROXY_RATIO,
            "registers_per_second": TARGET_REGISTERS_PER_SECOND,
        },
    }


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """Proxy rate >= 0.5 x Kamailio's and REGISTER >= 3,000/s (None when not measured)."""
    ratio = doc.get("proxy", {}).get("ratio")
    best = (doc.get("register") or {}).get("best")
    if ratio is None or (best is None and "skipped" in doc.get("register", {})):
        return None
    registers = best["rate"] if best else 0
    return ratio >= TARGET_PROXY_RATIO and registers >= TARGET_REGISTERS_PER_SECOND


def _step_line(label: str, step: dict[str, Any], unit: str) -> str:
    cpu = step.get("server_cpu_us_per_call", step.get("server_cpu_us_per_register"))
    per_core = step.get("cpu_bound_calls_per_second", step.get("cpu_bound_registers_per_second"))
    return (
        f"  {label:9} offered {step['rate']:6} {unit}, achieved {step['sipp_call_rate']}:"
        f" {step['successful']} ok, {step['failed']} failed, exit {step['exit_status']},"
        f" server {cpu} us CPU each (= {per_core}/s per core)"
    )


def render(doc: dict[str, Any]) -> str:
    lines = [f"{NAME}: proxy and registrar programs under SIPp load"]
    memory = doc["memory"]
    lines.append(
        f"  memory: {memory['bytes_per_proxied_invite']} B per pending proxied INVITE"
        f" ({memory['bytes_per_transaction']} B per transaction, server + client)"
    )
    proxy = doc["proxy"]
    if "skipped" in proxy:
        lines.append(f"  proxy: skipped ({proxy['skipped']})")
    else:
        for step in proxy["ours"]["steps"]:
            lines.append(_step_line("ours", step, "cps"))
        reference = proxy["kamailio"]
        if "skipped" in reference:
            lines.append(f"  kamailio: skipped ({reference['skipped']})")
        else:
            for step in reference["steps"]:
                lines.append(_step_line("kamailio", step, "cps"))
        best = proxy["ours"]["best"]
        ref_best = reference.get("best")
        lines.append(
            f"  best clean: ours {best and best['rate']} cps, Kamailio"
            f" {ref_best and ref_best['rate']} cps, ratio {proxy.get('ratio')}"
            f" (CPU-bound ratio {proxy.get('cpu_ratio')}; target {TARGET_PROXY_RATIO})"
        )
        if proxy.get("profile_top"):
            lines.append(f"  profile of our proxy at {proxy['profile_rate']} cps (own time):")
            lines.extend("    " + line for line in proxy["profile_top"][:12])
    register = doc["register"]
    if "skipped" in register:
        lines.append(f"  REGISTER: skipped ({register['skipped']})")
    else:
        for step in register["steps"]:
            lines.append(
                _step_line("registrar", step, "reg/s")
                + f", {step['persisted_bindings']} persisted,"
                f" {step['db_bytes_per_binding']} B on disk per binding, RSS growth"
                f" {step['rss_growth_bytes_per_registration']} B per REGISTER (server"
                " transactions kept for Timer J, 32 s)"
            )
        best = register["best"]
        lines.append(
            f"  best clean REGISTER rate: {best and best['rate']}/s"
            f" (target {TARGET_REGISTERS_PER_SECOND})"
        )
    return "\n".join(lines)
