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
from conformance.model import REGISTRY, Verdict
from conformance.profile import load_profile
from conformance.runner import CaseResult, Runner
from conformance.selftest import PROFILES, UAC_STACKS, VARIANTS, _stacks
from conformance.target import parse_target
from conformance.tests.support import started
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


def stack_for(case_id: str, role: str) -> str:
    """The program a case runs against: a UDP variant of the role whose case globs name it
    (sipref-presence for the RFC 3903/6665/3856 event cases), else the role's program."""
    for name, (stack, transport, globs) in VARIANTS.items():
        if name != stack or transport != "udp":
            continue
        if _stacks(0, Path("."))[stack][2] == role and any(
            fnmatch.fnmatch(case_id, g.strip()) for g in globs.split(",")
        ):
            return stack
    return STACK_OF_ROLE[role]


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
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="sipref-verify-") as work:
            command, profile_name, _role = _stacks(port, Path(work))[stack_for(case_id, role)]
            assert command is not None
            profile = load_profile(PROFILES / profile_name)
            with started(command, port):
                run = Runner(parse_target(f"udp:127.0.0.1:{port}"), role, profile).run([case])
        _accepted(role, run.results)


def _accepted(role: str, results: list[CaseResult]) -> None:
    [result] = results
    assert result.verdict in ACCEPTED, f"{role}: {result.verdict.value}: {result.reason}"
    if result.verdict == Verdict.NOT_APPLICABLE:
        assert result.reason, f"{role}: not applicable without a reason"
