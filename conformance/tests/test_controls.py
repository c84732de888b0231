"""Verdicts a tester can trust: the target's own user, controls, postambles, the right blame.

`faulty_uas.FaultyElement` gains faults of the environment (an unknown user, a missing Via
branch, one call at a time, no OPTIONS in a dialog, To ports stripped): a case whose control
exchange they break must end inconclusive with the control's outcome as its reason, never
fail; the real faults (Require ignored) must still fail exactly.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from conformance.messages import make_request, rewrite_torture
from conformance.model import Profile
from conformance.report import summary_text, to_json
from conformance.runner import RunResult
from conformance.sipmsg import parse_message
from conformance.target import parse_target
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts
from conformance.wire import Event

FAST = Profile(t1=0.2)


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(*faults: str, user: str = "") -> str:
        element = FaultyElement("uas", faults, t1=FAST.t1)
        started.append(element)
        port = element.start()
        return f"sip:{user}@127.0.0.1:{port}" if user else f"udp:127.0.0.1:{port}"

    yield factory
    for element in started:
        element.stop()


def _sent(run: RunResult, case_id: str) -> list[Event]:
    res = next(r for r in run.results if r.case.id == case_id)
    return [e for e in res.ladder.events if e.direction == "sent"]


# --- target identity --------------------------------------------------------------------------


def test_target_uri_names_the_user() -> None:
    target = parse_target("sip:alice@127.0.0.1:5070;transport=tcp")
    assert (target.user, target.port, target.transport) == ("alice", 5070, "tcp")
    assert parse_target("udp:127.0.0.1:5070").user == ""
    assert str(target) == "sip:alice@127.0.0.1:5070;transport=tcp"


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% The initial Request-URI of the message SHOULD be set to the value of the URI in the To
##% field.
def test_requests_follow_table_1() -> None:
    """To and From carry neither a port nor a transport parameter (§19.1.1 Table 1); the
    Request-URI keeps them to reach the target."""
    target = parse_target("sip:127.0.0.1:5070;transport=tcp")
    req = make_request("OPTIONS", target, "127.0.0.1:40000", user="alice")
    assert req.uri == "sip:alice@127.0.0.1:5070;transport=tcp"
    assert req.get("To") == "<sip:alice@127.0.0.1>"
    assert (req.get("From") or "").startswith("<sip:tester@127.0.0.1>;tag=")


def test_torture_rewrite_addresses_the_target_user() -> None:
    from conformance.cases.torture import torture_dir

    target = parse_target("udp:127.0.0.1:5070")
    data = (torture_dir() / "rfc4475" / "wsinv.dat").read_bytes()
    msg = parse_message(rewrite_torture(data, target, "127.0.0.1:40000", user="alice"))
    assert msg is not None and msg.uri.startswith("sip:alice@127.0.0.1:5070")
    assert "sip:alice@" in (msg.get("To") or "") and "vivekg" not in (msg.get("To") or "")
    reg = (torture_dir() / "rfc4475" / "regaut01.dat").read_bytes()
    msg = parse_message(rewrite_torture(reg, target, "127.0.0.1:40000", user="alice"))
    assert msg is not None and "sip:alice@" in (msg.get("From") or "")


def test_every_request_goes_to_the_target_user(make) -> None:
    target = make("unknown_user", user="alice")
    run = run_cases(target, "uas", "uas-420-options,torture-4475-lwsdisp,torture-4475-bext01")
    assert verdicts(run) == {
        "uas-420-options": "pass",
        "torture-4475-lwsdisp": "pass",
        "torture-4475-bext01": "pass",
    }
    assert run.warnings == []
    for res in run.results:
        for event in res.ladder.events:
            msg = parse_message(event.data) if event.direction == "sent" else None
            if msg is not None and not msg.is_response and msg.method != "ACK":
                assert "alice@" in msg.uri, (res.case.id, msg.start_line)


def test_no_user_warns_and_controls_fail_inconclusive(make) -> None:
    """Nobody named the user: the target answers 404 to everything; no case may fail."""
    cases = "uas-420-options,uas-415-accept,uas-416-scheme,torture-4475-bext01,torture-4475-unkscm"
    run = run_cases(make("unknown_user"), "uas", cases)
    got = verdicts(run)
    assert set(got.values()) == {"inconclusive"}, got
    assert run.warnings and "user" in run.warnings[0]
    for res in run.results:
        assert res.control_ok is False and "404" in res.control and "404" in res.reason
    data = to_json(run, base64=False)
    assert data["warnings"] == run.warnings
    assert all(c["control"] and c["control"]["ok"] is False for c in data["cases"])
    assert data["cases"][0]["control"]["outcome"] == run.results[0].control
    text = summary_text(run)
    assert "warning: neither" in text
    assert "INCONCLUSIVE uas-420-options: the control OPTIONS" in text


# --- controls --------------------------------------------------------------------------------


def test_branchless_messages_are_not_blamed_for_their_defect(make) -> None:
    """A target dropping requests without a branch: RFC 2543-style torture messages are
    inconclusive (their control, also branchless, got nothing), the others judged."""
    run = run_cases(
        make("need_branch", user="alice"),
        "uas",
        "torture-4475-longreq,torture-4475-badinv01,torture-4475-wsinv,torture-4475-esc01",
    )
    got = verdicts(run)
    assert got == {
        "torture-4475-longreq": "inconclusive",
        "torture-4475-badinv01": "inconclusive",
        "torture-4475-wsinv": "inconclusive",
        "torture-4475-esc01": "pass",
    }
    longreq = next(r for r in run.results if r.case.id == "torture-4475-longreq")
    assert longreq.control_ok is False and "no response" in longreq.reason


def test_rejected_in_dialog_options_blame_only_the_options_case(make) -> None:
    run = run_cases(
        make("no_dialog_options"),
        "uas",
        "uas-cseq-gap-accepted,uas-500-cseq-lower,uas-options-in-dialog,uas-to-tag-kept",
    )
    assert verdicts(run) == {
        "uas-cseq-gap-accepted": "inconclusive",
        "uas-500-cseq-lower": "inconclusive",
        "uas-options-in-dialog": "fail",  # §11.2: a 200, like outside a dialog
        "uas-to-tag-kept": "pass",
    }
    gap = next(r for r in run.results if r.case.id == "uas-cseq-gap-accepted")
    assert gap.control_ok is False and "405" in gap.control


def test_real_faults_still_fail_among_environment_faults(make) -> None:
    target = make("ignore_require", "need_branch", "one_call", "strip_to_port", user="alice")
    run = run_cases(
        target,
        "uas",
        "uas-420-options,uas-420-invite,torture-4475-bext01,uas-415-accept,uas-to-uri-echo",
    )
    assert verdicts(run) == {
        "uas-420-options": "fail",
        "uas-420-invite": "fail",
        "torture-4475-bext01": "fail",
        "uas-415-accept": "pass",
        "uas-to-uri-echo": "pass",
    }
    assert all(r.control_ok for r in run.results if r.control_ok is not None)


# --- postamble -------------------------------------------------------------------------------


def test_calls_are_torn_down_for_a_one_call_target(make) -> None:
    """Torture INVITEs answered 2xx are hung up: later INVITE cases are not answered 486."""
    cases = (
        "torture-4475-intmeth,torture-4475-esc01,torture-4475-lwsdisp,torture-5118-ipv6-in-sdp,"
        "torture-5118-mult-ip-in-sdp,uas-420-invite,uas-415-accept,uas-2xx-contact,"
        "uas-cseq-gap-accepted,txn-invite-2xx-stops-on-ack"
    )
    run = run_cases(make("one_call", user="alice"), "uas", cases, FAST)
    got = verdicts(run)
    assert {k: v for k, v in got.items() if v != "pass"} == {}
    esc01 = next(r for r in run.results if r.case.id == "torture-4475-esc01")
    assert esc01.postamble and all(p.startswith("ok") for p in esc01.postamble)
    for res in run.results:
        assert not [p for p in res.postamble if p.startswith("FAILED")], res.case.id


def test_a_leaked_call_makes_invite_cases_inconclusive(make) -> None:
    """A call the runner did not set up keeps a one-call target busy: every INVITE case is
    inconclusive (its control got 486), none fails."""
    target = make("one_call", user="alice")
    address = parse_target(target).address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sent_by = f"127.0.0.1:{sock.getsockname()[1]}"
        invite = make_request("INVITE", parse_target(target), sent_by, user="alice")
        sock.settimeout(2)
        sock.sendto(bytes(invite), address)
        assert b" 200 " in sock.recv(65536)
        run = run_cases(target, "uas", "uas-420-invite,uas-415-accept,torture-4475-invut")
    got = verdicts(run)
    assert set(got.values()) == {"inconclusive"}, got
    assert all("486" in r.reason for r in run.results)


def test_cseq_gap_cleanup_bye_uses_a_higher_cseq(make) -> None:
    run = run_cases(make(), "uas", "uas-cseq-gap-accepted")
    assert verdicts(run) == {"uas-cseq-gap-accepted": "pass"}
    numbers = {}
    for event in _sent(run, "uas-cseq-gap-accepted"):
        msg = parse_message(event.data)
        assert msg is not None
        numbers.setdefault(msg.method, []).append(msg.cseq[0] or 0)
    assert min(numbers["BYE"]) > max(numbers["OPTIONS"])
    assert run.results[0].postamble == []  # the case's own BYE ended the call


# --- expectations ----------------------------------------------------------------------------


def test_501_without_allow_is_a_should_not_a_must(make) -> None:
    """§8.2.1 asks for Allow in a 405 only: a 501 without it warns (405 preferred)."""
    run = run_cases(make("no_allow_501"), "uas", "uas-405-allow")
    assert verdicts(run) == {"uas-405-allow": "warn"}
    assert "405" in run.results[0].reason


def test_one_level_for_416() -> None:
    from conformance.model import REGISTRY

    levels = {REGISTRY[i].level for i in ("uas-416-scheme", "torture-4475-unkscm")}
    assert levels == {"SHOULD"} and REGISTRY["torture-4475-novelsc"].level == "SHOULD"


def test_reason_wording() -> None:
    from conformance.model import Case, Context, Inconclusive

    entry = Case("x", "x", ("uas",), "MUST", lambda ctx: None, "x")
    ctx = Context(entry, parse_target("udp:127.0.0.1:5070"), Profile(), 0.0)
    with pytest.raises(Inconclusive, match=r"^the target sent no final response$"):
        ctx.require_final(None)
