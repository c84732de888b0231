"""The RFC 8866 (SDP) cases against the test double: they pass against the correct element,
and its SDP without a c= line fails exactly the case judging the c= rules (§5.7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts

PROFILE = Profile(t1=0.2)
CASES = "rfc8866-*"


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(*faults: str) -> str:
        element = FaultyElement("uas", faults, t1=PROFILE.t1)
        started.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started:
        element.stop()


def test_the_correct_element_passes(make) -> None:
    got = verdicts(run_cases(make(), "uas", CASES, PROFILE))
    assert len(got) >= 10
    assert set(got.values()) == {"pass"}, got


def test_sdp_without_connection_fails_its_case(make) -> None:
    run = run_cases(make("sdp_no_connection"), "uas", CASES, PROFILE)
    got = verdicts(run)
    assert got.pop("rfc8866-sent-connection") == "fail", [
        (r.case.id, r.reason) for r in run.results
    ]
    assert set(got.values()) == {"pass"}, got
    (result,) = [r for r in run.results if r.case.id == "rfc8866-sent-connection"]
    assert "no c= for m=audio" in result.reason
