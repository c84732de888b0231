"""Helpers shared by the conformance tests: free ports, external targets, small runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.discovery import load_cases
from conformance.model import REGISTRY, Profile
from conformance.runner import Runner, RunResult, select_cases
from conformance.selftest import minimal_uas_argv, sipp_uas_argv, stop_group
from conformance.target import parse_target

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_EXTERNAL = os.environ.get("SIPREF_REQUIRE_EXTERNAL") == "1"

load_cases()  # registers every case, the core's and the extensions'


def run_cases(
    target: str,
    role: str,
    pattern: str,
    profile: Profile | None = None,
    slow: bool = False,
    probe_timeout: float = 4.0,
    jobs: int = 1,
) -> RunResult:
    """Run the cases matching ``pattern`` against ``target`` (``jobs`` side by side)."""
    chosen = select_cases(REGISTRY.values(), role, pattern)
    assert chosen, f"no case matches {pattern}"
    runner = Runner(
        parse_target(target),
        role,
        profile or Profile(),
        slow=slow,
        probe_timeout=probe_timeout,
        jobs=jobs,
    )
    return runner.run(chosen)


def verdicts(run: RunResult) -> dict[str, str]:
    return {r.case.id: r.verdict.value for r in run.results}


def need_external(name: str) -> str:
    """The path of an outside program, or skip (fail under SIPREF_REQUIRE_EXTERNAL=1)."""
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if path is None:
        if REQUIRE_EXTERNAL:
            pytest.fail(f"{name} is required (SIPREF_REQUIRE_EXTERNAL=1) but not installed")
        pytest.skip(f"{name} is not installed (Debian package sip-tester for sipp)")
    return path


def _wait_udp(port: int, process: subprocess.Popen[bytes], seconds: float = 5.0) -> None:
    """Wait until something is bound to UDP ``port`` (or the process died)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"target exited with status {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on UDP {port} after {seconds} s")


@contextlib.contextmanager
def started(argv: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Start a target process, wait for its port, stop it by its PID afterwards."""
    # A session of its own: Kamailio's worker processes are stopped with it.
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_udp(port, process)
        yield process
    finally:
        stop_group(process)


def sipp_uas(port: int) -> list[str]:
    """SIPp's built-in uas on ``port``; without sipp the test skips (or fails in CI)."""
    return sipp_uas_argv(need_external("sipp"), port, "120s")


def minimal_uas(port: int) -> list[str]:
    """The command line of sipref's minimal UAS on ``port``."""
    return minimal_uas_argv(port)
