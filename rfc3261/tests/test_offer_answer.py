"""The offer/answer seam: the negotiation state of a call, and a describer plugged in."""

from __future__ import annotations

from typing import Any

import pytest

from rfc3261.message import Request, Response
from rfc3261.offer_answer import (
    Negotiation,
    NegotiationState,
    OfferAnswerError,
    SessionDescriber,
)
from rfc3261.session import IncomingCall, ReinviteReceived, ReinviteResult
from rfc3261.tests.ua_support import Network, make_ua

OFFER = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n"
ANSWER = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\n"


##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% However, it MUST NOT generate a new offer if it has
##% received an offer which it has not yet answered or rejected.
##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% Furthermore, it MUST NOT generate a new offer if it has generated a
##% prior offer for which it has not yet received an answer or a
##% rejection.
def test_no_new_offer_while_one_is_outstanding() -> None:
    sent = Negotiation()
    sent.offer_sent(b"1")
    with pytest.raises(OfferAnswerError, match="not answered yet"):
        sent.offer_sent(b"2")
    with pytest.raises(OfferAnswerError, match="glare"):
        sent.offer_received(b"x")
    sent.answer_received(b"a")
    sent.offer_sent(b"2")  # answered: a new offer may go
    received = Negotiation()
    received.offer_received(b"x")
    with pytest.raises(OfferAnswerError, match="not answered yet"):
        received.offer_sent(b"1")
    with pytest.raises(OfferAnswerError, match="no offer to answer"):
        Negotiation().answer_sent(b"a")
    with pytest.raises(OfferAnswerError, match="without an offer"):
        Negotiation().answer_received(b"a")


##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% The offer/answer exchange is atomic; if
##% the answer is rejected, the session reverts to the state prior to the
##% offer (which may be absence of a session).
def test_a_rejected_offer_leaves_the_session_as_it_was() -> None:
    negotiation = Negotiation()
    negotiation.offer_sent(b"first")
    negotiation.answer_received(b"first answer")
    negotiation.offer_received(b"second")
    negotiation.rejected()
    assert negotiation.state is NegotiationState.IDLE
    assert (negotiation.local, negotiation.remote) == (b"first", b"first answer")


class Echoing(SessionDescriber):
    """Answers an offer with a description derived from it; refuses offers with "a=no"."""

    def __init__(self) -> None:
        self.offers: list[bytes] = []

    def offer(self, call: Any) -> bytes:
        return b"v=0\r\ns=offer from " + call.call_id.encode()[:8] + b"\r\n"

    def answer(self, call: Any, offer: bytes) -> bytes | None:
        self.offers.append(offer)
        return None if b"a=no" in offer else answer_to(offer)


def answer_to(offer: bytes) -> bytes:
    """What Echoing answers: the offer's last line, quoted."""
    return b"v=0\r\ns=answer to " + offer.strip().split(b"\r\n")[-1] + b"\r\n"


def established(seed: int = 1) -> tuple[Network, Any, Any, Any, Echoing]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=seed))
    bob = net.add_ua(make_ua("bob", seed=seed + 1))
    describer = Echoing()
    bob.ua.sessions.describer = describer
    bob.on_event = lambda net, e: (
        net.call(bob, bob.ua.sessions.answer(e.call, net.now))
        if isinstance(e, IncomingCall)
        else None
    )
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=OFFER)
    net.call(alice, effects)
    net.run(1.0)
    return net, alice, bob, call, describer


def test_the_describer_answers_the_invite_and_the_negotiation_follows() -> None:
    _net, _alice, bob, call, describer = established()
    (bob_call,) = bob.ua.sessions.calls
    assert describer.offers == [OFFER]
    assert call.remote_body == answer_to(OFFER)
    assert call.negotiation.state is NegotiationState.IDLE
    assert bob_call.negotiation.state is NegotiationState.IDLE
    assert (bob_call.negotiation.remote, bob_call.negotiation.local) == (OFFER, call.remote_body)


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% If the new session description is not acceptable, the UAS can reject
##% it by returning a 488 (Not Acceptable Here) response for the re-
##% INVITE.  This response SHOULD include a Warning header field.
def test_a_reinvite_offer_the_describer_refuses_gets_488_and_nothing_changes() -> None:
    net, alice, bob, call, _describer = established()
    (bob_call,) = bob.ua.sessions.calls
    before = (bob_call.negotiation.local, bob_call.negotiation.remote)
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER + b"a=no\r\n"))
    net.run(2.0)
    (result,) = alice.of(ReinviteResult)
    assert result.response.status == 488
    assert "offer not acceptable" in result.response.headers.get("Warning")
    assert (bob_call.negotiation.local, bob_call.negotiation.remote) == before
    assert call.negotiation.state is NegotiationState.IDLE  # may offer again
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER + b"a=ok\r\n"))
    net.run(4.0)
    assert [r.response.status for r in alice.of(ReinviteResult)] == [488, 200]
    assert alice.of(ReinviteResult)[-1].response.body == answer_to(b"a=ok")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the initial offer is in the first reliable non-failure
##% message from the UAS back to UAC, the answer MUST be in the
##% acknowledgement for that message (in this specification, ACK
##% for a 2xx response).
def test_an_offerless_reinvite_gets_the_describers_offer_and_the_ack_carries_the_answer() -> None:
    net, alice, bob, call, _describer = established()
    alice.ua.sessions.describer = Echoing()
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, b""))
    net.run(2.0)
    (result,) = alice.of(ReinviteResult)
    offer = result.response.body
    assert result.response.status == 200 and offer.startswith(b"v=0\r\ns=offer from ")
    acks = [m for _, m in bob.received if isinstance(m, Request) and m.method == "ACK"]
    assert acks[-1].body == answer_to(offer)
    (bob_call,) = bob.ua.sessions.calls
    assert bob_call.negotiation.remote == acks[-1].body
    assert bob_call.negotiation.state is NegotiationState.IDLE
    assert len(bob.of(ReinviteReceived)) == 1


def test_a_reinvite_while_our_offer_is_outstanding_is_refused() -> None:
    net, alice, bob, call, _describer = established()
    call.negotiation.offer_sent(b"v=0\r\ns=sent by an extension\r\n")  # e.g. an UPDATE
    with pytest.raises(OfferAnswerError):
        alice.ua.sessions.reinvite(call, net.now, OFFER)
    assert not [m for _, m in bob.received if isinstance(m, Response)]
