"""Command line: ``python -m annotate check|report``.

``check [--spec-dir DIR] [--root DIR] [--offline] [--snapshot] [--snapshot-file PATH]
[--core-rfc N]``
    Print ``path:line: message`` for every bad annotation and exit 1; otherwise print a
    one-line summary and exit 0.  With ``--snapshot`` the coverage snapshot check of
    ``report --check-snapshot`` runs in the same command (for ``make check``/CI).

``report [--json PATH] [--fail-under LEVEL=PCT ...] [--fail-under-verified LEVEL=PCT ...]
[--update-snapshot] [--check-snapshot]
[--quiet] [--rfc N ...] [--spec-dir DIR] [--root DIR] [--offline] [--snapshot-file PATH]
[--core-rfc N]``
    Print the coverage summary (see `annotate.report`); write the JSON; compare with or
    rewrite ``annotate/coverage_snapshot.json``; exit 1 when a ``--fail-under`` level is
    below its percentage, when a requirement got worse than the snapshot, or when an RFC
    cannot be loaded.

``verify [--rfc N ...] [--section X.Y ...] [--id ID ...] [--sample N [--seed S]] [-j N]
[--timeout S] [--no-cache] [--update-snapshot] [--check-snapshot] [--quiet]``
    Break the code each requirement cites and check that a cited test fails (see
    `annotate.verify`); exit 1 with ``--check-snapshot`` when a requirement the
    verification snapshot calls verified no longer is.

The report always covers the ``--core-rfc`` RFCs (default RFC 3261) and every RFC an
annotation targets; ``--rfc`` adds RFCs and narrows the summary and ``--fail-under`` to them.

The snapshot check is opt-in for ``check`` (``--snapshot``) so that the quote check stays
usable while requirement extraction changes; ``make check`` should pass ``--snapshot``.

``check`` also verifies the quotes of ``annotate/later_rfcs.toml`` (what later RFCs
changed: `annotate.later_updates`).

Exit status: 0 success, 1 findings, 2 usage error.  The spec store comes from the
environment (SIPREF_SPEC_DIR, SIPREF_CACHE_DIR, SIPREF_OFFLINE, ...) unless ``--spec-dir``
or ``--offline`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from annotate.checker import Diagnostic
    from annotate.report import Coverage
    from annotate.specstore import SpecStore

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = Path("annotate") / "coverage_snapshot.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m annotate", description="Check RFC annotations and report coverage."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--spec-dir", type=Path, help="folder of rfcNNNN.txt files")
        p.add_argument(
            "--root", type=Path, default=REPO, help="repository root (default: %(default)s)"
        )
        p.add_argument("--offline", action="store_true", help="never fetch RFCs from the network")
        p.add_argument(
            "--snapshot-file",
            type=Path,
            help="coverage snapshot (default: ROOT/annotate/coverage_snapshot.json)",
        )

    def core(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--core-rfc",
            type=int,
            action="append",
            metavar="N",
            help="RFC always in the report, annotated or not (default: 3261; 0 for none)",
        )

    check = sub.add_parser("check", help="verify every annotation against the RFC text")
    common(check)
    core(check)
    check.add_argument(
        "--snapshot",
        action="store_true",
        help="also fail when coverage got worse than the snapshot",
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="also fail on warnings (a requirement cited in code and tests with a todo)",
    )

    report = sub.add_parser("report", help="requirement coverage as text and JSON")
    common(report)
    core(report)
    report.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report here")
    report.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="LEVEL=PCT",
        help="exit 1 when the complete%% (verified or complete) of LEVEL (MUST, SHOULD, MAY, "
        "ALL) is below PCT",
    )
    report.add_argument(
        "--fail-under-verified",
        action="append",
        default=[],
        metavar="LEVEL=PCT",
        help="exit 1 when the verified%% of LEVEL is below PCT",
    )
    report.add_argument("--update-snapshot", action="store_true", help="rewrite the snapshot")
    report.add_argument(
        "--check-snapshot", action="store_true", help="exit 1 when any status got worse"
    )
    report.add_argument("--quiet", action="store_true", help="print only problems")
    report.add_argument(
        "--rfc",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="RFCs for the summary and --fail-under (default: all in the report)",
    )
    verify = sub.add_parser(
        "verify", help="break the cited code and check that a cited test notices"
    )
    common(verify)
    core(verify)
    verify.add_argument("--rfc", type=int, action="append", default=[], metavar="N")
    verify.add_argument(
        "--section", action="append", default=[], metavar="X.Y", help="a section and subsections"
    )
    verify.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="ID",
        help="a requirement id, or its prefix up to a '-' (rfc3261-17.1.1.2-r3)",
    )
    verify.add_argument("--sample", type=int, metavar="N", help="N requirements at random")
    verify.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    verify.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers")
    verify.add_argument(
        "--timeout", type=float, default=60.0, help="time limit per test, s (default: 60)"
    )
    verify.add_argument("--no-cache", action="store_true", help="ignore the cached verdicts")
    verify.add_argument(
        "--cache-file", type=Path, help="default: ROOT/.cache/annotate-verify.json"
    )
    verify.add_argument(
        "--verify-snapshot",
        type=Path,
        help="verification snapshot (default: ROOT/annotate/verify_snapshot.json)",
    )
    verify.add_argument(
        "--update-snapshot", action="store_true", help="record the verdicts in the snapshot"
    )
    verify.add_argument(
        "--changed",
        action="store_true",
        help="verify again only the requirements of the snapshot whose cited blocks or test "
        "annotations changed since it recorded them (what CI runs)",
    )
    verify.add_argument(
        "--check-snapshot",
        action="store_true",
        help="exit 1 when a requirement verified in the snapshot is no longer verified",
    )
    verify.add_argument("--quiet", action="store_true", help="print only what is not verified")
    return parser


def _store(args: argparse.Namespace) -> SpecStore:
    from annotate.specstore import SpecStore

    store = SpecStore.from_env(spec_dir=args.spec_dir)
    if args.offline:
        store.allow_fetch = False
    return store


def _core(args: argparse.Namespace) -> list[int]:
    return [n for n in (args.core_rfc or [3261]) if n]


def _snapshot_path(args: argparse.Namespace) -> Path:
    return args.snapshot_file or args.root / SNAPSHOT


def _check_snapshot(coverage: Coverage, path: Path, out: TextIO) -> bool:
    """Compare with the snapshot; print what dropped; True when nothing did."""
    from annotate.report import compare_snapshot, read_snapshot, snapshot_format, snapshot_of

    try:
        old = read_snapshot(path)
    except ValueError as exc:
        print(f"snapshot: {exc}", file=out)
        return False
    # A format-1 snapshot predates verified/partial/implied: compare it under its own rules
    # (which citations exist), so a lost citation still shows and a stricter rule does not.
    legacy = snapshot_format(path) < 2
    diff = compare_snapshot(old, snapshot_of(coverage, legacy=legacy))
    for rid, was, now in diff.dropped:
        what = "disappeared" if now is None else f"got worse: {was} -> {now}"
        print(f"{path}: {rid} {what}" + (f" (was {was})" if now is None else ""), file=out)
    if diff.dropped:
        print(
            f"snapshot: {len(diff.dropped)} requirement(s) dropped; fix the coverage, or run "
            "`python -m annotate report --update-snapshot` if the drop is intended",
            file=out,
        )
        return False
    if diff.improved:
        print(
            f"snapshot: {len(diff.improved)} requirement(s) improved or new; run "
            "`python -m annotate report --update-snapshot` to record them",
            file=out,
        )
    if legacy:
        print(
            f"snapshot: {path} is format 1 (compared under its rules); run "
            "`python -m annotate report --update-snapshot` to record verified/partial/implied",
            file=out,
        )
    return True


def _check_later_updates(root: Path, store: SpecStore) -> list[Diagnostic]:
    """Both quotes of every entry of the later-RFC updates file (when the tree has one)."""
    from annotate.checker import DocumentCache
    from annotate.later_updates import UPDATES_FILE, check_updates, load_updates

    path = root / UPDATES_FILE
    if not path.is_file():
        return []
    updates, problems = load_updates(path)
    return problems + check_updates(updates, DocumentCache(store))


def _check_observability(root: Path, coverage: Coverage) -> list[Diagnostic]:
    """The observability classifications in the tree: RFC 3261's, and each extension RFC's
    ``extensions/rfcNNNN.observability.toml`` (issue 25)."""
    from annotate.checker import Diagnostic
    from annotate.observability import check_file, observability_files

    out: list[Diagnostic] = []
    for number, path in observability_files(root).items():
        rfc = coverage.rfc(number)
        display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        if rfc is None:
            out.append(Diagnostic(display, 1, f"RFC {number} is not in the report"))
            continue
        required = [e.requirement for e in rfc.requirements if not e.declared]
        declared = [e.requirement for e in rfc.requirements if e.declared]
        out += check_file(path, required, display, optional=declared, rfc=number)[1]
    return out


def _cmd_check(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    root: Path = args.root
    store = _store(args)
    from annotate.observability import observability_files
    from annotate.report import build_coverage, conflict_warnings

    # every RFC with an observability classification is in the report, cited or not
    classified = observability_files(root)
    coverage = build_coverage(root, store, rfcs=classified, extensions=False, core=_core(args))
    annotations, diagnostics = coverage.annotations, coverage.diagnostics
    diagnostics = list(diagnostics) + _check_later_updates(root, store)
    diagnostics += _check_observability(root, coverage)
    for diagnostic in diagnostics:
        print(diagnostic)
    from annotate.checker import erratum_notes
    from annotate.errata import stale_citations

    for note in erratum_notes(coverage.resolved):
        print(note)
    warnings = conflict_warnings(coverage) + stale_citations(
        coverage.resolved, store.errata.records
    )
    for warning in warnings:
        print(warning)
    if store.errata.problem:
        print(f"annotate check: {store.errata.problem}")
    ok = not diagnostics and not (args.strict and warnings)
    if args.snapshot:
        for message in coverage.load_errors:
            print(f"snapshot: {message}")
        ok = _check_snapshot(coverage, _snapshot_path(args), sys.stdout) and ok
        ok = ok and not coverage.load_errors
    elapsed = time.perf_counter() - started
    files = len({a.path for a in annotations})
    rfcs = sorted({a.rfc for a in annotations if a.rfc is not None})
    if diagnostics:
        print(f"annotate check: {len(diagnostics)} problem(s) in {len(annotations)} annotations")
        return 1
    if not ok:
        print("annotate check: annotations OK, coverage snapshot check failed")
        return 1
    print(
        f"annotate check: {len(annotations)} annotations in {files} files OK "
        f"(RFC {', '.join(map(str, rfcs)) or 'none'})"
        + (", coverage not below the snapshot" if args.snapshot else "")
        + (f", {len(warnings)} warning(s)" if warnings else "")
        + f" in {elapsed:.2f} s"
    )
    return 0


def _conformance_coverage(root: Path, coverage: Coverage) -> str:
    """The "conformance coverage" sections of the report: per classified RFC and role, the
    observable MUSTs/SHOULDs and those a conformance case judges; per stack, the verdicts
    (issue 25)."""
    from collections import Counter

    from annotate.observability import (
        case_requirements,
        coverage_text,
        load_observability,
        observability_files,
        result_files,
        role_coverage,
        role_mismatches,
        stack_verdicts,
    )

    files = observability_files(root)
    if not files:
        return ""
    try:
        from conformance.discovery import load_cases

        cases = load_cases(root / "conformance" / "cases", root / "extensions" / "conformance")
    except Exception as exc:  # a broken case module must not hide the rest of the report
        return f"conformance coverage: the cases cannot be loaded: {exc}"
    verdicts = stack_verdicts(result_files(root))
    parts = []
    for number, path in files.items():
        rfc = coverage.rfc(number)
        if rfc is None:
            continue
        obs = load_observability(path)
        requirements = [e.requirement for e in rfc.requirements]
        judged = case_requirements(cases, rfc.document)
        rows = role_coverage(requirements, obs, judged)
        hidden = Counter(
            r.level
            for r in requirements
            if r.id in obs.entries and not obs.entries[r.id].observable
        )
        observable = [
            r.id for r in requirements if r.id in obs.entries and obs.entries[r.id].roles
        ]
        mismatches = role_mismatches(obs, judged)
        display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        parts.append(
            coverage_text(
                rows,
                dict(sorted(hidden.items())),
                verdicts,
                observable,
                mismatches,
                rfc=number,
                path=display,
            )
        )
    return "\n".join(parts)


def _cmd_report(args: argparse.Namespace) -> int:
    from annotate.report import (
        build_coverage,
        fail_under,
        parse_fail_under,
        snapshot_of,
        text_summary,
        to_json,
        write_snapshot,
    )

    try:
        thresholds = [parse_fail_under(spec) for spec in args.fail_under]
        verified = [parse_fail_under(spec) for spec in args.fail_under_verified]
    except ValueError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    coverage = build_coverage(args.root, _store(args), rfcs=args.rfc, core=_core(args))
    status = 0
    for message in coverage.load_errors:
        print(f"report: {message}", file=sys.stderr)
        status = 1
    if coverage.diagnostics and not args.quiet:
        print(
            f"report: {len(coverage.diagnostics)} annotation problem(s) ignored; "
            "run `python -m annotate check`",
            file=sys.stderr,
        )
    if not args.quiet:
        print(text_summary(coverage, args.rfc or None))
        if not args.rfc or 3261 in args.rfc:
            section = _conformance_coverage(args.root, coverage)
            if section:
                print(section)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(coverage), indent=1) + "\n", encoding="utf-8")
    snapshot = _snapshot_path(args)
    if args.check_snapshot and not _check_snapshot(coverage, snapshot, sys.stdout):
        status = 1
    if args.update_snapshot:
        if coverage.load_errors:
            print("report: snapshot not updated: an RFC could not be loaded", file=sys.stderr)
        else:
            write_snapshot(snapshot, snapshot_of(coverage))
            if not args.quiet:
                print(f"snapshot: wrote {snapshot}")
    for failure in fail_under(coverage, thresholds, args.rfc or None):
        print(f"fail-under: {failure}")
        status = 1
    for failure in fail_under(coverage, verified, args.rfc or None, what="verified"):
        print(f"fail-under-verified: {failure}")
        status = 1
    return status


def _cmd_verify(args: argparse.Namespace) -> int:
    from annotate.report import build_coverage
    from annotate.verify import (
        SNAPSHOT as VERIFY_SNAPSHOT,
    )
    from annotate.verify import (
        VERDICTS,
        Outcome,
        candidates,
        changed_since,
        read_verify_keys,
        read_verify_snapshot,
        run_verify,
        sample,
        write_verify_snapshot,
    )

    if args.jobs < 1 or args.timeout <= 0 or (args.sample is not None and args.sample < 1):
        print("verify: --jobs, --timeout and --sample must be positive", file=sys.stderr)
        return 2
    started = time.perf_counter()
    root: Path = args.root.resolve()
    coverage = build_coverage(root, _store(args), extensions=False, core=_core(args))
    for message in coverage.load_errors:
        print(f"verify: {message}", file=sys.stderr)
    chosen = candidates(coverage, root, args.rfc, args.section, args.id)
    if args.sample is not None:
        chosen = sample(chosen, args.sample, args.seed)
    path = args.verify_snapshot or root / VERIFY_SNAPSHOT
    try:
        old = read_verify_snapshot(path)
        old_keys = read_verify_keys(path)
    except ValueError as exc:
        print(f"verify: {exc}")
        return 1
    if args.changed:
        unchanged = len(chosen)
        chosen, new = changed_since(chosen, old, old_keys)
        unchanged -= len(chosen) + len(new)
        print(f"verify: {unchanged} requirement(s) unchanged since the snapshot", flush=True)
        if new:
            print(
                f"verify: {len(new)} cited requirement(s) have no verdict yet (make verify "
                "gives them one; --changed checks what the snapshot holds)",
                flush=True,
            )
        if not chosen:
            print("verify: nothing changed: the snapshot's verdicts stand")
            return 0
    if not chosen:
        print("verify: no requirement cited both in code and in a test matches the selection")
        return 1 if (args.rfc or args.section or args.id) else 0
    print(f"verify: {len(chosen)} requirement(s), {args.jobs} worker(s)", flush=True)

    def progress(outcome: Outcome, done: int, total: int) -> None:
        if outcome.verdict != "verified" or not args.quiet:
            line = f"[{done}/{total}] {outcome.id}: {outcome.verdict} — {outcome.reason}"
            print(line, flush=True)

    outcomes = run_verify(
        root,
        chosen,
        jobs=args.jobs,
        timeout=args.timeout,
        cache_path=args.cache_file,
        use_cache=not args.no_cache,
        progress=progress,
    )
    counts = dict.fromkeys(VERDICTS, 0)
    for outcome in outcomes:
        counts[outcome.verdict] += 1
        if outcome.cached and (outcome.verdict != "verified" or not args.quiet):
            print(f"[cached] {outcome.id}: {outcome.verdict} — {outcome.reason}")
    cached = sum(o.cached for o in outcomes)
    elapsed = time.perf_counter() - started
    print(
        "verify: "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        + f" of {len(outcomes)} ({cached} from the cache) in {elapsed:.0f} s"
    )
    status = 0
    if args.check_snapshot:
        lost = [o for o in outcomes if old.get(o.id) == "verified" and o.verdict != "verified"]
        for o in lost:
            print(f"{path}: {o.id} was verified, now {o.verdict}: {o.reason}")
        if lost:
            print(f"verify: {len(lost)} requirement(s) no longer verified")
            status = 1
    if args.update_snapshot:
        new, keys = dict(old), dict(old_keys)
        if not (args.rfc or args.section or args.id or args.sample or args.changed):
            new, keys = {}, {}  # a full run: drop the ids no longer cited in code and tests
        new.update({o.id: o.verdict for o in outcomes})
        keys.update({c.id: c.key for c in chosen})
        write_verify_snapshot(path, new, keys)
        print(f"verify: wrote {path}")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _cmd_check(args)
    if args.command == "verify":
        return _cmd_verify(args)
    return _cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
