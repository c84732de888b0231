"""The test `annotate.verify` runs for a conformance case: the case against our own program.

Not collected by the normal suite (its name does not match ``test_*.py``); `annotate.verify`
names it on the pytest command line as ``annotate/verify_cases.py::test_case[<case id>]``.
It does for one case what ``conformance/tests/test_own_programs.py`` does for all: start the
sipref program that plays one of the case's roles (the same command line and profile as
``conformance.selftest``), run the case over UDP, and require an accepted verdict (pass, warn,
or not applicable with a reason).  A ``uac`` case starts nothing: the runner is the server and
the sipref-uac profile's ``[uac]`` commands make our ua call it (``conformance.trigger``).  A
``redirect`` case runs against ``python -m rfc3261 redirect`` (profile sipref-redirect).
"""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

import pytest

from conformance.discovery import load_cases
from conformance.model import REGISTRY, Case, Verdict
from conformance.profile import load_profile
from conformance.runner import CaseResult, Runner
from conformance.selftest import (
    PROFILES,
    UAC_STACKS,
    VARIANTS,
    _running,
    _stacks,
    for_command,
    tls_downstream,
    variant,
)
from conformance.target import parse_target
from rfc3261.asyncio.loopback import free_port

load_cases()

#: The sipref program that plays each role (``conformance.selftest`` stack names).
STACK_OF_ROLE = {
    "uas": "sipref-ua",
    "registrar": "sipref-registrar",
    "redirect": "sipref-redirect",
    "proxy": "sipref-proxy",
}
ACCEPTED = (Verdict.PASS, Verdict.WARN, Verdict.NOT_APPLICABLE)


def stacks_for(case_id: str, role: str) -> list[str]:
    """The programs (`VARIANTS` entries) a case may run against, in the order tried: the UDP
    variants of the role whose case globs name it (sipref-presence for the RFC 3903/6665/3856
    event cases, the edge proxy for RFC 5626/3263, the proxy with a local route), the role's
    program over UDP, its other programs (not the minimal UAS, which lacks most of the UA),
    then the other transports' variants naming it (the TLS proxy for the §16.6 SIPS cases,
    the ws variants for RFC 7118, TCP for the stream-framing cases)."""
    named = [
        (name, transport)
        for name, (stack, transport, globs, *_options) in VARIANTS.items()
        if _stacks(0, Path("."))[stack][2] == role
        and stack.startswith("sipref-")
        and any(fnmatch.fnmatch(case_id, g.strip()) for g in globs.split(","))
    ]
    udp = [name for name, transport in named if transport == "udp"]
    # other programs of the role, all its cases over UDP (the registrar with Digest or with
    # outbound)
    others = [
        name
        for name, (command, _profile, plays) in _stacks(0, Path(".")).items()
        if plays == role
        and name.startswith("sipref-")
        and command is not None
        and name != "sipref-minimal-uas"
        and name not in VARIANTS  # a variant runs the cases its globs name, no others
    ]
    return [*udp, STACK_OF_ROLE[role], *others, *(name for name, t in named if t != "udp")]


@pytest.mark.parametrize("case_id", sorted(REGISTRY))
def test_case(case_id: str) -> None:
    case = REGISTRY[case_id]
    roles = [r for r in case.roles if r in STACK_OF_ROLE or r == "uac"]
    if not roles:
        pytest.skip(f"no sipref program plays {', '.join(case.roles)}")
    for role in roles:
        if role == "uac":
            # the target address only names the run: the profile's commands call the runner
            profile = load_profile(PROFILES / UAC_STACKS["sipref-ua-uac"][0])
            run = Runner(parse_target("udp:127.0.0.1:5060"), role, profile).run([case])
            _accepted(role, run.results)
            continue
        # the first program the case applies to gives the verdict (one where it is not
        # applicable cannot show a broken requirement)
        for name in dict.fromkeys(stacks_for(case_id, role)):
            results = _run_against(name, role, case)
            if results[0].verdict != Verdict.NOT_APPLICABLE:
                break
        _accepted(role, results)


def _run_against(name: str, role: str, case: Case) -> list[CaseResult]:
    """The case against one program, started as conformance.selftest starts it (command
    line, profile, transport)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-verify-") as work:
        command, profile_name, _role, transport, _globs = variant(name, port, Path(work))
        assert command is not None
        profile = tls_downstream(load_profile(PROFILES / profile_name), transport, Path(work))
        profile = for_command(profile, command)
        with _running(command, port, tcp=transport != "udp"):
            target = parse_target(f"{transport}:127.0.0.1:{port}")
            return Runner(target, role, profile).run([case]).results


def _accepted(role: str, results: list[CaseResult]) -> None:
    [result] = results
    assert result.verdict in ACCEPTED, f"{role}: {result.verdict.value}: {result.reason}"
    if result.verdict == Verdict.NOT_APPLICABLE:
        assert result.reason, f"{role}: not applicable without a reason"
