"""The RFC 3891 conformance cases against a sipref UA with Replaces (and a faulty one).

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback, and
answers every INVITE with 200 and SDP; the cases in ``extensions/conformance/rfc3891.py``
run against it through the conformance runner, as ``python -m conformance run ...
--extension rfc3891`` would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3891 import ReplacesExtension
from extensions.tests.conformance_ua import ua_on_loopback
from rfc3261.extension import UAExtension

PROFILE = Profile(extensions=("replaces",), methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"))
CASES = "rfc3891-*"


@pytest.fixture
def serve() -> Iterator[Callable[[list[UAExtension]], str]]:
    """Start a UA with ``extensions`` on 127.0.0.1 (UDP) answering INVITEs; its URI."""
    with contextlib.ExitStack() as stack:
        yield lambda extensions: stack.enter_context(
            ua_on_loopback(extensions, answer=True, headers_to_forget=("Replaces",))
        )


def test_the_cases_pass_against_a_ua_with_replaces(serve: Any) -> None:
    target = serve([ReplacesExtension()])
    run = run_cases(target, "uas", CASES, PROFILE)
    assert verdicts(run) == {
        "rfc3891-replaces-no-dialog-481": "pass",
        "rfc3891-replaces-malformed-400": "pass",
        "rfc3891-replaces-in-options-400": "pass",
    }


def test_a_ua_without_replaces_fails_them(serve: Any) -> None:
    """Without the extension the Replaces is ignored: the INVITE is answered with 200."""
    target = serve([])
    run = run_cases(target, "uas", CASES, PROFILE)
    assert verdicts(run) == {
        "rfc3891-replaces-no-dialog-481": "fail",
        "rfc3891-replaces-malformed-400": "fail",
        "rfc3891-replaces-in-options-400": "fail",
    }
    run = run_cases(target, "uas", CASES, Profile())
    assert set(verdicts(run).values()) == {"not-applicable"}
