"""RFC 3311: UPDATE in early and confirmed dialogs between two UAs (extensions/rfc3311.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extensions.rfc3262 import ReliableProvisional
from extensions.rfc3311 import UpdateExtension, UpdateReceived, UpdateResult
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Request, Response
from rfc3261.offer_answer import NegotiationState, OfferAnswerError, SessionDescriber
from rfc3261.session import Call, CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua
from rfc3261.ua_core import ResponseEvent
from rfc3261.uri import parse_uri

OFFER = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n"
ANSWER = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\n"
NEW_OFFER = b"v=0\r\no=alice 1 2 IN IP4 192.0.2.1\r\n"
BOB_OFFER = b"v=0\r\no=bob 1 2 IN IP4 192.0.2.2\r\n"


@pytest.fixture(autouse=True)
def rel_headers() -> Iterator[None]:
    yield
    for name in ("RSeq", "RAck"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def pair(*, rel: bool = True) -> tuple[Network, Node, Node]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    for node in (alice, bob):
        node.ua.use(UpdateExtension())
        if rel:
            node.ua.use(ReliableProvisional())
    return net, alice, bob


def updates(node: Node) -> UpdateExtension:
    extension = node.ua.extension("update")
    assert isinstance(extension, UpdateExtension)
    return extension


def early(net: Network, alice: Node, bob: Node) -> tuple[Call, Call]:
    """Alice offers in the INVITE; Bob answers in a reliable 183, PRACKed."""
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=OFFER)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    incoming.local_body = ANSWER
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.run(net.now + 0.2)
    return call, incoming


def confirmed(net: Network, alice: Node, bob: Node) -> tuple[Call, Call]:
    call, incoming = early(net, alice, bob)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 0.5)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)
    return call, incoming


def received(node: Node, kind: str) -> list[Any]:
    out = []
    for _, message in node.received:
        if isinstance(message, Request):
            if message.method == kind:
                out.append(message)
        elif f"{message.status} {message.cseq.method}" == kind:
            out.append(message)
    return out


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% It
##% MAY be sent for both early and confirmed dialogs, and MAY be sent by
##% either caller or callee.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If the session description has changed, the UAS MUST adjust the
##% session parameters accordingly and generate an answer in the 2xx
##% response.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% However, unlike a re-INVITE, the UPDATE MUST be
##% responded to promptly, and therefore the user cannot generally be
##% prompted to approve the session changes.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If a UA receives an UPDATE for an existing dialog, it MUST check any
##% version identifiers in the session description or, if there are no
##% version identifiers, the content of the session description to see if
##% it has changed.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% The UAC MAY add optional headers for the UPDATE request, as defined
##% in Tables 1 and 2.
@pytest.mark.parametrize("state", ["early", "confirmed"])
def test_an_update_from_each_side_changes_the_session(state: str) -> None:
    net, alice, bob = pair()
    call, incoming = (early if state == "early" else confirmed)(net, alice, bob)
    # The caller offers anew; the callee answers in the 2xx at once.
    bob.ua.sessions.describer = Fixed(BOB_OFFER)
    effects = updates(alice).update(call, net.now, NEW_OFFER, headers=[("Subject", "hold")])
    net.call(alice, effects)
    net.run(net.now + 0.1)
    (update,) = received(bob, "UPDATE")
    assert update.to.tag is not None and update.headers.get("Subject") == "hold"
    (ok,) = received(alice, "200 UPDATE")
    assert ok.body == BOB_OFFER
    assert [e.changed for e in bob.of(UpdateReceived)] == [True]
    assert [e.response.status for e in alice.of(UpdateResult)] == [200]
    assert (call.negotiation.local, call.negotiation.remote) == (NEW_OFFER, BOB_OFFER)
    assert (incoming.negotiation.remote, incoming.negotiation.local) == (NEW_OFFER, BOB_OFFER)
    # The same description again is answered, and reported unchanged.
    net.call(alice, updates(alice).update(call, net.now, NEW_OFFER))
    net.run(net.now + 0.1)
    assert [e.changed for e in bob.of(UpdateReceived)] == [True, False]
    # The callee sends one too, in the same dialog.
    alice.ua.sessions.describer = Fixed(NEW_OFFER)
    net.call(bob, updates(bob).update(incoming, net.now, BOB_OFFER))
    net.run(net.now + 0.1)
    assert received(bob, "200 UPDATE")[0].body == NEW_OFFER
    assert incoming.negotiation.state is call.negotiation.state is NegotiationState.IDLE
    assert len(alice.of(UpdateReceived)) == 1 and not alice.of(ResponseEvent)


class Fixed(SessionDescriber):
    """Answers every offer with one description (None: refuses it)."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer_body = answer

    def offer(self, call: Any) -> bytes:
        return self.answer_body or b""

    def answer(self, call: Any, offer: bytes) -> bytes | None:
        return self.answer_body


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% If a UA uses an UPDATE request or response to modify the remote
##% target while an INVITE transaction is in progress, and it is a UAS
##% for that INVITE transaction, it MUST place the same value into the
##% Contact header field of the 2xx to the INVITE that it placed into the
##% UPDATE request or response.
def test_update_refreshes_the_remote_target_and_the_2xx_keeps_the_contact() -> None:
    net, alice, bob = pair()
    call, incoming = early(net, alice, bob)
    # Bob, the UAS of the INVITE, moves and says so in an UPDATE without a description.
    bob.ua.contact_uri = parse_uri("sip:bob@bob.example.com;moved=1")  # type: ignore[assignment]
    net.call(bob, updates(bob).update(incoming, net.now))
    net.run(net.now + 0.1)
    (update,) = received(alice, "UPDATE")
    assert update.body == b"" and str(update.contact[0].uri) == "sip:bob@bob.example.com;moved=1"
    (dialog,) = call.dialogs.values()
    assert str(dialog.remote_target) == "sip:bob@bob.example.com;moved=1"
    # ...and Alice's 2xx to it carries her Contact: Bob's dialog target is refreshed too.
    (ok,) = received(bob, "200 UPDATE")
    assert ok.contact and str(incoming.server.dialog.remote_target) == str(ok.contact[0].uri)
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 0.5)
    (ok_invite,) = received(alice, "200 INVITE")
    assert str(ok_invite.contact[0].uri) == str(update.contact[0].uri)


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If an UPDATE is received that contains an offer, and the UAS has
##% generated an offer (in an UPDATE, PRACK or INVITE) to which it has
##% not yet received an answer, the UAS MUST reject the UPDATE with a 491
##% response.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
##= type=test
##% If a UAC receives a 491 response to a UPDATE, it SHOULD start a timer
##% with a value T chosen as follows:
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
##= type=test
##% When the timer fires, the UAC SHOULD attempt the UPDATE once more, if
##% it still desires for that session modification to take place.
def test_crossing_updates_get_491_and_are_retried_after_the_14_1_back_off() -> None:
    net, alice, bob = pair()
    call, incoming = confirmed(net, alice, bob)
    alice.ua.sessions.describer = Fixed(NEW_OFFER)
    bob.ua.sessions.describer = Fixed(BOB_OFFER)
    start = net.now
    net.call(alice, updates(alice).update(call, net.now, NEW_OFFER))
    net.call(bob, updates(bob).update(incoming, net.now, BOB_OFFER))  # glare
    net.run(start + 0.1)
    assert [r.status for r in received(alice, "491 UPDATE") + received(bob, "491 UPDATE")] == [
        491,
        491,
    ]
    # Both sessions are as before the offers (RFC 3264 §4), until the retries.
    assert call.negotiation.state is incoming.negotiation.state is NegotiationState.IDLE
    (alice_delay,) = call.glare_delays  # Alice made the Call-ID: 2.1-4 s
    (bob_delay,) = incoming.glare_delays  # Bob did not: 0-2 s
    assert 2.1 <= alice_delay <= 4.0 and 0.0 <= bob_delay <= 2.0
    net.run(start + 5.0)
    bob_retry = [t for t, m in alice.received if isinstance(m, Request) and m.method == "UPDATE"]
    # The 491 reached Bob 20 ms after he sent his UPDATE; his retry took 10 ms to arrive.
    assert bob_retry[-1] == pytest.approx(start + 0.02 + bob_delay + 0.01, abs=0.001)
    assert [e.response.status for e in bob.of(UpdateResult)] == [491, 200]
    # Alice's retry came after Bob's exchange completed: it succeeds too.
    assert [e.response.status for e in alice.of(UpdateResult)] == [491, 200]
    assert call.negotiation.state is incoming.negotiation.state is NegotiationState.IDLE
    assert call.negotiation.local == NEW_OFFER


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% Similarly, if an UPDATE is received that contains an
##% offer, and the UAS has received an offer (in an UPDATE, PRACK, or
##% INVITE) to which it has not yet generated an answer, the UAS MUST
##% reject the UPDATE with a 500 response, and MUST include a Retry-After
##% header field with a randomly chosen value between 0 and 10 seconds.
def test_an_offer_while_the_peers_offer_is_unanswered_gets_500_with_retry_after() -> None:
    net, alice, bob = pair(rel=False)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=OFFER)
    net.call(alice, effects)
    net.run(0.05)
    incoming = bob.of(IncomingCall)[0].call
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 180))  # unreliable: no answer yet
    net.run(0.2)
    # Alice's UA refuses to offer again (her INVITE's offer is unanswered) ...
    with pytest.raises(OfferAnswerError):
        updates(alice).update(call, net.now, NEW_OFFER)
    # ... a peer that does not refuse gets 500 and a Retry-After.
    (dialog,) = call.dialogs.values()
    _client, effects = alice.ua.in_dialog(
        dialog, "UPDATE", net.now, body=NEW_OFFER, content_type="application/sdp", contact=True
    )
    net.call(alice, effects)
    net.run(0.4)
    (refusal,) = received(alice, "500 UPDATE")
    assert 0 <= int(refusal.headers.get("Retry-After")) <= 10
    assert incoming.negotiation.remote == OFFER  # unchanged


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
##= type=test
##% If a UA receives a non-2xx final response to a UPDATE, the session
##% parameters MUST remain unchanged, as if no UPDATE had been issued.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% This response SHOULD include a Warning header field.
def test_a_refused_offer_gets_488_with_a_warning_and_the_session_is_unchanged() -> None:
    net, alice, bob = pair()
    call, incoming = confirmed(net, alice, bob)
    before = (call.negotiation.local, call.negotiation.remote)
    bob.ua.sessions.describer = Fixed(None)
    net.call(alice, updates(alice).update(call, net.now, NEW_OFFER))
    net.run(net.now + 0.1)
    (refusal,) = received(alice, "488 UPDATE")
    assert refusal.headers.get("Warning").startswith("399 ")
    assert (call.negotiation.local, call.negotiation.remote) == before
    assert call.negotiation.state is incoming.negotiation.state is NegotiationState.IDLE
    assert incoming.negotiation.remote == OFFER


##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% However, a UAC compliant to this specification SHOULD also include an
##% Allow header field in the INVITE request, listing the method UPDATE,
##% to indicate its ability to receive an UPDATE request.
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% When a UAS compliant to this specification receives an INVITE request
##% for a new dialog, and generates a reliable provisional response
##% containing SDP, that response SHOULD contain an Allow header field
##% that lists the UPDATE method.
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% An unreliable provisional response MAY contain an Allow header field
##% listing the UPDATE method
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% and a 2xx response SHOULD
##% contain an Allow header field listing the UPDATE method.
def test_update_is_allowed_in_the_invite_the_provisional_and_the_2xx() -> None:
    for rel in (True, False):
        net, alice, bob = pair(rel=rel)
        if rel:
            confirmed(net, alice, bob)
        else:
            _call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=OFFER)
            net.call(alice, effects)
            net.run(0.05)
            net.call(bob, bob.ua.sessions.ring(bob.of(IncomingCall)[0].call, net.now, 180))
            net.run(0.2)
        assert "UPDATE" in received(bob, "INVITE")[0].header("Allow")
        provisional = [
            m for _, m in alice.received if isinstance(m, Response) and 100 < m.status < 200
        ]
        assert provisional and all("UPDATE" in m.header("Allow") for m in provisional)
        if rel:
            assert "UPDATE" in received(alice, "200 INVITE")[0].header("Allow")


def test_an_update_outside_a_known_dialog_gets_481_and_misuse_raises() -> None:
    net, alice, _bob = pair()
    _client, effects = alice.ua.request("UPDATE", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.1)
    stray = alice.ua.build_request("UPDATE", "sip:bob@bob.example.com")
    stray.headers.set("To", "<sip:bob@example.com>;tag=gone")
    _client, effects = alice.ua.send(stray, net.now)
    net.call(alice, effects)
    net.run(0.2)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [481, 481]
    call, _effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now)
    with pytest.raises(ValueError, match="RFC 3311"):
        updates(alice).update(call, net.now, NEW_OFFER)
