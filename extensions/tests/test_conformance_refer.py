"""The RFC 3515 conformance cases against a sipref UA with the refer extension.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback; the
cases in ``extensions/conformance/rfc3515.py`` run against it through the runner.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3515 import ReferExtension
from extensions.tests.conformance_ua import ua_on_loopback

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY", "REFER")


@pytest.fixture
def target() -> Iterator[tuple[str, ReferExtension]]:
    """A referee on 127.0.0.1 (UDP), for the length of one test."""
    refer = ReferExtension()
    with ua_on_loopback([refer]) as uri:
        yield uri, refer


def test_the_refer_cases_pass_against_a_referee(target: tuple[str, ReferExtension]) -> None:
    uri, refer = target
    run = run_cases(uri, "uas", "rfc3515-*", Profile(methods=METHODS))
    assert verdicts(run) == {
        "rfc3515-no-refer-to-400": "pass",
        "rfc3515-accepted-refer-notifies": "pass",
    }
    assert refer.events.notifier_count() == 0 and not refer.referrals


def test_the_cases_do_not_apply_to_a_ua_without_refer(
    target: tuple[str, ReferExtension],
) -> None:
    run = run_cases(target[0], "uas", "rfc3515-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
