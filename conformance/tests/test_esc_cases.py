"""The RFC 3903 ESC cases (``conformance/cases/esc_rfc3903.py``) against the faulty element
with its small event state compositor: without faults none fails; each PUBLISH fault fails
exactly the case judging the rule it breaks.  (Against sipref's presence server they run in
test_own_programs, the ``sipref-presence`` variant.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts

ESC = Profile(t1=0.2, methods=("OPTIONS", "PUBLISH"), user="alice")
#: the cases that judge PUBLISH handling (the Digest and TLS ones are not applicable here)
CASES = "esc-*"


@pytest.fixture
def esc() -> Iterator[Callable[..., str]]:
    started: list[FaultyElement] = []

    def factory(*faults: str) -> str:
        made = FaultyElement("uas", faults, t1=ESC.t1, esc=True)
        started.append(made)
        return f"udp:127.0.0.1:{made.start()}"

    yield factory
    for made in started:
        made.stop()


def test_a_correct_compositor_fails_no_case(esc) -> None:
    got = verdicts(run_cases(esc(), "uas", CASES, ESC))
    assert got.pop("esc-publish-digest") == "not-applicable"
    assert got.pop("esc-tls-sips") == "not-applicable"
    # its OPTIONS answer lists no PUBLISH (a SHOULD of §7)
    assert got.pop("esc-options-allow-publish") == "warn"
    assert set(got.values()) == {"pass"}, got


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("publish_no_etag", "esc-initial-publication"),
        ("publish_same_etag", "esc-new-entity-tag"),
    ],
)
def test_each_publish_fault_fails_its_case(esc, fault: str, failing: str) -> None:
    got = verdicts(run_cases(esc(fault), "uas", CASES, ESC))
    # the cases whose preamble the fault breaks end inconclusive, not failed
    assert [case for case, verdict in got.items() if verdict == "fail"] == [failing], got
