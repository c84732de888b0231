"""The RFC 3264 (answerer), RFC 3262 (reliable provisionals) and RFC 4028 (session timer) UAS
cases against sipref's ua.

The ua program runs as ``conformance.selftest`` starts it (``--extension 100rel,...``, the
``sdp`` extension by default, the profile sipref-ua with its ringing user), on a free
loopback port; every case of the two RFCs must pass or honestly not apply.  A UA answering
every offer with the same fixed SDP (no m= line) gets its fail verdicts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from conformance.model import Profile
from conformance.profile import load_profile
from conformance.selftest import PROFILES, _stacks
from conformance.tests.support import run_cases, started, verdicts
from extensions.rfc3262 import ReliableProvisional
from extensions.tests.conformance_ua import ua_on_loopback
from rfc3261.asyncio.loopback import free_port

CASES = "rfc3264-*,rfc3262-*,rfc4028-*"


def test_the_answerer_and_100rel_cases_pass_against_the_ua_program() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-answerer-") as work:
        command, profile_name, role = _stacks(port, Path(work))["sipref-ua"]
        assert command is not None and role == "uas"
        profile = load_profile(PROFILES / profile_name)
        with started(command, port):
            run = run_cases(f"udp:127.0.0.1:{port}", "uas", CASES, profile)
    got = verdicts(run)
    # the ua answers OPTIONS with its capability SDP: §9 is judged
    assert got["rfc3264-options-capabilities"] == "pass"
    # it refuses a multicast offer (488): §6.2 judges an accepted multicast stream
    assert got.pop("rfc3264-multicast-answer") == "not-applicable"
    # its reliable 18x to an offer carries no answer: no offer/answer to open in a PRACK
    assert got.pop("rfc3262-offer-in-prack-answered") == "not-applicable"
    # the cases that wait 32 s or more run only with --slow
    for slow in (
        "rfc3262-unacknowledged-18x-5xx",
        "rfc3262-transaction-extended-reliably",
        "rfc4028-uas-refreshes",
        "rfc4028-uas-bye-without-refresh",
    ):
        assert got.pop(slow) == "not-applicable"
    assert len(got) >= 21
    assert set(got.values()) == {"pass"}, got
    assert not [r.case.id for r in run.results if r.warnings]


def test_a_ua_answering_with_a_fixed_sdp_fails_the_m_line_cases() -> None:
    # ua_on_loopback answers every INVITE with one fixed SDP: no m= line, whatever the offer
    with ua_on_loopback([], answer=True) as target:
        run = run_cases(
            target,
            "uas",
            "rfc3264-answer-m-lines,rfc3264-offered-port-zero",
            Profile(methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")),
        )
    assert verdicts(run) == {
        "rfc3264-answer-m-lines": "fail",
        "rfc3264-offered-port-zero": "fail",
    }


def test_dynamic_payload_types_kept_by_a_ua_with_telephone_event() -> None:
    # with telephone-event (dynamic type 101) among its codecs the ua answers it: the
    # rtpmap/fmtp and the unchanged-mapping checks then judge a real dynamic type
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-answerer-") as work:
        command, profile_name, _ = _stacks(port, Path(work))["sipref-ua"]
        assert command is not None
        profile = load_profile(PROFILES / profile_name)
        with started([*command, "--codecs", "PCMU,PCMA,telephone-event"], port):
            run = run_cases(
                f"udp:127.0.0.1:{port}",
                "uas",
                "rfc3264-answer-rtpmap-dynamic,rfc3264-new-offer-version",
                profile,
            )
    assert verdicts(run) == {
        "rfc3264-answer-rtpmap-dynamic": "pass",
        "rfc3264-new-offer-version": "pass",
    }
    received = [e.data for r in run.results for e in r.ladder.events if e.direction == "received"]
    assert any(b"a=rtpmap:101 telephone-event/8000" in data for data in received)


class _AlwaysReliable(ReliableProvisional):
    """A faulty UAS: every 18x to an initial INVITE reliable, 100rel asked for or not."""

    name = "100rel-faulty"

    def _send_reliably(self, request: Any) -> bool:
        return request.method == "INVITE" and request.to.tag is None


RINGING = Profile(
    methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK"), ringing_user="ring"
)


def test_reliability_without_100rel_fails_and_the_right_ua_passes() -> None:
    cases = "rfc3262-reliable-18x-prack,rfc3262-no-100rel-not-reliable"
    forget = ("RSeq", "RAck")
    with ua_on_loopback([ReliableProvisional()], ring=True, headers_to_forget=forget) as target:
        good = verdicts(run_cases(target, "uas", cases, RINGING))
    with ua_on_loopback([_AlwaysReliable()], ring=True, headers_to_forget=forget) as target:
        bad = verdicts(run_cases(target, "uas", cases, RINGING))
    assert good == {"rfc3262-reliable-18x-prack": "pass", "rfc3262-no-100rel-not-reliable": "pass"}
    assert bad == {"rfc3262-reliable-18x-prack": "pass", "rfc3262-no-100rel-not-reliable": "fail"}
