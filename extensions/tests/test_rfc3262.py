"""RFC 3262: reliable provisional responses and PRACK between two UAs (extensions/rfc3262.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extensions.rfc3262 import (
    MAX_RSEQ,
    ProvisionalAcknowledged,
    RAck,
    ReliableProvisional,
    parse_rseq,
)
from rfc3261.errors import ParseError
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Request, Response, parse
from rfc3261.offer_answer import NegotiationState
from rfc3261.session import Call, CallEnded, CallEstablished, CallProgress, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua, statuses
from rfc3261.ua_core import Dropped, ResponseEvent

OFFER = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n"
ANSWER = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\n"


@pytest.fixture(autouse=True)
def rel_headers() -> Iterator[None]:
    yield
    for name in ("RSeq", "RAck"):  # the registry is per process: leave it as it was
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def pair(
    alice_rel: ReliableProvisional | None = None, bob_rel: ReliableProvisional | None = None
) -> tuple[Network, Node, Node]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    if alice_rel is not None:
        alice.ua.use(alice_rel)
    if bob_rel is not None:
        bob.ua.use(bob_rel)
    return net, alice, bob


def invite(net: Network, alice: Node, bob: Node, body: bytes = OFFER) -> tuple[Call, Call]:
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=body)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    return call, incoming


def sent(node: Node, kind: str) -> list[Any]:
    """What ``node`` received of ``kind``: a method name or a status code as text."""
    out = []
    for _, message in node.received:
        if isinstance(message, Request):
            if message.method == kind:
                out.append(message)
        elif str(message.status) == kind:
            out.append(message)
    return out


def wire(net: Network, source: str, start: str) -> list[float]:
    return [t for t, src, _, line in net.wire if src == source and line.startswith(start)]


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% In addition, it MUST contain a Require header field containing the
##% option tag 100rel, and MUST include an RSeq header field.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The value of the header field for the first reliable provisional
##% response in a transaction MUST be between 1 and 2**31 - 1.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the PRACK does match an
##% unacknowledged reliable provisional response, it MUST be responded to
##% with a 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Assuming the response is to be transmitted reliably, the UAC MUST
##% create a new request with method PRACK.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The provisional response MUST establish a dialog if one is not yet
##% created.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% If the UAC does not wish to insist on usage of reliable provisional
##% responses, but merely indicate that it supports them if the UAS needs
##% to send one, a Supported header MUST be included in the request with
##% the option tag 100rel.  The UAC SHOULD include this in all INVITE
##% requests.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A UAS MAY send any non-100 provisional response to INVITE reliably,
##% so long as the initial INVITE request (the request whose provisional
##% response is being sent reliably) contained a Supported header field
##% with the option tag 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A matching
##% PRACK is defined as one within the same dialog as the response, and
##% whose method, CSeq-num, and response-num in the RAck header field
##% match, respectively, the method from the CSeq, the sequence number
##% from the CSeq, and the sequence number from the RSeq of the reliable
##% provisional response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the INVITE contained an offer, the UAS MAY generate an answer in a
##% reliable provisional response (assuming these are supported by the
##% UAC).
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The reliable provisional response MAY contain a body.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% It SHOULD cease
##% retransmissions of the reliable provisional response
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% Once an answer has been sent or received, the UA SHOULD establish the
##% session based on the parameters of the offer and answer, even if the
##% original INVITE itself has not been responded to.
def test_a_reliable_183_is_acknowledged_by_a_prack_in_its_early_dialog() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    (sent_invite,) = sent(bob, "INVITE")
    assert "100rel" in sent_invite.header("Supported")
    assert sent_invite.header("Require") == []
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.run(net.now + 0.2)
    (progress,) = sent(alice, "183")
    assert progress.header("Require") == ["100rel"]
    rseq = progress.header("RSeq")
    assert 1 <= rseq <= 2**31 - 1
    (prack,) = sent(bob, "PRACK")
    assert prack.header("RAck") == RAck(rseq, sent_invite.cseq.number, "INVITE")
    assert prack.call_id == sent_invite.call_id and prack.to.tag == progress.to.tag
    assert prack.cseq.number == sent_invite.cseq.number + 1
    assert [r.cseq.method for r in sent(alice, "200")] == ["PRACK"]
    assert [type(e) for e in bob.of(ProvisionalAcknowledged)] == [ProvisionalAcknowledged]
    # The early dialog the 183 made is the dialog of the PRACK, and of the call.
    assert [d.id.remote_tag for d in call.dialogs.values()] == [progress.to.tag]
    # The answer in the 183 completed the offer at both ends.
    assert call.negotiation.state is NegotiationState.IDLE
    assert (call.negotiation.remote, incoming.negotiation.local) == (ANSWER, ANSWER)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 1.0)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)
    assert len(wire(net, "bob.example.com", "SIP/2.0 183")) == 1  # no retransmission


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The reliable provisional response is passed to the transaction layer
##% periodically with an interval that starts at T1 seconds and doubles
##% for each retransmission (T1 is defined in Section 17 of RFC 3261).
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If a reliable provisional response is retransmitted for 64*T1 seconds
##% without reception of a corresponding PRACK, the UAS SHOULD reject the
##% original request with a 5xx response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Once a reliable provisional response is received, retransmissions of
##% that response MUST be discarded.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% In particular, a UAC SHOULD NOT retransmit the PRACK request
##% when it receives a retransmission of the provisional response being
##% acknowledged, although doing so does not create a protocol error.
def test_without_its_prack_a_reliable_183_is_retransmitted_at_t1_doubling_then_500() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    pracks: list[Request] = []
    net.drop = lambda src, dst, m: (
        isinstance(m, Request) and m.method == "PRACK" and not pracks.append(m)
    )
    call, incoming = invite(net, alice, bob)
    start = net.now
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.run(start + 40.0)
    times = [round(t - start, 3) for t in wire(net, "bob.example.com", "SIP/2.0 183")]
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # T1, 2T1, 4T1 ... no T2 cap
    rejected = [t - start for t, s in statuses(net, "bob.example.com") if s == 500]
    assert rejected == [pytest.approx(32.0)]
    # Alice's UA core processed the 183 once: one CallProgress, one PRACK transaction
    # (whose datagrams her client transaction retransmits by itself, Timer E).
    assert [e.response.status for e in alice.of(CallProgress)] == [100, 183]
    assert len(pracks) > 1 and len({(p.cseq.number, p.top_via.branch) for p in pracks}) == 1
    assert call.ended and incoming.ended


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MUST NOT send a second reliable provisional
##% response until the first is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The value of the RSeq in each subsequent reliable provisional
##% response for the same request MUST be greater by exactly one.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% After the first, it is
##% RECOMMENDED that the UAS not send an additional reliable provisional
##% response until the previous is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% After the first reliable provisional response for a request has been
##% acknowledged, the UAS MAY send additional reliable provisional
##% responses.
def test_a_second_reliable_provisional_waits_for_the_prack_of_the_first() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    # Delay the PRACKs: they arrive half a second late.
    net.latency = 0.01
    _call, incoming = invite(net, alice, bob)
    net.drop = lambda src, dst, m: (
        isinstance(m, Request) and m.method == "PRACK" and (net.now < 0.3)
    )
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.run(0.3)
    assert [r.status for r in sent(alice, "180") + sent(alice, "183")] == [180]
    net.run(2.0)
    ringing, progress = sent(alice, "180")[0], sent(alice, "183")[0]
    assert progress.header("RSeq") == ringing.header("RSeq") + 1
    first_prack = min(t for t, m in bob.received if isinstance(m, Request) and m.method == "PRACK")
    sent_183 = wire(net, "bob.example.com", "SIP/2.0 183")[0]
    assert sent_183 >= first_prack
    assert len(bob.of(ProvisionalAcknowledged)) == 2


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% In that case, it MUST NOT send a final response until
##% those provisional responses are acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAS had placed a session description in any reliable
##% provisional response that is unacknowledged when the INVITE is
##% accepted, the UAS MUST delay sending the 2xx until the provisional
##% response is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MAY send a final response to the initial request before
##% having received PRACKs for all unacknowledged reliable provisional
##% responses, unless the final response is 2xx and any of the
##% unacknowledged reliable provisional responses contained a session
##% description.
def test_the_2xx_waits_for_the_prack_of_a_183_with_a_description() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    _call, incoming = invite(net, alice, bob)
    dropped: list[float] = []

    def drop_first_prack(src: str, dst: str, message: Any) -> bool:
        if isinstance(message, Request) and message.method == "PRACK" and not dropped:
            dropped.append(net.now)
            return True
        return False

    net.drop = drop_first_prack
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 0.2)
    assert not wire(net, "bob.example.com", "SIP/2.0 200")  # held: the PRACK was lost
    net.run(net.now + 2.0)
    prack_at = min(t for t, m in bob.received if isinstance(m, Request) and m.method == "PRACK")
    ok_invite = [
        t
        for t, m in alice.received
        if isinstance(m, Response) and m.cseq.method == "INVITE" and m.status == 200
    ]
    assert ok_invite and min(ok_invite) > prack_at
    net.run(net.now + 5.0)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MAY send a final response to the initial request before
##% having received PRACKs for all unacknowledged reliable provisional
##% responses, unless the final response is 2xx and any of the
##% unacknowledged reliable provisional responses contained a session
##% description.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the UAS does send a final response when reliable responses are
##% still unacknowledged, it SHOULD NOT continue to retransmit the
##% unacknowledged reliable provisional responses
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% but it MUST be prepared to process PRACK
##% requests for those outstanding responses.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A UAS MUST NOT send new reliable provisional responses (as opposed to
##% retransmissions of unacknowledged ones) after sending a final response
##% to a request.
def test_a_final_response_stops_the_retransmissions_and_a_late_prack_still_gets_200() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    pracks: list[Any] = []

    def hold_pracks(src: str, dst: str, message: Any) -> bool:
        if isinstance(message, Request) and message.method == "PRACK":
            pracks.append(message)
            return True
        return False

    net.drop = hold_pracks
    _call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.1)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))  # no SDP in the 180
    before = len(wire(net, "bob.example.com", "SIP/2.0 180"))
    net.run(net.now + 5.0)
    assert len(wire(net, "bob.example.com", "SIP/2.0 180")) == before == 1
    # A provisional response after the final is not sent.
    server = incoming.server
    assert server is not None
    late = server.request.make_response(183, to_tag=server.to_tag)
    assert isinstance(bob.ua.respond_with(server, late, net.now)[0], Dropped)
    # The PRACK held back arrives now: it matches, so 200.
    net.drop = lambda src, dst, m: False
    net.send("alice.example.com", pracks[0], "bob.example.com")
    net.run(net.now + 0.1)
    assert [r.status for r in sent(alice, "200") if r.cseq.method == "PRACK"] == [200]
    assert alice.of(CallEstablished) and bob.of(CallEstablished)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If a PRACK request is received by the UA core that does not match any
##% unacknowledged reliable provisional response, the UAS MUST respond to
##% the PRACK with a 481 response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% and MUST remove
##% it from the list of unacknowledged provisional responses.
def test_a_prack_with_a_wrong_rack_or_no_dialog_gets_481() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    (dialog,) = call.dialogs.values()
    rseq = sent(alice, "180")[0].header("RSeq")
    cseq = call.client.request.cseq.number
    # A wrong RSeq, a wrong CSeq, and the right RAck again (acknowledged already).
    for rack in (f"{rseq + 5} {cseq} INVITE", f"{rseq} 1 INVITE", f"{rseq} {cseq} INVITE"):
        _client, effects = alice.ua.in_dialog(dialog, "PRACK", net.now, headers=[("RAck", rack)])
        net.call(alice, effects)
        net.run(net.now + 0.1)
        assert alice.of(ResponseEvent)[-1].response.status == 481
    # Outside any dialog Bob knows (an unknown To tag): 481 too (RFC 3261 §12.2.2).
    prack = alice.ua.build_request(
        "PRACK", "sip:bob@bob.example.com", headers=[("RAck", "1 1 INVITE")]
    )
    prack.headers.set("To", "<sip:bob@example.com>;tag=unknown")
    _client, effects = alice.ua.send(prack, net.now)
    net.call(alice, effects)
    net.run(net.now + 0.1)
    assert alice.of(ResponseEvent)[-1].response.status == 481


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% As a result, if the UAC receives another reliable provisional
##% response to the same request, and its RSeq value is not one higher
##% than the value of the sequence number, that response MUST NOT be
##% acknowledged with a PRACK, and MUST NOT be processed further by the
##% UAC.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The UAC
##% MUST maintain a sequence number that indicates the most recently
##% received in-order reliable provisional response for the initial
##% request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Its value MUST be
##% initialized to the RSeq header field in the first reliable
##% provisional response received for the initial request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% An implementation MAY discard the response, or MAY cache the
##% response in the hopes of receiving the missing responses.
def test_an_out_of_order_reliable_provisional_is_neither_acknowledged_nor_processed() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    _call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    (ringing,) = sent(alice, "180")
    skipped = parse(bytes(ringing))
    assert isinstance(skipped, Response)
    skipped.headers.set("RSeq", str(ringing.header("RSeq") + 2))
    progress_before = len(alice.of(CallProgress))  # the 100 and the 180
    effects = alice.ua.receive(skipped, "bob.example.com", net.now)
    assert [type(e) for e in effects] == [Dropped]
    assert "out of order" in effects[0].reason
    assert len(alice.of(CallProgress)) == progress_before
    assert len(sent(bob, "PRACK")) == 1


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% Similarly, if a reliable provisional
##% response is the first reliable message sent back to the UAC, and the
##% INVITE did not contain an offer, one MUST appear in that reliable
##% provisional response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAC receives a reliable provisional response with an offer
##% (this would occur if the UAC sent an INVITE without an offer, in
##% which case the first reliable provisional response will contain the
##% offer), it MUST generate an answer in the PRACK.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% All user agents that support this extension MUST support all
##% offer/answer exchanges that are possible based on the rules in
##% Section 13.2 of RFC 3261, based on the existence of INVITE and PRACK
##% as requests, and 2xx and reliable 1xx as non-failure reliable
##% responses.
def test_an_offer_in_a_reliable_183_is_answered_in_the_prack() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob, body=b"")
    call.local_body = ANSWER.replace(b"bob", b"alice")  # what Alice's describer answers
    incoming.local_body = ANSWER  # what Bob's describer offers
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183))  # no body given: offered
    net.run(net.now + 0.2)
    assert sent(alice, "183")[0].body == ANSWER
    (prack,) = sent(bob, "PRACK")
    assert prack.body == call.local_body
    assert incoming.negotiation.state is NegotiationState.IDLE
    assert incoming.negotiation.remote == call.local_body
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 1.0)
    (ack,) = sent(bob, "ACK")
    assert ack.body == b""  # the offer was answered in the PRACK already
    assert call.negotiation.state is incoming.negotiation.state is NegotiationState.IDLE


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAS receives a PRACK with an
##% offer, it MUST place the answer in the 2xx to the PRACK.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% PRACK requests
##% MAY contain bodies, which are interpreted according to their type and
##% disposition.
def test_an_offer_in_a_prack_is_answered_in_its_2xx() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    net.drop = lambda src, dst, m: isinstance(m, Request) and m.method == "PRACK"
    call, incoming = invite(net, alice, bob)
    incoming.local_body = ANSWER
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.run(net.now + 0.1)
    (dialog,) = call.dialogs.values()
    progress = sent(alice, "183")[0]
    # Alice's own PRACK was lost; she sends one carrying a new offer.
    net.drop = lambda src, dst, m: False
    new_offer = OFFER.replace(b"1 1", b"1 2")
    call.negotiation.offer_sent(new_offer)
    rack = f"{progress.header('RSeq')} {progress.cseq.number} INVITE"
    _client, effects = alice.ua.in_dialog(
        dialog, "PRACK", net.now, headers=[("RAck", rack)], body=new_offer,
        content_type="application/sdp",
    )  # fmt: skip
    net.call(alice, effects)
    net.run(net.now + 0.1)
    ok = [r for r in sent(alice, "200") if r.cseq.method == "PRACK"]
    assert ok and ok[0].body == ANSWER
    assert incoming.negotiation.remote == new_offer


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the request did not include either a Supported or Require header
##% field indicating this feature, the UAS MUST NOT send the provisional
##% response reliably.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MUST send any non-100 provisional response reliably if the
##% initial request contained a Require header field with the option tag
##% 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-8.1
##= type=test
##% When present in a Require header in a request, it indicates that the
##% UAS MUST send all provisional responses reliably.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the UAS is unwilling to do so, it MUST reject the initial
##% request with a 420 (Bad Extension) and include an Unsupported header
##% field containing the option tag 100rel.
def test_reliability_follows_the_invites_supported_and_require() -> None:
    # Alice without the extension: Bob's 180 goes unreliably.
    net, alice, bob = pair(None, ReliableProvisional())
    _call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    assert sent(alice, "180")[0].header("RSeq") is None
    # Alice requires it; Bob only sends reliably when required.
    net, alice, bob = pair(
        ReliableProvisional(require=True), ReliableProvisional(when_supported=False)
    )
    _call, incoming = invite(net, alice, bob)
    assert sent(bob, "INVITE")[0].header("Require") == ["100rel"]
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    assert sent(alice, "180")[0].header("RSeq") is not None
    # Bob without the extension refuses the Require with 420 + Unsupported.
    net, alice, bob = pair(ReliableProvisional(require=True), None)
    invite(net, alice, bob)
    (refusal,) = sent(alice, "420")
    assert refusal.header("Unsupported") == ["100rel"]
    assert sent(bob, "INVITE")[-1].header("Require") == []  # the retry of RFC 3261 §8.1.3.5


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% A Require header with the value 100rel MUST NOT be present
##% in any requests excepting INVITE, although extensions to SIP may
##% allow its usage with other request methods.
def test_require_100rel_outside_an_invite_is_refused() -> None:
    _net, alice, _bob = pair(ReliableProvisional())
    with pytest.raises(ValueError, match="RFC 3262 §4"):
        alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0, require=["100rel"])


def test_rseq_and_rack_are_read_as_the_grammar_says() -> None:
    assert parse_rseq(" 4711 ") == 4711
    assert RAck.parse("776656 1 INVITE") == RAck(776656, 1, "INVITE")
    assert str(RAck(1, 2, "INVITE")) == "1 2 INVITE"
    for bad in ("0", "x", str(2**32)):
        with pytest.raises(ParseError):
            parse_rseq(bad)
    with pytest.raises(ParseError):
        RAck.parse("1 INVITE")


def test_a_cancelled_call_ends_cleanly_with_reliable_provisionals() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(net.now + 40.0)
    assert [e.reason for e in bob.of(CallEnded)] == ["cancelled"]
    assert len(wire(net, "bob.example.com", "SIP/2.0 180")) == 1
    assert not alice.ua.dialogs and not bob.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A UAS MUST NOT attempt to send a 100 (Trying) response reliably.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% If the response is
##% a 100 (Trying) (as opposed to 101 to 199), this option tag MUST be
##% ignored, and the procedures below MUST NOT be used.
def test_a_100_trying_is_never_reliable() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    (trying,) = sent(alice, "100")
    assert trying.header("RSeq") is None and trying.header("Require") == []
    # A 100 the application itself sends through the UA is not made reliable either.
    assert incoming.server is not None
    net.call(bob, bob.ua.respond(incoming.server, 100, net.now))
    net.run(net.now + 0.05)
    _, own = sent(alice, "100")
    assert own.header("RSeq") is None and own.header("Require") == []
    # A 100 that claims to be reliable is taken as a plain 100: no PRACK.
    forged = parse(bytes(trying))
    assert isinstance(forged, Response)
    forged.headers.set("Require", "100rel")
    forged.headers.set("RSeq", "7")
    net.apply(alice, alice.ua.receive(forged, "bob.example.com", net.now))
    net.run(net.now + 0.5)
    assert sent(bob, "PRACK") == []
    assert [e.response.status for e in alice.of(CallProgress)] == [100, 100, 100]
    assert not call.ended


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% However, it MUST NOT attempt to do so for any request
##% that contains a tag in the To field.
def test_provisional_responses_to_a_reinvite_are_not_reliable() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 1.0)
    bob.ua.sessions.auto_accept_reinvite = False
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER.replace(b"1 1", b"1 2")))
    net.run(net.now + 0.1)
    server = incoming.reinvite_server
    assert server is not None and server.request.to.tag is not None
    # Even a request in a dialog that requires 100rel gets no reliable provisional.
    required = parse(bytes(server.request))
    assert isinstance(required, Request)
    required.headers.set("Require", "100rel")
    rel = bob.ua.extension("100rel")
    assert isinstance(rel, ReliableProvisional) and not rel._send_reliably(required)
    net.call(bob, bob.ua.respond(server, 180, net.now))
    net.run(net.now + 0.1)
    (ringing,) = [r for r in sent(alice, "180") if r.to.tag == server.to_tag]
    assert ringing.header("RSeq") is None and sent(bob, "PRACK") == []


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% It is RECOMMENDED that
##% it be chosen uniformly in this range.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% This means that provisional responses
##% for different requests MAY use the same values for the RSeq number.
def test_each_invite_starts_its_own_random_rseq_space() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    first = []
    for _ in range(3):
        _call, incoming = invite(net, alice, bob)
        net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
        net.run(net.now + 0.2)
        first.append(sent(alice, "180")[-1].header("RSeq"))
    assert len(set(first)) == 3 and all(1 <= r < 2**31 for r in first)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% RSeq
##% numbers MUST NOT wrap around.
def test_rseq_numbers_do_not_wrap() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    _call, incoming = invite(net, alice, bob)
    rel = bob.ua.extension("100rel")
    assert isinstance(rel, ReliableProvisional)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    (state,) = rel._sending.values()
    state.rseq = MAX_RSEQ + 1  # as if 2**31 reliable responses had been sent
    effects = bob.ua.sessions.ring(incoming, net.now, 183)
    assert [type(e) for e in effects] == [Dropped]
    assert "wrap" in effects[0].reason


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% This sequence number MUST be maintained until a final
##% response is received for the initial request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The UAC MAY acknowledge reliable provisional responses received after
##% the final response or MAY discard them.
def test_after_the_final_response_a_reliable_provisional_is_discarded() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))
    net.run(net.now + 0.2)
    rel = alice.ua.extension("100rel")
    assert isinstance(rel, ReliableProvisional) and len(rel._received) == 1
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 0.5)
    assert rel._received == {}  # kept until the final response, not after
    late = parse(bytes(sent(alice, "180")[0]))
    assert isinstance(late, Response)
    late.headers.set("RSeq", str(late.header("RSeq") + 1))
    client = call.client
    assert client is not None and client.transaction is not None
    assert rel.inspect_response(client, late, net.now) is not None  # claimed: discarded
    assert len(sent(bob, "PRACK")) == 1


def test_a_held_2xx_whose_prack_never_comes_gives_way_to_a_500() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    net.drop = lambda src, dst, m: isinstance(m, Request) and m.method == "PRACK"
    _call, incoming = invite(net, alice, bob)
    start = net.now
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))  # held
    net.run(start + 60.0)
    sent_statuses = [s for _, s in statuses(net, "bob.example.com")]
    assert 200 not in sent_statuses and sent_statuses[-1] == 500
    assert incoming.ended and not bob.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The UAC SHOULD include this in all INVITE requests.
def test_a_reinvite_lists_100rel_in_supported_too() -> None:
    net, alice, bob = pair(ReliableProvisional(), ReliableProvisional())
    call, incoming = invite(net, alice, bob)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 1.0)
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER.replace(b"1 1", b"1 2")))
    net.run(net.now + 0.1)
    server = incoming.reinvite_server
    assert server is not None and server.request.to.tag is not None
    assert "100rel" in [str(tag).lower() for tag in server.request.header("Supported") or []]
