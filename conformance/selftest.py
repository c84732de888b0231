"""Run the conformance cases against the stacks at hand and write the docs' result files.

``python -m conformance.selftest --out docs/_data/conformance`` starts sipref's minimal UAS
(``python -m rfc3261.uas_minimal``) and SIPp's built-in ``uas`` scenario on free loopback
ports, runs every UAS case against each (UDP), writes ``<stack>.json`` per target (the schema
in `conformance.report`), and stops them.  A stack that is not installed is skipped with a
message; exit status 1 when none could be run.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from conformance import cases as _cases  # noqa: F401  (registers every case)
from conformance.model import REGISTRY
from conformance.profile import load_profile
from conformance.report import progress_line, summary_text, write_json
from conformance.runner import NoAnswer, Runner, select_cases
from conformance.target import parse_target

ROOT = Path(__file__).resolve().parents[1]
PROFILES = Path(__file__).resolve().parent / "profiles"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stacks(port: int) -> dict[str, tuple[list[str] | None, str]]:
    sipp = shutil.which("sipp")
    return {
        "sipref-minimal-uas": (
            [sys.executable, "-m", "rfc3261.uas_minimal", "--listen", f"sip:127.0.0.1:{port}"]
            if (ROOT / "rfc3261" / "uas_minimal.py").exists()
            else None,
            "minimal-uas.toml",
        ),
        "sipp-uas": (
            [
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
                "300s",
                "-timeout_error",
                "-recv_timeout",
                "10000",
            ]
            if sipp
            else None,
            "sipp-uas.toml",
        ),
    }


@contextlib.contextmanager
def _running(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.selftest", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_data" / "conformance")
    parser.add_argument("--stack", action="append", help="only these stacks")
    parser.add_argument("--cases", default="*", help="case id glob(s)")
    args = parser.parse_args(argv)
    done = 0
    port = _free_port()
    for name, (command, profile_name) in _stacks(port).items():
        if args.stack and name not in args.stack:
            continue
        if command is None:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        profile = load_profile(PROFILES / profile_name)
        target = parse_target(f"udp:127.0.0.1:{port}")
        with _running(command):
            runner = Runner(target, "uas", profile, progress=progress_line)
            try:
                run = runner.run(select_cases(REGISTRY.values(), "uas", args.cases))
            except NoAnswer as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                continue
        run.stack = profile.name
        # the docs need verdicts and ladders as text; the base64 copies would double the size
        write_json(run, args.out / f"{name}.json", base64=False)
        print(summary_text(run).splitlines()[-1])
        done += 1
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
