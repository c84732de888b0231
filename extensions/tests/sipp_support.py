"""What the extensions' SIPp tests share: one SIPp caller run, and retransmission gaps."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from rfc3261.asyncio.loopback import free_port
from rfc3261.tests.test_sipp import SIPP_COMMON

SCENARIOS = Path(__file__).resolve().parent / "sipp"


async def run_sipp_caller(
    sipp: str, scenario: str, port: int, workdir: Path, trace: Path, pause_ms: int = 1600
) -> tuple[int, str]:
    """One call by ``sipp/<scenario>`` to 127.0.0.1:``port``, its messages traced to
    ``trace``; SIPp's exit status and output."""
    process = await asyncio.create_subprocess_exec(
        sipp,
        "-sf", str(SCENARIOS / scenario),
        f"127.0.0.1:{port}",
        "-i", "127.0.0.1", "-p", str(free_port()),
        "-m", "1", "-d", str(pause_ms),
        "-trace_msg", "-message_file", str(trace),
        *SIPP_COMMON,
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 50)
    return process.returncode or 0, out.decode(errors="replace")


def assert_gaps(times: list[float], expected: list[float], context: str) -> list[float]:
    """The gaps between ``times`` start as ``expected`` (within 30 % + 30 ms); the gaps."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= len(expected), (gaps, context)
    for measured, wanted in zip(gaps, expected, strict=False):
        assert abs(measured - wanted) <= 0.3 * wanted + 0.03, (gaps, expected)
    return gaps
