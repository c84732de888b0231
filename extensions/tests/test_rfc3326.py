"""RFC 3326: the Reason header field between two UAs (``extensions/rfc3326.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extensions.rfc3326 import Reason, ReasonExtension
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, UAExtension
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Request
from rfc3261.session import Call, CallEnded, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua, statuses


@pytest.fixture(autouse=True)
def reason_header() -> Iterator[None]:
    yield
    if "reason" in HEADER_TYPES:  # the registry is per process: leave it as it was
        unregister_header("Reason")


def ringing(
    net: Network, *, alice_ext: list[UAExtension] | None = None
) -> tuple[Node, Node, Call, ReasonExtension]:
    """Alice, with the extension, calls Bob (who has it too), whose phone rings."""
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    reasons = ReasonExtension()
    alice.ua.use(reasons)
    for extension in alice_ext or []:
        alice.ua.use(extension)
    bob.ua.use(ReasonExtension())
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    (incoming,) = bob.of(IncomingCall)
    net.call(bob, bob.ua.sessions.ring(incoming.call, net.now))
    net.run(0.2)
    return alice, bob, call, reasons


def received(node: Node, method: str) -> Request:
    return next(m for _, m in node.received if isinstance(m, Request) and m.method == method)


def bob_reasons(bob: Node) -> ReasonExtension:
    extension = bob.ua.extension("reason")
    assert isinstance(extension, ReasonExtension)
    return extension


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% The Reason header field MAY appear in any request within a dialog, in
##% any CANCEL request and in any response whose status code explicitly
##% allows the presence of this header field.
def test_a_cancel_and_a_bye_carry_the_reason_given_and_the_peer_reads_it() -> None:
    net = Network()
    alice, bob, call, reasons = ringing(net)
    reasons.give(call.call_id, Reason("SIP", 200, "Call completed elsewhere"))
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(1.0)
    cancel = received(bob, "CANCEL")
    assert b'\r\nReason: SIP;cause=200;text="Call completed elsewhere"\r\n' in bytes(cancel)
    assert cancel.header("Reason") == [Reason("SIP", 200, "Call completed elsewhere")]
    assert received(bob, "INVITE").header("Reason") == []
    (ended,) = bob.of(CallEnded)
    assert bob_reasons(bob).received_text(ended.call.call_id) == (
        "SIP cause 200 (Call completed elsewhere)"
    )

    net = Network()
    alice, bob, call, reasons = ringing(net)
    net.call(bob, bob.ua.sessions.answer(bob.of(IncomingCall)[0].call, net.now, body=b"v=0"))
    net.run(net.now + 0.5)
    reasons.give(call.call_id, 'Q.850;cause=16;text="Terminated"')
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(net.now + 1.0)
    assert received(bob, "BYE").header("Reason") == [Reason("Q.850", 16, "Terminated")]
    assert bob_reasons(bob).received_reasons(call.call_id) == [Reason("Q.850", 16, "Terminated")]


def test_no_reason_given_no_header_field() -> None:
    net = Network()
    alice, bob, call, _ = ringing(net)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(1.0)
    assert "Reason" not in received(bob, "CANCEL").headers
    assert bob_reasons(bob).received_text(call.call_id) is None


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% A SIP message MAY contain more than one Reason value (i.e., multiple
##% Reason lines), but all of them MUST have different protocol values
##% (e.g., one SIP and another Q.850).
def test_the_reasons_of_one_message_have_different_protocols() -> None:
    reasons = ReasonExtension()
    with pytest.raises(ValueError, match="different protocols"):
        reasons.give("a@b", Reason("SIP", 486), Reason("sip", 600))
    reasons.give("a@b", Reason("SIP", 486), Reason("Q.850", 17, "User busy"))
    assert [str(r) for r in reasons.reasons["a@b"]] == [
        "SIP;cause=486",
        'Q.850;cause=17;text="User busy"',
    ]


def test_two_reasons_travel_in_one_cancel() -> None:
    net = Network()
    alice, bob, call, reasons = ringing(net)
    reasons.give(call.call_id, Reason("SIP", 600, "Busy, everywhere"), Reason("Q.850", 17))
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(1.0)
    assert received(bob, "CANCEL").header("Reason") == [
        Reason("SIP", 600, "Busy, everywhere"),
        Reason("Q.850", 17),
    ]
    assert bob_reasons(bob).received_text(call.call_id) == (
        "SIP cause 600 (Busy, everywhere); Q.850 cause 17"
    )


##= https://www.rfc-editor.org/rfc/rfc3326#section-4
##= type=test
##% Reason protocols MUST refer to either an ITU-T
##% Recommendation number, an IETF protocol name or the recognized
##% protocol identifier from another standardization organization.
##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% Any SIP status code MAY appear in the Reason header field of a request.
def test_only_registered_protocols_and_real_status_codes_are_sent() -> None:
    reasons = ReasonExtension()
    with pytest.raises(ValueError, match="not registered"):
        reasons.give("a@b", Reason("MYPROTO", 1))
    with pytest.raises(ValueError, match="not a SIP status code"):
        reasons.give("a@b", Reason("SIP", 42))
    for status in (180, 200, 302, 487, 503, 603, 699):
        reasons.give("a@b", Reason("SIP", status))
        assert reasons.reasons["a@b"] == (Reason("SIP", status),)


def test_a_reason_value_is_parsed_as_the_grammar_says() -> None:
    assert Reason.parse('SIP ;cause=600 ;text="Busy Everywhere"') == Reason(
        "SIP", 600, "Busy Everywhere"
    )
    assert Reason.parse("Q.850;cause=16;x-vendor=1") == Reason("Q.850", 16)
    assert str(Reason("SIP", 200, 'say "hi"')) == 'SIP;cause=200;text="say \\"hi\\""'
    for bad in ("SIP;cause=x", "SIP;cause=٣", "", ";cause=1", 'SIP;text="open'):
        with pytest.raises(ParseError):
            Reason.parse(bad)


class Garbler(UAExtension):
    """Puts an unparsable Reason into every CANCEL (a hostile or broken peer)."""

    name = "garbler"

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        if request.method == "CANCEL":
            request.headers.set("Reason", 'SIP;cause=abc;text="unterminated, ;;;')


def test_a_garbled_reason_never_breaks_the_cancel() -> None:
    net = Network()
    alice, bob, call, _ = ringing(net, alice_ext=[Garbler()])
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(1.0)
    # the CANCEL is answered (200) and the INVITE ends with 487, as without the header
    codes = [status for _, status in statuses(net, "bob.example.com")]
    assert 200 in codes and 487 in codes
    assert bob.of(CallEnded)
    text = bob_reasons(bob).received_text(call.call_id)
    assert text is not None and text.startswith("unreadable Reason")
