"""The RFC 3262 and RFC 3311 conformance cases against a sipref UA with both extensions.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback; it
rings every INVITE with a (reliable) 180 and answers it with 200 and SDP.  The cases in
``extensions/conformance/rfc3262.py`` and ``rfc3311.py`` run against it through the
conformance runner, as ``python -m conformance run ... --extension rfc3262`` would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3262 import ReliableProvisional
from extensions.rfc3311 import UpdateExtension
from extensions.tests.conformance_ua import ua_on_loopback


@pytest.fixture
def target() -> Iterator[str]:
    """A UA with 100rel and UPDATE on 127.0.0.1 (UDP), for the length of one test."""
    extensions = [ReliableProvisional(), UpdateExtension()]
    with ua_on_loopback(
        extensions, ring=True, answer=True, headers_to_forget=("RSeq", "RAck")
    ) as uri:
        yield uri


def test_the_extension_cases_pass_against_a_ua_with_both_extensions(target: str) -> None:
    profile = Profile(
        extensions=("100rel",),
        methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK", "UPDATE"),
    )
    # the other RFC 3262 cases need a ringing user and the ua program: see
    # test_conformance_answerer.py
    run = run_cases(target, "uas", "rfc3262-prack-*,rfc3262-require-*,rfc3311-*", profile)
    assert verdicts(run) == {
        "rfc3262-prack-unmatched-481": "pass",
        "rfc3262-require-100rel": "pass",
        "rfc3311-update-unknown-dialog-481": "pass",
        "rfc3311-update-answered": "pass",
        "rfc3311-update-unchanged-offer": "pass",
        # the profile names no ringing user
        "rfc3311-update-glare-491": "not-applicable",
        "rfc3311-update-offer-unanswered-500": "not-applicable",
        # this UA answers the first UPDATE before the second arrives
        "rfc3311-overlapping-update-500": "not-applicable",
        # this UA has no session describer: it cannot offer in a 180 to an offerless INVITE
        "rfc3311-update-contact-kept-in-2xx": "inconclusive",
    }


def test_the_cases_do_not_apply_to_a_ua_without_them(target: str) -> None:
    run = run_cases(target, "uas", "rfc3262-prack-*,rfc3311-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
