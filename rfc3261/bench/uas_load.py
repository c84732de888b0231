"""The minimal UAS under load: calls per second, failed calls, memory per transaction.

Three measurements:

- **in process**: the dispatcher and :class:`rfc3261.asyncio.uas_minimal.MinimalUAS` fed the
  bytes of SIPp-shaped INVITE, ACK and BYE requests directly (no sockets): the CPU
  cost of one call in our code, and a cProfile summary of where it goes;
- **memory**: tracemalloc's growth with N live INVITE server transactions (and
  their dialogs), per transaction;
- **SIPp**: SIPp's built-in ``uac`` scenario against the minimal UAS over UDP on
  loopback, our process pinned to one core, 4 MB socket buffers on both sides,
  stepping the call rate up until calls fail; the same against SIPp's built-in
  ``uas`` as the reference ceiling.  Skipped (with the reason) without ``sipp``.

``run(options)`` returns the JSON document; ``render(doc)`` the terminal table.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from rfc3261.asyncio.loopback import free_port as _free_port
from rfc3261.bench import cpu_and_profile

NAME = "uas_load"

# What the benchmark's figures are held against (the target).
TARGET_RATIO = 0.2

_INVITE = (
    "INVITE sip:service@127.0.0.1:5070 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{n}-1-0\r\n"
    "From: sipp <sip:sipp@127.0.0.1:5071>;tag={n}SIPpTag001\r\n"
    "To: service <sip:service@127.0.0.1:5070>\r\n"
    "Call-ID: {n}-11602@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: sip:sipp@127.0.0.1:5071\r\n"
    "Max-Forwards: 70\r\n"
    "Subject: Performance Test\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length:   129\r\n"
    "\r\n"
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)
_IN_DIALOG = (
    "{method} sip:service@127.0.0.1:5070 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-{n}-1-{b}\r\n"
    "From: sipp <sip:sipp@127.0.0.1:5071>;tag={n}SIPpTag001\r\n"
    "To: service <sip:service@127.0.0.1:5070>;tag={tag}\r\n"
    "Call-ID: {n}-11602@127.0.0.1\r\n"
    "CSeq: {cseq} {method}\r\n"
    "Contact: sip:sipp@127.0.0.1:5071\r\n"
    "Max-Forwards: 70\r\n"
    "Subject: Performance Test\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)
_TO_TAG = re.compile(rb"\r\nTo:[^\r]*;tag=([^;\r]+)")


class _Harness:
    """A dispatcher + MinimalUAS whose transport sends are captured, on a private loop."""

    def __init__(self) -> None:
        from rfc3261.asyncio.dispatcher import Dispatcher
        from rfc3261.asyncio.transport import Address, ListeningPoint, Source
        from rfc3261.asyncio.uas_minimal import MinimalUAS

        self.loop = asyncio.new_event_loop()
        self.uas = MinimalUAS()
        self.dispatcher = Dispatcher(self.uas, send_100=False, loop=self.loop)
        self.sent: list[bytes] = []
        point = ListeningPoint(Address("UDP", "127.0.0.1", 5070))
        self.dispatcher.transport.listening_points.append(point)
        self.dispatcher._sent_by.add(("127.0.0.1", 5070))
        self.source = Source(Address("UDP", "127.0.0.1", 5071), point)

        def send(data: bytes, destination: Any, **_: Any) -> None:
            self.sent.append(data)

        self.dispatcher.transport.send = send  # type: ignore[method-assign]

    def call(self, n: int, *, bye: bool = True) -> None:
        receive = self.dispatcher.receive
        receive(_INVITE.format(n=n).encode(), self.source)
        match = _TO_TAG.search(self.sent[-1])
        assert match is not None, "the UAS did not answer the INVITE with a tagged To"
        tag = match.group(1).decode()
        receive(_IN_DIALOG.format(method="ACK", n=n, b=0, tag=tag, cseq=1).encode(), self.source)
        if bye:
            receive(
                _IN_DIALOG.format(method="BYE", n=n, b=2, tag=tag, cseq=2).encode(), self.source
            )
        self.sent.clear()

    def close(self) -> None:
        self.uas.stop()
        if self.dispatcher._timer is not None:
            self.dispatcher._timer.cancel()
        self.loop.close()


def in_process(calls: int) -> dict[str, Any]:
    """CPU time per call (INVITE, ACK, BYE in; 200, 200 out) without sockets.

    The garbage collector is tuned as ``python -m rfc3261.asyncio.uas_minimal`` tunes it.
    """
    harness = _Harness()
    try:
        elapsed, profile_top = cpu_and_profile(harness.call, calls, min(calls, 3000))
    finally:
        harness.close()
    return {
        "calls": calls,
        "us_per_call": round(elapsed / calls * 1e6, 1),
        "calls_per_second_cpu_bound": round(calls / elapsed),
        "profile_top": profile_top,
    }


def memory_per_transaction(live: int) -> dict[str, Any]:
    """tracemalloc growth per INVITE (server transaction + dialog + pending 2xx) left live."""
    harness = _Harness()
    try:
        for n in range(100):
            harness.call(n)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for n in range(1000, 1000 + live):
            harness.call(n, bye=False)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        transactions = len(harness.dispatcher.transactions)
    finally:
        harness.close()
    return {
        "live_calls": live,
        "live_transactions": transactions,
        "bytes_per_call": round(grown / live),
        "bytes_per_transaction": round(grown / max(transactions, 1)),
    }


# -- SIPp -----------------------------------------------------------------------------


_STAT = re.compile(r"^\s*(Successful call|Failed call|Call Rate)\s*\|[^|]*\|\s*([\d.]+)", re.M)


def _sipp_uac(port: int, rate: int, calls: int, workdir: Path) -> dict[str, Any]:
    """Run SIPp's built-in uac against 127.0.0.1:port; its exit status and counts."""
    local = _free_port()
    command = [
        "sipp", "-sn", "uac", f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", str(local),
        "-nostdin", "-m", str(calls), "-r", str(rate), "-timeout", "60s", "-timeout_error",
        "-recv_timeout", "10000", "-buff_size", "4194304", "-l", str(max(rate * 3, 1000)),
    ]  # fmt: skip
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "1", *command]
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=90, check=False
    )
    wall = time.perf_counter() - started
    found = {name: float(value) for name, value in _STAT.findall(result.stdout)}
    successful = int(found.get("Successful call", 0))
    failed = int(found.get("Failed call", 0))
    return {
        "rate": rate,
        "calls": calls,
        "exit_status": result.returncode,
        "successful": successful,
        "failed": failed,
        "failed_percent": round(100 * failed / max(successful + failed, 1), 3),
        "sipp_call_rate": found.get("Call Rate"),
        "wall_seconds": round(wall, 2),
    }


def _start_ours(port: int, workdir: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "rfc3261.asyncio.uas_minimal", "--listen", f"sip:127.0.0.1:{port}",
        "--buffer", "4194304", "--cpu", "0",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening" not in line:
        process.kill()
        raise RuntimeError(f"minimal UAS did not start: {line!r}")
    return process


def _start_sipp_uas(port: int, workdir: Path) -> subprocess.Popen[str]:
    command = [
        "taskset", "-c", "0", "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
        "-nostdin", "-buff_size", "4194304", "-bg",
    ]  # fmt: skip
    command.remove("-bg")
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    time.sleep(0.5)
    return process


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ramp(
    start: Any, port: int, rates: list[int], seconds: float, workdir: Path
) -> dict[str, Any]:
    """Step the offered rate up until calls fail; the best clean step and every step."""
    steps = []
    best: dict[str, Any] | None = None
    for rate in rates:
        process = start(port, workdir)
        try:
            cpu_before = _cpu_seconds(process.pid)
            step = _sipp_uac(port, rate, int(rate * seconds), workdir)
            cpu = _cpu_seconds(process.pid) - cpu_before
        finally:
            _stop(process)
        step["server_cpu_seconds"] = round(cpu, 2)
        # CPU time per call of the server under test, and the rate one core at 100 %
        # would give at that cost (robust when the SIPp driver is the bottleneck).
        step["server_cpu_us_per_call"] = round(cpu / max(step["successful"], 1) * 1e6, 1)
        step["cpu_bound_calls_per_second"] = round(step["successful"] / cpu if cpu > 0 else 0.0)
        achieved = step["sipp_call_rate"] or 0.0
        # Clean: every call succeeded and SIPp kept up with the offered rate.
        step["clean"] = step["exit_status"] == 0 and not step["failed"] and achieved >= 0.9 * rate
        steps.append(step)
        if not step["clean"]:
            break
        best = step
    return {"steps": steps, "best": best}


def sipp_load(quick: bool) -> dict[str, Any]:
    """SIPp uac against our minimal UAS and against SIPp's uas, stepping the rate."""
    if shutil.which("sipp") is None:
        return {"skipped": "sipp not found (Debian package sip-tester)"}
    seconds = 1.0 if quick else 4.0
    ours_rates = [500, 1000] if quick else [1000, 2000, 2500, 3000, 3500, 4000, 4500, 5000]
    ref_rates = [2000] if quick else [4000, 6000, 8000, 10000, 15000, 20000, 25000]
    with tempfile.TemporaryDirectory(prefix="sipref-bench-") as tmp:
        workdir = Path(tmp)
        ours = _ramp(_start_ours, _free_port(), ours_rates, seconds, workdir)
        reference = _ramp(_start_sipp_uas, _free_port(), ref_rates, seconds, workdir)
    result: dict[str, Any] = {"ours": ours, "sipp_uas": reference, "seconds_per_step": seconds}
    if ours["best"] and reference["best"]:
        # Highest clean offered rate, ours over SIPp uas (bounded by the SIPp driver,
        # which shares the machine), and the same for the CPU-bound rate per core.
        result["ratio"] = round(ours["best"]["rate"] / reference["best"]["rate"], 3)
        result["cpu_ratio"] = round(
            ours["best"]["cpu_bound_calls_per_second"]
            / max(reference["best"]["cpu_bound_calls_per_second"], 1),
            3,
        )
    return result


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    return {
        "name": NAME,
        "machine": machine_info(),
        "in_process": in_process(300 if quick else 20_000),
        "memory": memory_per_transaction(200 if quick else 5_000),
        "sipp": sipp_load(quick),
        "target_ratio": TARGET_RATIO,
    }


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """True when ours reaches TARGET_RATIO of SIPp uas (CPU-bound rate, clean steps only)."""
    ratio = doc.get("sipp", {}).get("cpu_ratio")
    if ratio is None:
        return None
    return ratio >= TARGET_RATIO


def render(doc: dict[str, Any]) -> str:
    lines = [f"{NAME}: minimal UAS under SIPp load"]
    cpu = doc["in_process"]
    lines.append(
        f"  in process: {cpu['us_per_call']} us/call"
        f" ({cpu['calls_per_second_cpu_bound']} calls/s CPU-bound, no sockets)"
    )
    memory = doc["memory"]
    lines.append(
        f"  memory: {memory['bytes_per_call']} B per live call,"
        f" {memory['bytes_per_transaction']} B per live transaction"
    )
    sipp = doc["sipp"]
    if "skipped" in sipp:
        lines.append(f"  SIPp: skipped ({sipp['skipped']})")
    else:
        for label, key in (("ours", "ours"), ("SIPp uas", "sipp_uas")):
            for step in sipp[key]["steps"]:
                lines.append(
                    f"  {label:9} offered {step['rate']:6} cps, achieved"
                    f" {step['sipp_call_rate']} cps: {step['successful']} ok, {step['failed']}"
                    f" failed ({step['failed_percent']} %), exit {step['exit_status']},"
                    f" server {step['server_cpu_us_per_call']} us CPU/call"
                    f" (= {step['cpu_bound_calls_per_second']} calls/s per core)"
                )
        lines.append(
            f"  ratio ours/SIPp uas: best clean offered rate {sipp.get('ratio')},"
            f" CPU-bound rate {sipp.get('cpu_ratio')} (target {doc['target_ratio']})"
        )
    lines.append("  profile (in process, by own time):")
    lines.extend("    " + line for line in cpu["profile_top"])
    return "\n".join(lines)


if __name__ == "__main__":
    import json

    quick = "--quick" in sys.argv
    document = run(quick)
    print(render(document))
    if "--json" in sys.argv:
        print(json.dumps(document, indent=2))
