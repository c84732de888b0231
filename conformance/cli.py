"""``python -m conformance``: run the conformance cases against a SIP element, or list them.

The cases are the core's (``conformance/cases/``) and the extensions' (``extensions/
conformance/``), found by `conformance.discovery`; ``--extension NAME`` keeps one
extension's.  Exit status: 0 when no case failed or errored, 1 when one did, 2 on a usage
error, a case module that does not load, or a target that does not answer at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conformance.discovery import CORE_CASES, EXTENSION_CASES, CaseLoadError, load_cases, origins
from conformance.model import ROLES, Case
from conformance.pcap import write_pcap
from conformance.profile import ProfileError, load_profile
from conformance.report import progress_line, requirement_ids, summary_text, to_junit, write_json
from conformance.runner import NoAnswer, Runner, default_jobs, select_cases
from conformance.target import TargetError, parse_target

__all__ = ["main"]


_EXTENSION_HELP = "only the cases these extensions ship (comma-separated; 'core': the core's)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run cases against a target")
    run.add_argument(
        "--target",
        required=True,
        help="sip:USER@127.0.0.1:5070;transport=tcp (USER: the user every request goes to; "
        "else the profile's) or udp:HOST:PORT",
    )
    run.add_argument("--role", required=True, choices=ROLES)
    run.add_argument("--transport", choices=("udp", "tcp", "tls", "ws"))
    run.add_argument("--cases", default="*", help="case id glob(s), comma-separated")
    run.add_argument("--extension", help=_EXTENSION_HELP)
    run.add_argument("--profile", type=Path, help="TOML profile of the target")
    run.add_argument("--stack", default="", help="name of the stack in reports")
    run.add_argument("--json", type=Path, help="write the JSON report here")
    run.add_argument("--junit", type=Path, help="write JUnit XML here")
    run.add_argument("--pcap", type=Path, help="write every message exchanged as a pcap")
    run.add_argument("--timeout", type=float, default=15.0, help="time limit per case (s)")
    run.add_argument("--total-timeout", type=float, default=600.0, help="time limit of the run")
    run.add_argument("--allow-remote", action="store_true", help="allow a non-loopback target")
    run.add_argument("--slow", action="store_true", help="also run cases tagged slow")
    run.add_argument("--probe-timeout", type=float, default=4.0, help="liveness probe wait (s)")
    run.add_argument(
        "--jobs",
        type=int,
        help="cases run side by side (default: 4 in the uac and proxy roles, where the runner "
        "owns both ends; 1 elsewhere: a phone may hold one call at a time)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress line")
    lst = sub.add_parser("list", help="list the cases")
    lst.add_argument("--role", choices=ROLES)
    lst.add_argument("--rfc", type=int, help="only cases verifying this RFC")
    lst.add_argument("--extension", help=_EXTENSION_HELP)
    lst.add_argument("--verbose", "-v", action="store_true", help="show the quotes")
    return parser


def _unknown_extension(cases: list[Case], wanted: str | None) -> str:
    """An error message when ``wanted`` names an origin no case has, else ''."""
    known = origins(cases)
    names = [name.strip() for name in (wanted or "").split(",")]
    unknown = [name for name in names if name and name not in known]
    if not unknown:
        return ""
    return f"no conformance cases from {', '.join(unknown)} (cases come from: {', '.join(known)})"


def _list(args: argparse.Namespace, cases: list[Case]) -> int:
    for entry in select_cases(cases, args.role, origin=args.extension):
        if args.rfc and not any(r.rfc == args.rfc for r in entry.requirements):
            continue
        refs = ", ".join(dict.fromkeys(r.ref for r in entry.requirements))
        print(
            f"{entry.id:40} {','.join(entry.roles):22} {entry.level:6} {entry.origin:10} {refs}"
            + (f"  ETSI {entry.etsi}" if entry.etsi else "")
            + (f"  [{','.join(entry.tags)}]" if entry.tags else "")
        )
        if args.verbose:
            print(f"    {entry.title}")
            for req in entry.requirements:
                print(f"    {req.ref} {' '.join(requirement_ids(req))}")
                print(f'      "{" ".join(req.quote.split())}"')
    return 0


def _run(args: argparse.Namespace, cases: list[Case]) -> int:
    try:
        target = parse_target(args.target, args.transport, args.allow_remote)
        profile = load_profile(args.profile)
    except (TargetError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = select_cases(cases, args.role, args.cases, args.extension)
    if not chosen:
        among = f" among the cases of {args.extension}" if args.extension else ""
        print(
            f"error: no case matches role {args.role} and {args.cases!r}{among}", file=sys.stderr
        )
        return 2
    progress = None if args.quiet else progress_line
    runner = Runner(
        target,
        args.role,
        profile,
        case_timeout=args.timeout,
        total_timeout=args.total_timeout,
        progress=progress,
        slow=args.slow,
        probe_timeout=args.probe_timeout,
        jobs=args.jobs or default_jobs(args.role),
    )
    for warning in runner.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        run = runner.run(chosen)
    except NoAnswer as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.pcap:
            write_pcap(args.pcap, runner.probe_ladder.events)
        return 2
    run.stack = args.stack or profile.name
    if args.json:
        write_json(run, args.json)
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(to_junit(run))
    if args.pcap:
        events = list(runner.probe_ladder.events)
        for res in run.results:
            events += res.ladder.events
        write_pcap(args.pcap, events)
    print(summary_text(run))
    return 0 if run.ok else 1


def main(
    argv: list[str] | None = None,
    *,
    core: Path | None = CORE_CASES,
    extensions: Path | None = EXTENSION_CASES,
) -> int:
    """Run the command line; ``core`` and ``extensions`` are the folders the cases come from."""
    args = _parser().parse_args(argv)
    try:
        cases = load_cases(core, extensions)
    except CaseLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = _unknown_extension(cases, args.extension)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return _list(args, cases) if args.command == "list" else _run(args, cases)
    except BrokenPipeError:
        # The reader went away (``python -m conformance list | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
