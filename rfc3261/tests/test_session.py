"""INVITE sessions end to end (RFC 3261 §13-§15) on the in-memory network."""

from __future__ import annotations

import itertools

from rfc3261.message import Request, Response
from rfc3261.session import (
    CallEnded,
    CallEstablished,
    CallFailed,
    CallProgress,
    IncomingCall,
    ReinviteReceived,
    ReinviteResult,
)
from rfc3261.tests.ua_support import Network, make_ua, started, statuses
from rfc3261.ua_core import Dropped

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"


def answering(net: Network, node, *, ring: bool = True) -> None:
    def on_event(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            if ring:
                net.call(node, node.ua.sessions.ring(event.call, net.now))
            net.call(node, node.ua.sessions.answer(event.call, net.now, body=SDP))

    node.on_event = on_event


def pair(seed: int = 1) -> tuple[Network, object, object]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=seed))
    bob = net.add_ua(make_ua("bob", seed=seed + 1))
    return net, alice, bob


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from
##% the transaction layer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% A UAC core that generates an ACK for 2xx MUST instead follow the rules
##% described in Section 13.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
##= type=test
##% Each of these MUST
##% indicate the same dialog ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% Whether or not it ends its participation on the session,
##% the UAS core MUST generate a 2xx response to the BYE, and MUST pass
##% that to the server transaction for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% Therefore, if
##% the local sequence number is not empty, the value of the local
##% sequence number MUST be incremented by one, and this value MUST be
##% placed into the CSeq header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% It MUST be the same for all requests and responses sent by either UA in a dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% An Allow header field (Section 20.5) SHOULD be present in the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% A Supported header field (Section 20.37) SHOULD be present in the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% An Accept (Section 20.1) header field MAY be present in the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% Otherwise, a new dialog in the "confirmed" state MUST be constructed using the procedures
##% of Section 12.1.2.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The sequence number of the CSeq header field MUST be the same as the INVITE being
##% acknowledged, but the CSeq method MUST be ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The Call-ID of the request MUST be set to the Call-ID of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The method field in the CSeq header field value MUST match the method of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% Requests within a dialog MUST contain strictly monotonically increasing and contiguous
##% CSeq sequence numbers (increasing-by-one) in each direction (excepting ACK and CANCEL of
##% course, whose numbers equal the requests being acknowledged or cancelled).
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% This state MUST be maintained for the duration of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% This state MUST be maintained for the duration of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2
##= type=test
##% Once a dialog has been established between two UAs, either of them MAY initiate new
##% transactions as needed within the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% When a BYE is received on a dialog, any session associated with that dialog SHOULD
##% terminate.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% Once done, the UAS SHOULD terminate the session (and therefore stop sending and listening
##% for media).
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The UAC MAY choose to add a message body to the INVITE.
def test_full_call() -> None:
    net, alice, bob = pair()
    answering(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    lines = [(src.split(".")[0], line.split(" ")[0:2]) for _, src, _, line in net.wire]
    assert ("alice", ["INVITE", "sip:bob@bob.example.com"]) in lines
    assert [s for _, s in statuses(net, "bob.example.com")] == [100, 180, 200]
    assert len(started(net, "alice.example.com", "ACK")) == 1
    progress = alice.of(CallProgress)
    assert [e.response.status for e in progress] == [100, 180]
    (established,) = alice.of(CallEstablished)
    (bob_established,) = bob.of(CallEstablished)
    # The two ends see the same dialog from opposite sides.
    a_id, b_id = established.dialog.id, bob_established.dialog.id
    assert (a_id.call_id, a_id.local_tag, a_id.remote_tag) == (
        b_id.call_id,
        b_id.remote_tag,
        b_id.local_tag,
    )
    invite = next(m for _, m in bob.received if isinstance(m, Request))
    for name in ("Allow", "Supported", "Accept", "Contact"):
        assert name in invite.headers
    ack = next(m for _, m in bob.received if isinstance(m, Request) and m.method == "ACK")
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    assert ack.to.tag == a_id.remote_tag
    # The callee's 180 and 200 carried the same To tag.
    tags = {m.to.tag for _, m in alice.received if not isinstance(m, Request) and m.status > 100}
    assert tags == {a_id.remote_tag}
    net.call(alice, alice.ua.sessions.bye(call, net.now))
    net.run(2.0)
    bye = next(m for _, m in bob.received if isinstance(m, Request) and m.method == "BYE")
    assert bye.cseq.number == invite.cseq.number + 1 and bye.cseq.method == "BYE"
    assert bye.call_id == ack.call_id == invite.call_id
    assert (max(t for t, s in statuses(net, "bob.example.com") if s == 200) < 2.0) and [
        s for _, s in statuses(net, "bob.example.com")
    ][-1] == 200
    assert [e.reason for e in bob.of(CallEnded)] == ["remote BYE"]
    assert alice.ua.dialogs == {} and bob.ua.dialogs == {}


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The
##% ACK MUST be passed to the client transport every time a
##% retransmission of the 2xx final response that triggered the ACK
##% arrives.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The 2xx response is passed to the transport with an
##% interval that starts at T1 seconds and doubles for each
##% retransmission until it reaches T2 seconds (T1 and T2 are defined in
##% Section 17).  Response retransmissions cease when an ACK request for
##% the response is received.
def test_lost_ack_makes_the_uas_retransmit_and_the_uac_ack_again() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    lost = {"n": 0}

    def drop(src: str, dst: str, message) -> bool:
        if isinstance(message, Request) and message.method == "ACK" and lost["n"] < 2:
            lost["n"] += 1
            return True
        return False

    net.drop = drop
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)[1])
    net.run(10.0)
    ok_times = [t for t, s in statuses(net, "bob.example.com") if s == 200]
    # 200 at 0.01, again after T1 (0.51) and 2*T1 (1.51); the third ACK gets through.
    assert [round(t, 2) for t in ok_times] == [0.01, 0.51, 1.51]
    assert len(started(net, "alice.example.com", "ACK")) == 3
    assert len(bob.of(CallEstablished)) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the server retransmits the 2xx response for 64*T1 seconds without
##% receiving an ACK, the dialog is confirmed, but the session SHOULD be
##% terminated.  This is accomplished with a BYE, as described in Section
##% 15.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% If a UAS generates a 2xx response and never receives an ACK, it SHOULD generate a BYE to
##% terminate the dialog.
def test_peer_that_never_acks_gets_a_bye_after_64_t1() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    net.drop = lambda src, dst, m: isinstance(m, Request) and m.method == "ACK"
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)[1])
    net.run(60.0)
    ok_times = [t for t, s in statuses(net, "bob.example.com") if s == 200 and t < 33]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(ok_times)]
    # T1 doubling, capped at T2 = 4 s.
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and max(gaps) == 4.0
    assert max(ok_times) <= 0.01 + 32.0
    (bye_time,) = started(net, "bob.example.com", "BYE")
    assert round(bye_time, 2) == 32.01
    assert bob.ua.dialogs == {}


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% Multiple 2xx responses may arrive at the UAC for a single INVITE
##% request due to a forking proxy.  Each response is distinguished by
##% the tag parameter in the To header field, and each represents a
##% distinct dialog, with a distinct dialog identifier.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If, after acknowledging any 2xx response to an INVITE, the UAC does
##% not want to continue with that dialog, then the UAC MUST terminate
##% the dialog by sending a BYE request as described in Section 15.
def test_forked_invite_two_2xx_two_dialogs_ack_both_bye_second() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob1 = net.add_ua(make_ua("bob1", seed=2))
    bob2 = net.add_ua(make_ua("bob2", seed=3))
    net.add_forker("bob.example.com", ["bob1.example.com", "bob2.example.com"])
    answering(net, bob1, ring=False)

    def late(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob2, bob2.ua.sessions.ring(event.call, net.now))
            bob2.pending = event.call  # type: ignore[attr-defined]

    bob2.on_event = late
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(0.5)
    net.call(bob2, bob2.ua.sessions.answer(bob2.pending, net.now, body=SDP))  # type: ignore[attr-defined]
    net.run(2.0)
    acks = [(dst, t) for t, src, dst, line in net.wire if line.startswith("ACK")]
    assert {dst for dst, _ in acks} == {"bob1.example.com", "bob2.example.com"}
    byes = [dst for t, src, dst, line in net.wire if line.startswith("BYE")]
    assert byes == ["bob2.example.com"]
    assert len(call.acks) == 2
    assert call.established is not None and call.established.id.remote_tag == (
        bob1.ua.sessions.calls[0].server.to_tag
    )
    assert [e.reason for e in bob2.of(CallEnded)] == ["remote BYE"]
    assert len(alice.ua.dialogs) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If the UAC is the owner of the Call-ID of the dialog ID
##% (meaning it generated the value), T has a randomly chosen value
##% between 2.1 and 4 seconds in units of 10 ms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If the UAC is not the owner of the Call-ID of the dialog ID, T
##% has a randomly chosen value of between 0 and 2 seconds in units
##% of 10 ms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS that receives an INVITE on a dialog while an INVITE it had sent
##% on that dialog is in progress MUST return a 491 (Request Pending)
##% response to the received INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If a UAC receives a 491 response to a re-INVITE, it SHOULD start a timer with a value T
##% chosen as follows:
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% When the timer fires, the UAC SHOULD attempt the re-INVITE once more, if it still desires
##% for that session modification to take place.
def test_reinvite_glare_491_and_backoff() -> None:
    for seed in (1, 7, 42):
        net, alice, bob = pair(seed)
        answering(net, bob, ring=False)
        call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
        net.call(alice, effects)
        net.run(1.0)
        bob_call = bob.ua.sessions.calls[0]
        net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP + b"a=x\r\n"))
        net.call(bob, bob.ua.sessions.reinvite(bob_call, net.now, SDP + b"a=y\r\n"))
        net.run(12.0)
        assert [e.response.status for e in alice.of(ReinviteResult)] == [491, 200]
        assert [e.response.status for e in bob.of(ReinviteResult)] == [491, 200]
        (t_alice,) = call.glare_delays
        (t_bob,) = bob_call.glare_delays
        assert 2.1 <= t_alice <= 4.0 and 0.0 <= t_bob <= 2.0
        assert round(t_alice * 100) == t_alice * 100
        retry_alice = started(net, "alice.example.com", "INVITE")[-1]
        retry_bob = started(net, "bob.example.com", "INVITE")[-1]
        # Each retried once its own timer ran out (the 491 came back 20 ms after sending).
        assert abs(retry_alice - (1.02 + t_alice)) < 1e-6
        assert abs(retry_bob - (1.02 + t_bob)) < 1e-6
        assert len(bob.of(ReinviteReceived)) == 1 and len(alice.of(ReinviteReceived)) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
##= type=test
##% All early dialogs are considered terminated upon reception of the
##% non-2xx final response.
def test_rejected_call_ends_early_dialogs() -> None:
    net, alice, bob = pair()

    def reject(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.ring(event.call, net.now))
            net.call(bob, bob.ua.sessions.reject(event.call, net.now, 486))

    bob.on_event = reject
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)[1])
    seen: list[int] = []
    alice.on_event = lambda net, e: (
        seen.append(len(alice.ua.dialogs))
        if isinstance(e, CallProgress) and e.response.status == 180
        else None
    )
    net.run(1.0)
    assert seen[0] == 1  # the early dialog of the 180
    assert [e.response.status for e in alice.of(CallFailed)] == [486]
    assert alice.ua.dialogs == {} and bob.ua.dialogs == {}


##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% However, the callee's UA MUST NOT send a BYE on a confirmed dialog
##% until it has received an ACK for its 2xx response or until the server
##% transaction times out.
def test_callee_bye_waits_for_the_ack() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    lost = {"n": 0}

    def drop(src, dst, message) -> bool:
        if isinstance(message, Request) and message.method == "ACK" and not lost["n"]:
            lost["n"] = 1
            return True
        return False

    net.drop = drop
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)[1])
    net.run(0.1)
    net.call(bob, bob.ua.sessions.bye(bob.ua.sessions.calls[0], net.now))
    assert started(net, "bob.example.com", "BYE") == []
    net.run(2.0)
    (bye,) = started(net, "bob.example.com", "BYE")
    assert bye > 0.51  # after the retransmitted 200 got its ACK


def test_ack_for_nothing_is_dropped_and_logged() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)[1])
    net.run(1.0)
    call = alice.ua.sessions.calls[0]
    ((ack, destination),) = call.acks.values()
    ack.headers.set("CSeq", f"{ack.cseq.number + 5} ACK")
    net.send("alice.example.com", ack, destination)
    net.run(2.0)
    assert any(isinstance(e, Dropped) and "ACK" in e.reason for e in bob.of(Dropped))


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the time indicated in the Expires
##% header field is reached and no final answer for the INVITE has been
##% received, the UAC core SHOULD generate a CANCEL request for the
##% INVITE, as per Section 9.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
##= type=test
##% If the invitation
##% expires before the UAS has generated a final response, a 487
##% (Request Terminated) response SHOULD be generated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The UAC MAY add an Expires header field (Section 20.19) to limit the validity of the
##% invitation.
def test_invite_expires_on_both_sides() -> None:
    net, alice, bob = pair()
    ringing_only(net, bob)
    # Bob ignores the Expires (he never answers); Alice's core cancels after 5 s.
    bob.ua.sessions.receive_invite = _without_expiry(bob.ua.sessions.receive_invite)
    net.call(
        alice,
        alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, headers=[("Expires", "5")])[1],
    )
    net.run(10.0)
    (cancel_at,) = started(net, "alice.example.com", "CANCEL")
    assert round(cancel_at, 2) == 5.0
    assert [e.response.status for e in alice.of(CallFailed)] == [487]
    # Now a UAS that honours it: 487 on its own after 3 s.
    net, alice, bob = pair(3)
    ringing_only(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    call.client.request.headers.add("Expires", "3")  # added behind the UAC core's back
    net.call(alice, effects)
    net.run(10.0)
    assert [(round(t, 2), s) for t, s in statuses(net, "bob.example.com") if s == 487] == [
        (3.01, 487)
    ]
    assert started(net, "alice.example.com", "CANCEL") == []


def ringing_only(net: Network, node) -> None:
    def on_event(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(node, node.ua.sessions.ring(event.call, net.now))

    node.on_event = on_event


def _without_expiry(receive):
    def wrapper(server, now, tls):
        server.request.headers.remove("Expires")
        return receive(server, now, tls)

    return wrapper


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If
##% the 2xx contains an offer (based on the rules above), the ACK MUST
##% carry an answer in its body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the initial offer is in the first reliable non-failure
##% message from the UAS back to UAC, the answer MUST be in the
##% acknowledgement for that message (in this specification, ACK
##% for a 2xx response).
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
##= type=test
##% It MUST provide the offer
##% in its first non-failure reliable message back to the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% All user agents that support INVITE MUST support these two exchanges.
def test_offer_in_the_2xx_answer_in_the_ack() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    call.local_body = b"v=0\r\ns=answer\r\n"  # the answer Alice will give
    net.call(alice, effects)
    net.run(1.0)
    (invite,) = received(bob, "INVITE")
    (ack,) = received(bob, "ACK")
    assert invite.body == b""
    assert ack.body == b"v=0\r\ns=answer\r\n" and ack.content_type is not None
    assert call.remote_body == SDP


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE request contained an offer, and the UAS had not yet
##% sent an answer, the 2xx MUST contain an answer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the initial offer is in an INVITE, the answer MUST be in a
##% reliable non-failure message from UAS back to UAC which is
##% correlated to that INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE did
##% not contain an offer, the 2xx MUST contain an offer if the UAS had
##% not yet sent an offer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% A 2xx response to an INVITE SHOULD contain the Allow header field and
##% the Supported header field
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% and MAY contain the Accept header field.
def test_answer_needs_a_session_description() -> None:
    import pytest

    net, alice, bob = pair()
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)[1])
    net.run(0.5)
    (incoming,) = bob.of(IncomingCall)
    with pytest.raises(ValueError, match="answer"):
        bob.ua.sessions.answer(incoming.call, net.now, body=b"")
    net.call(bob, bob.ua.sessions.answer(incoming.call, net.now, body=b"v=0\r\ns=a\r\n"))
    net.run(1.0)
    ok = next(m for _, m in alice.received if isinstance(m, Response) and m.status == 200)
    assert ok.body == b"v=0\r\ns=a\r\n"
    assert "Allow" in ok.headers and "Supported" in ok.headers and ok.contact


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The UAC MUST treat the first session description it receives as the answer, and MUST
##% ignore any session descriptions in subsequent responses to the initial
##% INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
##= type=test
##% To prevent cancellation, the UAS MUST send a non-100
##% provisional response at every minute, to handle the possibility of
##% lost provisional responses.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% That same exact answer MAY also be placed in any provisional responses sent prior to the
##% answer.
def test_early_answer_and_provisional_refresh() -> None:
    net, alice, bob = pair()

    def early(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.ring(event.call, net.now, 183, body=b"v=0\r\ns=1\r\n"))

    bob.on_event = early
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(150.0)
    times = [round(t, 2) for t, s in statuses(net, "bob.example.com") if s == 183]
    assert times == [0.01, 60.01, 120.01]
    net.call(
        bob, bob.ua.sessions.answer(bob.ua.sessions.calls[0], net.now, body=b"v=0\r\ns=2\r\n")
    )
    net.run(151.0)
    assert call.remote_body == b"v=0\r\ns=1\r\n"
    net.run(400.0)
    assert [round(t, 2) for t, s in statuses(net, "bob.example.com") if s == 183] == times


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.2
##= type=test
##% A
##% 300 (Multiple Choices), 301 (Moved Permanently) or 302 (Moved
##% Temporarily) response SHOULD contain a Contact header field
##% containing one or more URIs of new addresses to be tried.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A UAS rejecting an offer contained in an INVITE SHOULD return a 488
##% (Not Acceptable Here) response.  Such a response SHOULD include a
##% Warning header field value explaining why the offer was rejected.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A 486 (Busy Here)
##% SHOULD be returned in such a scenario.
def test_redirect_and_reject_responses() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    carol = net.add_ua(make_ua("carol", seed=3))

    def forward(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(
                bob, bob.ua.sessions.redirect(event.call, net.now, ["sip:carol@carol.example.com"])
            )

    def picky(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(carol, carol.ua.sessions.reject(event.call, net.now, 488, warning="no codec"))

    bob.on_event, carol.on_event = forward, picky
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)[1])
    net.run(1.0)
    (failed,) = alice.of(CallFailed)
    assert failed.response.status == 488
    assert failed.response.headers.get("Warning") == '399 carol.example.com "no codec"'
    moved = next(m for _, m in alice.received if isinstance(m, Response) and m.status == 302)
    assert str(moved.contact[0].uri) == "sip:carol@carol.example.com"


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% When a UAC receives a 2xx response to a target refresh request, it
##% MUST replace the dialog's remote target URI with the URI from the
##% Contact header field in that response, if present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% When a UAS receives a target refresh request, it MUST replace the
##% dialog's remote target URI with the URI from the Contact header field
##% in that request, if present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% A UAC SHOULD include a Contact header field in any target refresh
##% requests within a dialog, and unless there is a need to change it,
##% the URI SHOULD be the same as used in previous requests within the
##% dialog.
def test_reinvite_refreshes_the_remote_target() -> None:
    from rfc3261.uri import parse_sip_uri

    net, alice, bob = pair()
    answering(net, bob, ring=False)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    bob_call = bob.ua.sessions.calls[0]
    # Bob moves (same host, new user part); his 2xx to Alice's re-INVITE says so.
    bob.ua.contact_uri = parse_sip_uri("sip:bob-mobile@bob.example.com")
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP))
    net.run(2.0)
    assert str(call.established.remote_target) == "sip:bob-mobile@bob.example.com"
    reinvite = received(bob, "INVITE")[-1]
    assert str(reinvite.contact[0].uri) == "sip:alice@alice.example.com"
    # Alice moves; her next re-INVITE tells Bob.
    alice.ua.contact_uri = parse_sip_uri("sip:alice-desk@alice.example.com")
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP))
    net.run(3.0)
    assert str(bob_call.established.remote_target) == "sip:alice-desk@alice.example.com"
    assert str(received(bob, "INVITE")[-1].uri) == "sip:bob-mobile@bob.example.com"


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% If the response for a request within a dialog is a 481
##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout), the UAC
##% SHOULD terminate the dialog.
def test_481_to_reinvite_ends_the_dialog() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    bob.ua.dialogs.clear()  # Bob crashed and forgot the dialog
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP))
    net.run(2.0)
    assert [e.response.status for e in alice.of(ReinviteResult)] == [481]
    assert alice.ua.dialogs == {} and call.ended
    assert [e.reason for e in alice.of(CallEnded)] == ["481 to re-INVITE"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS that receives a second INVITE before it sends the final
##% response to a first INVITE with a lower CSeq sequence number on the
##% same dialog MUST return a 500 (Server Internal Error) response to the
##% second INVITE and MUST include a Retry-After header field with a
##% randomly chosen value of between 0 and 10 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% The UAS MUST still respond to any pending requests received for that
##% dialog.  It is RECOMMENDED that a 487 (Request Terminated) response
##% be generated to those pending requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% Note that a UAC MUST NOT initiate a new INVITE transaction within a
##% dialog while another INVITE transaction is in progress in either
##% direction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% A UAS core receiving a BYE request for an existing dialog MUST follow
##% the procedures of Section 12.2.2 to process the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If there is an ongoing INVITE client transaction, the TU MUST wait until the transaction
##% reaches the completed or terminated state before initiating the new INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If there is an ongoing INVITE server transaction, the TU MUST wait until the transaction
##% reaches the confirmed or terminated state before initiating the new INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% However, a UA MAY initiate a regular transaction while an INVITE transaction is in
##% progress.
##= https://www.rfc-editor.org/rfc/rfc3261#section-11
##= type=test
##% An OPTIONS request MAY be sent as part of an established dialog to query the peer on
##% capabilities that may be utilized later in the dialog.
def test_pending_reinvite_500_then_bye_487() -> None:
    import pytest

    net, alice, bob = pair()
    answering(net, bob, ring=False)
    bob.ua.sessions.auto_accept_reinvite = False
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP))
    with pytest.raises(ValueError, match=r"14\.1"):
        alice.ua.sessions.reinvite(call, net.now, SDP)
    net.run(1.5)
    assert len(bob.of(ReinviteReceived)) == 1
    with pytest.raises(ValueError, match=r"14\.1"):
        bob.ua.sessions.reinvite(bob.ua.sessions.calls[0], net.now, SDP)
    # A second INVITE on the dialog (the core lets it through; a session would not).
    second, effects = alice.ua.in_dialog(
        call.established, "INVITE", net.now, body=SDP, content_type="application/sdp"
    )
    net.call(alice, effects)
    net.run(2.0)
    assert second.final is not None and second.final.status == 500
    assert 0 <= second.final.header("Retry-After").seconds <= 10
    # A regular transaction while the re-INVITE is still pending is fine.
    options, effects = alice.ua.in_dialog(call.established, "OPTIONS", net.now)
    net.call(alice, effects)
    net.run(2.5)
    assert options.final is not None and options.final.status == 200
    net.call(alice, alice.ua.sessions.bye(call, net.now))
    net.run(3.0)
    codes = [s for _, s in statuses(net, "bob.example.com")]
    assert codes[-2:] == [487, 200]
    assert [e.response.status for e in alice.of(ReinviteResult)] == [487]


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If a UA receives a non-2xx final response to a re-INVITE, the session
##% parameters MUST remain unchanged, as if no re-INVITE had been issued.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% If the new session description is not acceptable, the UAS can reject
##% it by returning a 488 (Not Acceptable Here) response for the re-
##% INVITE.  This response SHOULD include a Warning header field.
def test_rejected_reinvite_keeps_the_session() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    bob.ua.sessions.auto_accept_reinvite = False

    def refuse(net: Network, event) -> None:
        if isinstance(event, ReinviteReceived):
            net.call(bob, bob.ua.sessions.answer_reinvite(event.call, net.now, 488, warning="no"))

    previous = bob.on_event

    def both(net: Network, event) -> None:
        previous(net, event)
        refuse(net, event)

    bob.on_event = both
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    dialog = call.established
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP + b"a=new\r\n"))
    net.run(2.0)
    (result,) = alice.of(ReinviteResult)
    assert result.response.status == 488 and "Warning" in result.response.headers
    assert call.established is dialog and not call.ended and call.local_body == SDP
    assert dialog.id in alice.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% A UA MUST NOT send a
##% BYE outside of a dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% The caller's UA MAY send a BYE for either
##% confirmed or early dialogs, and the callee's UA MAY send a BYE on
##% confirmed dialogs
##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% but MUST NOT send a BYE on early dialogs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
##= type=test
##% The UAC MUST
##% consider the session terminated (and therefore stop sending or
##% listening for media) as soon as the BYE request is passed to the
##% client transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
##= type=test
##% If the response for the BYE is a 481
##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout) or no
##% response at all is received for the BYE (that is, a timeout is
##% returned by the client transaction), the UAC MUST consider the
##% session and the dialog terminated.
def test_bye_rules() -> None:
    import pytest

    net, alice, bob = pair()
    ringing_only(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    with pytest.raises(ValueError, match="dialog"):
        alice.ua.sessions.bye(call, 0.0)
    net.call(alice, effects)
    net.run(1.0)
    bob_call = bob.ua.sessions.calls[0]
    with pytest.raises(ValueError, match="early"):
        bob.ua.sessions.bye(bob_call, net.now)
    # The caller may end the early dialog with a BYE.
    (early,) = call.dialogs.values()
    net.call(alice, alice.ua.sessions.bye(call, net.now, early))
    assert early.terminated and alice.ua.dialogs == {}
    net.run(2.0)
    assert [e.reason for e in bob.of(CallEnded)] == ["remote BYE"]
    # A BYE answered with 481 (the peer forgot): nothing more to do, the dialog is gone.
    net2, alice2, bob2 = pair(5)
    answering(net2, bob2, ring=False)
    call2, effects = alice2.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net2.call(alice2, effects)
    net2.run(1.0)
    bob2.ua.dialogs.clear()
    net2.call(alice2, alice2.ua.sessions.bye(call2, net2.now))
    assert call2.ended and alice2.ua.dialogs == {}
    net2.run(2.0)
    assert [s for _, s in statuses(net2, "bob.example.com")][-1] == 481
    assert [e.reason for e in alice2.of(CallEnded)] == ["local BYE"]


def received(node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% When a UAS responds to a request with a response that establishes a
##% dialog (such as a 2xx to INVITE), the UAS MUST copy all Record-Route
##% header field values from the request into the response (including the
##% URIs, URI parameters, and any Record-Route header field parameters,
##% whether they are known or unknown to the UAS) and MUST maintain the
##% order of those values.  The UAS MUST add a Contact header field to
##% the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If the dialog identifier in the 2xx response matches the dialog
##% identifier of an existing dialog, the dialog MUST be transitioned to
##% the "confirmed" state, and the route set for the dialog MUST be
##% recomputed based on the 2xx response using the procedures of Section
##% 12.2.1.2.
def test_record_route_copied_and_route_set_recomputed() -> None:
    net, alice, bob = pair()
    rr = ["<sip:p1.example.com;lr;x=1>", "<sip:p2.example.com;lr>"]

    def on_event(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.ring(event.call, net.now))

    bob.on_event = on_event
    call, effects = alice.ua.sessions.invite(
        "sip:bob@bob.example.com", 0.0, body=SDP, headers=[("Record-Route", v) for v in rr]
    )
    net.call(alice, effects)
    net.run(0.5)
    (early,) = call.dialogs.values()
    early.route_set = []  # as if the 180 had carried no Record-Route
    net.call(bob, bob.ua.sessions.answer(bob.ua.sessions.calls[0], net.now, body=SDP))
    net.run(0.6)
    ok = next(m for _, m in alice.received if isinstance(m, Response) and m.status == 200)
    assert ok.headers.get_all("Record-Route") == rr and ok.contact
    assert early.state.value == "confirmed"
    assert [str(r.uri) for r in early.route_set] == [
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr;x=1",
    ]
    bob_dialog = bob.ua.sessions.calls[0].server.dialog
    assert [str(r.uri) for r in bob_dialog.route_set] == [
        "sip:p1.example.com;lr;x=1",
        "sip:p2.example.com;lr",
    ]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% An ACK request for a 2xx response MUST contain only those Require and
##% Proxy-Require values that were present in the initial request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% However, it is
##% RECOMMENDED that a UAS accept requests even if they do not recognize
##% the URI scheme (for example, a tel: URI) in the To header field, or
##% if the To header field does not address a known or current user of
##% this UAS.
def test_ack_repeats_require_and_foreign_to_is_accepted() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, supported=("timer",)))
    answering(net, bob, ring=False)
    _, effects = alice.ua.sessions.invite(
        "<tel:+15551234>",
        0.0,
        body=SDP,
        request_uri="sip:bob@bob.example.com",
        require=["timer"],
    )
    net.call(alice, effects)
    net.run(1.0)
    assert len(bob.of(IncomingCall)) == 1
    (ack,) = received(bob, "ACK")
    assert ack.header("Require") == ["timer"] and "Proxy-Require" not in ack.headers


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% A UAC SHOULD also terminate a dialog if
##% no response at all is received for the request (the client
##% transaction would inform the TU about the timeout.)
def test_reinvite_timeout_ends_the_dialog_with_a_bye() -> None:
    net, alice, bob = pair()
    answering(net, bob, ring=False)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    net.drop = lambda src, dst, message: src == "bob.example.com"  # Bob goes silent
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, SDP))
    net.run(40.0)
    assert [e.response.status for e in alice.of(ReinviteResult)] == [408]
    bye_at = started(net, "alice.example.com", "BYE")[0]
    assert round(bye_at, 2) == 33.0  # Timer B = 64*T1 after the re-INVITE at 1.0
    assert alice.ua.dialogs == {} and call.ended


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% If the UAS knows that no
##% other end system will be able to accept this call, a 600 (Busy
##% Everywhere) response SHOULD be sent instead.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% If the request that initiated the dialog contained a
##% SIPS URI in the Request-URI or in the top Record-Route header field
##% value, if there was any, or the Contact header field if there was no
##% Record-Route header field, the Contact header field in the response
##% MUST be a SIPS URI.
def test_busy_everywhere_and_sips_contact_in_responses() -> None:
    net, alice, bob = pair()
    calls = []
    bob.on_event = lambda net, e: calls.append(e.call) if isinstance(e, IncomingCall) else None
    net.call(alice, alice.ua.sessions.invite("sips:bob@bob.example.com", 0.0, body=SDP)[1])
    net.run(0.5)
    net.call(bob, bob.ua.sessions.ring(calls[0], net.now))
    net.call(bob, bob.ua.sessions.reject(calls[0], net.now, 600))
    net.run(1.0)
    ringing = next(m for _, m in alice.received if isinstance(m, Response) and m.status == 180)
    assert ringing.contact[0].uri.scheme == "sips"
    assert [e.response.status for e in alice.of(CallFailed)] == [600]


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% For example, a
##% UA capable of receiving INFO requests within a dialog [34] SHOULD
##% include an Allow header field listing the INFO method.
def test_invite_allow_lists_info_when_supported() -> None:
    ua = make_ua("alice", allow=("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO"))
    call, _ = ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    assert call.client is not None and "INFO" in call.client.request.header("Allow")
    assert "INFO" not in make_ua("bob").sessions.invite("sip:a@b.example.com", 0.0)[
        0
    ].client.request.header("Allow")


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS that receives a second INVITE before it sends the final
##% response to a first INVITE with a lower CSeq sequence number on the
##% same dialog MUST return a 500 (Server Internal Error) response to the
##% second INVITE and MUST include a Retry-After header field with a
##% randomly chosen value of between 0 and 10 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% The UAS MUST still respond to any pending requests received for that
##% dialog.  It is RECOMMENDED that a 487 (Request Terminated) response
##% be generated to those pending requests.
def test_early_dialog_second_invite_500_and_bye_487() -> None:
    """While the first INVITE rings, a second one on its early dialog gets 500 with
    Retry-After, and a BYE on the early dialog ends the ringing INVITE with 487."""
    net, alice, bob = pair()
    ringing_only(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=SDP)
    net.call(alice, effects)
    net.run(1.0)
    (early,) = call.dialogs.values()
    second, effects = alice.ua.in_dialog(
        early, "INVITE", net.now, body=SDP, content_type="application/sdp"
    )
    net.call(alice, effects)
    net.run(2.0)
    assert second.final is not None and second.final.status == 500
    assert 0 <= second.final.header("Retry-After").seconds <= 10
    bye, effects = alice.ua.in_dialog(early, "BYE", net.now)
    net.call(alice, effects)
    net.run(3.0)
    assert bye.final is not None and bye.final.status == 200
    assert [e.response.status for e in alice.of(CallFailed)] == [487]
    assert bob.ua.sessions.calls == [] or all(c.ended for c in bob.ua.sessions.calls)
