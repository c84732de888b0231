"""CANCEL (RFC 3261 §9) as UAC and UAS, including the race with a 200."""

from __future__ import annotations

import pytest

from rfc3261.cancel import build_cancel
from rfc3261.message import Request, Response
from rfc3261.session import CallEnded, CallEstablished, CallFailed, IncomingCall
from rfc3261.tests.ua_support import Network, make_ua, started, statuses


def pair() -> tuple[Network, object, object]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1, outbound_proxy=None))
    bob = net.add_ua(make_ua("bob", seed=2))
    return net, alice, bob


def ringing(net: Network, bob) -> None:
    def on_event(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.ring(event.call, net.now))

    bob.on_event = on_event


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
##% fields in the CANCEL request MUST be identical to those in the
##% request being cancelled, including tags.  A CANCEL constructed by a
##% client MUST have only a single Via header field value matching the
##% top Via value in the request being cancelled.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If the request being cancelled contains a Route header field, the
##% CANCEL request MUST include that Route header field's values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The CANCEL request MUST NOT contain any Require or Proxy-Require
##% header fields.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% However, the method part of the CSeq header field MUST have a value of CANCEL.
def test_build_cancel() -> None:
    ua = make_ua("alice", outbound_proxy="sip:proxy.example.com")
    invite = ua.build_request(
        "INVITE", "sip:bob@example.com", headers=[("Require", "foo"), ("Proxy-Require", "bar")]
    )
    cancel = build_cancel(invite)
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri
    assert cancel.headers.get("From") == invite.headers.get("From")
    assert cancel.headers.get("To") == invite.headers.get("To")
    assert cancel.call_id == invite.call_id
    assert (cancel.cseq.number, cancel.cseq.method) == (invite.cseq.number, "CANCEL")
    assert cancel.via == [invite.top_via]
    assert cancel.headers.get_all("Route") == invite.headers.get_all("Route") != []
    assert "Require" not in cancel.headers and "Proxy-Require" not in cancel.headers


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If no provisional response has been received, the CANCEL request MUST
##% NOT be sent; rather, the client MUST wait for the arrival of a
##% provisional response before sending the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the original request was an INVITE, the UAS
##% SHOULD immediately respond to the INVITE with a 487 (Request
##% Terminated).
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% Regardless of the method of the original request, as long as the
##% CANCEL matched an existing transaction, the UAS answers the CANCEL
##% request itself with a 200 (OK) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% This response is constructed following the procedures described in Section 8.2.6 noting
##% that the To tag of the response to the CANCEL and the To tag in the response to the
##% original request SHOULD be the same.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% Once the CANCEL is constructed, the client SHOULD check whether it has received any
##% response (provisional or final) for the request being cancelled (herein referred to as the
##% "original request").
def test_cancel_waits_for_a_provisional_response() -> None:
    net, alice, bob = pair()
    ringing(net, bob)
    # The callee's provisional responses are slow: hold them back 1 s.
    net.latency = 0.01
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    bob.ua.layer.send_100 = False
    net.call(alice, effects)
    net.call(alice, alice.ua.sessions.hangup(call, 0.0))
    assert started(net, "alice.example.com", "CANCEL") == []
    net.run(2.0)
    (cancel_at,) = started(net, "alice.example.com", "CANCEL")
    first_provisional = min(t for t, src, dst, line in net.wire if "SIP/2.0 1" in line)
    assert cancel_at > first_provisional
    codes = [s for _, s in statuses(net, "bob.example.com")]
    assert 487 in codes and codes.count(200) == 1  # 200 to the CANCEL only
    assert [e.response.status for e in alice.of(CallFailed)] == [487]
    assert [e.reason for e in bob.of(CallEnded)] == ["cancelled"]
    # CANCEL and its 200 share the INVITE's To tag (§9.2).
    responses = [m for _, m in alice.received if isinstance(m, Response)]
    tags = {m.to.tag for m in responses if m.status in (180, 200, 487)}
    assert len(tags) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% If the INVITE results in 2xx final response(s)
##% to the INVITE, this means that a UAS accepted the invitation while
##% the CANCEL was in progress.  The UAC MAY continue with the sessions
##% established by any 2xx responses, or MAY terminate them with BYE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If it has, the CANCEL
##% request has no effect on the processing of the original request, no
##% effect on any session state, and no effect on the responses generated
##% for the original request.
def test_cancel_crossing_the_200_gets_ack_and_bye() -> None:
    net, alice, bob = pair()
    ringing(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.1)  # 180 has arrived
    bob_call = bob.ua.sessions.calls[0]
    # Both at once: Bob answers while Alice hangs up; the CANCEL crosses the 200.
    net.call(bob, bob.ua.sessions.answer(bob_call, net.now, body=b"v=0\r\n"))
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(3.0)
    cancel_at = started(net, "alice.example.com", "CANCEL")
    ack_at = started(net, "alice.example.com", "ACK")
    bye_at = started(net, "alice.example.com", "BYE")
    assert len(cancel_at) == 1 and len(ack_at) == 1 and len(bye_at) == 1
    assert ack_at[0] <= bye_at[0]
    # Bob answered the CANCEL with 200 but sent no 487: the INVITE already had its 2xx.
    codes = [s for _, s in statuses(net, "bob.example.com")]
    assert 487 not in codes
    assert alice.of(CallFailed) == [] and alice.of(CallEstablished) == []
    assert [e.reason for e in bob.of(CallEnded)] == ["remote BYE"]
    assert alice.ua.dialogs == {} and bob.ua.dialogs == {}


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the UAS did not find a matching transaction for the CANCEL
##% according to the procedure above, it SHOULD respond to the CANCEL
##% with a 481 (Call Leg/Transaction Does Not Exist).
def test_cancel_for_nothing_gets_481() -> None:
    net, alice, _bob = pair()
    invite = alice.ua.build_request("INVITE", "sip:bob@bob.example.com")
    net.send("alice.example.com", build_cancel(invite), invite.uri)
    net.run(1.0)
    assert [s for _, s in statuses(net, "bob.example.com")] == [481]


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% A CANCEL request SHOULD NOT be sent to cancel a request other than INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If the original request has generated a final response, the CANCEL SHOULD NOT be sent, as
##% it is an effective no-op, since CANCEL has no effect on requests that have already
##% generated a final response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% UACs SHOULD NOT send CANCEL requests for SUBSCRIBE or NOTIFY
##% transactions.
def test_no_cancel_for_subscribe_or_notify() -> None:
    net, alice, _bob = pair()
    from rfc3261.cancel import cancel

    for method in ("SUBSCRIBE", "NOTIFY"):
        client, effects = alice.ua.request(method, "sip:bob@bob.example.com", 0.0)
        with pytest.raises(ValueError, match="INVITE"):
            cancel(alice.ua, client, 0.0)
        net.call(alice, effects)
    net.run(1.0)
    assert started(net, "alice.example.com", "CANCEL") == []


def test_cancel_only_for_invite_and_not_after_final() -> None:
    net, alice, bob = pair()
    client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    from rfc3261.cancel import cancel

    with pytest.raises(ValueError, match="INVITE"):
        cancel(alice.ua, client, 0.0)
    net.call(alice, effects)
    net.run(1.0)
    assert client.final is not None and client.final.status == 200
    # An INVITE that already has its final response is not cancelled.
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now)
    net.call(alice, effects)
    bob.on_event = lambda net, e: (
        net.call(bob, bob.ua.sessions.reject(e.call, net.now, 603))
        if isinstance(e, IncomingCall)
        else None
    )
    net.run(2.0)
    assert call.client.final is not None and call.client.final.status == 603
    assert cancel(alice.ua, call.client, net.now) == []
    assert started(net, "alice.example.com", "CANCEL") == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If there is no
##% final response for the original request in 64*T1 seconds (T1 is
##% defined in Section 17.1.1.1), the client SHOULD then consider the
##% original transaction cancelled and SHOULD destroy the client
##% transaction handling the original request.
def test_uncancellable_invite_is_given_up_after_64_t1() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))

    # An RFC 2543 UAS: rings, answers CANCEL with 200, never sends a final response.
    def old_uas(request: Request) -> list[Response]:
        if request.method == "INVITE":
            return [request.make_response(180, to_tag="x")]
        if request.method == "CANCEL":
            return [request.make_response(200, to_tag="x")]
        return []

    net.add_script("bob.example.com", old_uas)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.5)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(40.0)
    (failed,) = alice.of(CallFailed)
    assert failed.response.status == 487
    assert [round(t, 2) for t, e in alice.events if isinstance(e, CallFailed)] == [32.5]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% Note that Require and Proxy-Require MUST NOT be used in a SIP CANCEL
##% request, or in an ACK request sent for a non-2xx response.  These
##% header fields MUST be ignored if they are present in these requests.
def test_require_in_a_cancel_is_ignored() -> None:
    net, alice, bob = pair()
    ringing(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.1)
    cancel = build_cancel(call.client.request)
    cancel.headers.add("Require", "no-such-extension")
    net.send("alice.example.com", cancel, call.client.destination)
    net.run(1.0)
    codes = [s for _, s in statuses(net, "bob.example.com")]
    assert 420 not in codes and 487 in codes


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The destination address,
##% port, and transport for the CANCEL MUST be identical to those used to
##% send the original request.
def test_the_cancel_goes_where_the_invite_went() -> None:
    net, alice, bob = pair()
    ringing(net, bob)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.1)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))  # the UA's own CANCEL
    net.run(1.0)
    invite_dst = [dst for _, src, dst, line in net.wire if line.startswith("INVITE")]
    cancel_dst = [dst for _, src, dst, line in net.wire if line.startswith("CANCEL")]
    assert len(cancel_dst) == 1 and cancel_dst == invite_dst[:1]
    assert [e.response.status for e in alice.of(CallFailed)] == [487]
