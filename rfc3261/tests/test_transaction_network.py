"""Whole exchanges between two transaction layers wired back to back in memory.

The client endpoint ("a") and the server endpoint ("b") exchange bytes through
:class:`Network`, which can lose or duplicate messages; time only moves when the
test runs the network.  The TUs are small scripts reacting to TU events.
"""

from __future__ import annotations

import random

import pytest

from rfc3261.message import Request
from rfc3261.tests.transaction_support import COOKIE, Network, request, response
from rfc3261.transaction import (
    RequestReceived,
    ResponseReceived,
    State,
    Terminated,
    Timeout,
)
from rfc3261.transaction_layer import TransactionLayer


def statuses(endpoint) -> list[int]:
    return [e.response.status for e in endpoint.tu(ResponseReceived)]


def methods(endpoint) -> list[str]:
    return [e.request.method for e in endpoint.tu(RequestReceived)]


def ack_for_2xx(invite: Request, ok) -> Request:
    """The UAC core's ACK for a 2xx (§13.2.2.4): a new branch, sent without a transaction."""
    return request(
        "ACK",
        branch=COOKIE + "ack2xx",
        cseq=invite.cseq.number,
        to_tag=ok.to.tag,
        uri=str(invite.uri),
    )


def network() -> Network:
    return Network(TransactionLayer(), TransactionLayer())


def uas_answering(net: Network, *script: tuple[float, int]) -> None:
    """The server TU answers each new INVITE with ``status`` after ``delay``, per script."""

    def on_event(net: Network, event) -> None:
        if isinstance(event, RequestReceived) and event.transaction is not None:
            tx = event.transaction
            if event.request.method != "INVITE" or tx.request is not event.request:
                return
            for delay, status in script:
                resp = response(tx.request, status)
                net.call_at(net.now + delay, lambda n, r=resp, t=tx: n.send_response(n.b, t, r))

    net.b.on_event = on_event


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST NOT generate an ACK to the 2xx response -- its
##% handling is delegated to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% The server transaction MUST NOT generate 2xx retransmissions on its own.
def test_invite_100_180_200_ack():
    net = network()
    uas_answering(net, (0.1, 180), (1.0, 200))
    invite = request("INVITE")

    def uac(net: Network, event) -> None:
        if isinstance(event, ResponseReceived) and event.response.status == 200:
            # The UAC core sends the ACK itself, not through a transaction.
            net.send_direct(net.a, ack_for_2xx(invite, event.response))

    net.a.on_event = uac
    net.send_request(net.a, invite)
    net.run(2.0)
    assert net.lines() == [
        (0.0, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
        (0.01, "SIP/2.0 100 Trying"),
        (0.11, "SIP/2.0 180 Ringing"),
        (1.01, "SIP/2.0 200 OK"),
        (1.02, "ACK sip:bob@biloxi.example.com SIP/2.0"),
    ]
    assert statuses(net.a) == [100, 180, 200]
    assert methods(net.b) == ["INVITE", "ACK"]
    # The ACK for the 2xx matches no transaction: it reaches the TU on its own.
    assert net.b.tu(RequestReceived)[1].transaction is None
    (client_tx,) = net.a.layer.client_transactions
    (server_tx,) = net.b.layer.server_transactions
    assert client_tx.state is State.ACCEPTED and server_tx.state is State.ACCEPTED
    # Timer L (1.01 + 32) and Timer M (1.02 + 32) end both transactions.
    net.run(40.0)
    assert len(net.a.layer) == len(net.b.layer) == 0
    assert [t for t, e in net.b.events if isinstance(e, Terminated)] == [pytest.approx(33.01)]
    assert [t for t, e in net.a.events if isinstance(e, Terminated)] == [pytest.approx(33.02)]
    assert len(net.wire) == 5  # nothing was retransmitted


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any retransmission of the 2xx response passed from the TU to the
##% transaction while in the "Accepted" state MUST be passed to the transport
##% layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any 2xx responses that match this client transaction and that are
##% received while in the "Accepted" state MUST be passed up to the TU.
def test_2xx_retransmitted_by_the_uas_core_reaches_the_uac_core():
    net = network()
    uas_answering(net, (0.0, 200), (0.5, 200), (1.5, 200))  # TU retransmits the 2xx
    invite = request("INVITE")
    net.b.layer.send_100 = False
    net.send_request(net.a, invite)
    net.run(5.0)
    assert statuses(net.a) == [200, 200, 200]
    assert [line for _, line in net.lines("b->a")] == ["SIP/2.0 200 OK"] * 3
    # The INVITE was not retransmitted: the 200 stopped Timer A.
    assert len(net.lines("a->b")) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Any retransmissions of the final response that are received while in the
##% "Completed" state MUST cause the ACK to be re-passed to the transport layer
##% for retransmission, but the newly received response MUST NOT be passed up
##% to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If an ACK is received while the server transaction is in the "Completed"
##% state, the server transaction MUST transition to the "Confirmed" state.
@pytest.mark.parametrize("lose_first_ack", [False, True])
def test_invite_486_ack(lose_first_ack):
    net = network()
    uas_answering(net, (0.1, 486))
    net.drop = lambda direction, message, count: (
        lose_first_ack and getattr(message, "method", None) == "ACK" and count == 0
    )
    invite = request("INVITE")
    client_tx = net.send_request(net.a, invite)
    net.run(3.0)
    assert net.lines()[:4] == [
        (0.0, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
        (0.01, "SIP/2.0 100 Trying"),
        (0.11, "SIP/2.0 486 Busy Here"),
        (0.12, "ACK sip:bob@biloxi.example.com SIP/2.0"),
    ]
    if lose_first_ack:
        # Timer G (0.11 + 0.5) retransmits the 486; the client ACKs again.
        assert [(round(t, 3), line) for t, d, line in net.wire[4:]] == [
            (0.61, "SIP/2.0 486 Busy Here"),
            (0.62, "ACK sip:bob@biloxi.example.com SIP/2.0"),
        ]
    else:
        assert len(net.wire) == 4
    assert statuses(net.a) == [100, 486]  # the retransmitted 486 is not passed up
    assert methods(net.b) == ["INVITE"]  # the ACK for a non-2xx is absorbed
    (server_tx,) = net.b.layer.server_transactions
    assert server_tx.state is State.CONFIRMED
    assert client_tx.state is State.COMPLETED
    net.run(60.0)
    assert len(net.a.layer) == len(net.b.layer) == 0


def test_invite_486_over_tcp_ends_both_transactions_at_once():
    net = network()
    uas_answering(net, (0.1, 486))
    client_tx = net.send_request(net.a, request("INVITE", transport="TCP"))
    net.run(0.5)
    assert [line for _, line in net.lines()] == [
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        "SIP/2.0 100 Trying",
        "SIP/2.0 486 Busy Here",
        "ACK sip:bob@biloxi.example.com SIP/2.0",
    ]
    # Timers D and I are zero over TCP.
    assert client_tx.state is State.TERMINATED
    assert len(net.a.layer) == len(net.b.layer) == 0


def test_lost_invites_are_retransmitted():
    net = network()
    uas_answering(net, (0.0, 180))
    net.drop = lambda direction, message, count: direction == "a->b" and count < 2
    net.send_request(net.a, request("INVITE"))
    net.run(5.0)
    assert net.lines("a->b") == [
        (0.0, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
        (0.5, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
        (1.5, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
    ]
    assert statuses(net.a) == [100, 180]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Completed" state, the server transaction MUST pass the final
##% response to the transport layer for retransmission whenever a
##% retransmission of the request is received.
def test_non_invite_with_lost_responses():
    net = network()

    def uas(net: Network, event) -> None:
        if isinstance(event, RequestReceived) and event.transaction is not None:
            tx = event.transaction
            net.send_response(net.b, tx, response(tx.request, 200))

    net.b.on_event = uas
    net.drop = lambda direction, message, count: direction == "b->a" and count < 2
    net.send_request(net.a, request("OPTIONS"))
    net.run(40.0)
    assert net.lines() == [
        (0.0, "OPTIONS sip:bob@biloxi.example.com SIP/2.0"),
        (0.01, "SIP/2.0 200 OK"),  # lost
        (0.5, "OPTIONS sip:bob@biloxi.example.com SIP/2.0"),
        (0.51, "SIP/2.0 200 OK"),  # lost: resent by the server transaction
        (1.5, "OPTIONS sip:bob@biloxi.example.com SIP/2.0"),
        (1.51, "SIP/2.0 200 OK"),
    ]
    assert statuses(net.a) == [200]
    assert methods(net.b) == ["OPTIONS"]  # retransmissions never reach the TU
    # Timer K ends the client at 1.52 + 5, Timer J the server at 0.01 + 32.
    ends_a = [round(t, 3) for t, e in net.a.events if isinstance(e, Terminated)]
    ends_b = [round(t, 3) for t, e in net.b.events if isinstance(e, Terminated)]
    assert (ends_a, ends_b) == ([6.52], [32.01])


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Once in the "Trying" state, any further request retransmissions are
##% discarded.
def test_non_invite_server_silent_until_timer_f():
    net = network()
    net.send_request(net.a, request("OPTIONS"))
    net.run(40.0)
    assert len(net.lines("a->b")) == 11  # the request and ten retransmissions
    assert net.lines("b->a") == []
    assert methods(net.b) == ["OPTIONS"]
    assert [e.timer for e in net.a.tu(Timeout)] == ["F"]


def test_duplicated_messages():
    net = network()

    def uas(net: Network, event) -> None:
        if isinstance(event, RequestReceived) and event.transaction is not None:
            tx = event.transaction
            net.send_response(net.b, tx, response(tx.request, 202))

    net.b.on_event = uas
    net.duplicate = lambda direction, message, count: True
    net.send_request(net.a, request("MESSAGE"))
    net.run(1.0)
    assert methods(net.b) == ["MESSAGE"]
    assert statuses(net.a) == [202]
    # The duplicate request was answered again from the "Completed" state.
    assert [line[:11] for _, line in net.lines("b->a")] == ["SIP/2.0 202"] * 2


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% The matching transaction is the one to be cancelled.
def test_cancel_matches_its_invite_server_transaction():
    net = network()
    invite = request("INVITE")
    cancelled = []

    def uas(net: Network, event) -> None:
        if isinstance(event, RequestReceived) and event.request.method == "CANCEL":
            target = net.b.layer.find_cancel_target(event.request)
            cancelled.append(target)
            net.send_response(net.b, event.transaction, response(event.request, 200))
            net.send_response(net.b, target, response(target.request, 487))
        elif isinstance(event, RequestReceived) and event.request.method == "INVITE":
            tx = event.transaction
            net.send_response(net.b, tx, response(tx.request, 180))

    net.b.on_event = uas
    invite_tx = net.send_request(net.a, invite)
    # The UAC core builds the CANCEL (§9.1): same branch, Request-URI, Call-ID,
    # From, To and CSeq number; it starts a client transaction of its own.
    cancel = request("CANCEL")
    net.call_at(1.0, lambda n: n.send_request(n.a, cancel))
    net.run(2.0)
    assert [line for _, line in net.lines()] == [
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "CANCEL sip:bob@biloxi.example.com SIP/2.0",
        "SIP/2.0 200 OK",
        "SIP/2.0 487 Request Terminated",
        "ACK sip:bob@biloxi.example.com SIP/2.0",
    ]
    (server_invite,) = [
        tx for tx in net.b.layer.server_transactions if tx.request.method == "INVITE"
    ]
    assert cancelled == [server_invite]
    assert server_invite.state is State.CONFIRMED
    assert invite_tx.state is State.COMPLETED
    responses = [
        (e.transaction.request.method, e.response.status) for e in net.a.tu(ResponseReceived)
    ]
    assert responses == [("INVITE", 100), ("INVITE", 180), ("CANCEL", 200), ("INVITE", 487)]


@pytest.mark.parametrize("seed", range(25))
def test_random_loss_never_leaves_state_behind(seed):
    # Each message is lost with probability 0.4: the TUs still see each request and
    # each final response at most once, and every transaction ends by its timers.
    rng = random.Random(seed)
    net = network()
    uas_answering(net, (0.05, 180), (0.1, 486))

    def uas(net: Network, event) -> None:
        if isinstance(event, RequestReceived) and event.request.method == "OPTIONS":
            tx = event.transaction
            net.send_response(net.b, tx, response(tx.request, 200))

    answer_invite = net.b.on_event

    def both(net: Network, event) -> None:
        answer_invite(net, event)
        uas(net, event)

    net.b.on_event = both
    net.drop = lambda direction, message, count: rng.random() < 0.4
    net.send_request(net.a, request("INVITE"))
    net.send_request(net.a, request("OPTIONS", branch=COOKIE + "opt"))
    net.run(200.0)
    assert len(net.a.layer) == len(net.b.layer) == 0
    assert methods(net.b).count("INVITE") <= 1 and methods(net.b).count("OPTIONS") <= 1
    finals = [s for s in statuses(net.a) if s >= 200]
    assert sorted(finals) in ([], [200], [486], [200, 486])
    timeouts = sorted(e.timer for e in net.a.tu(Timeout))
    # Each client transaction ends with its final response or its timeout, never both.
    assert len(finals) + len(timeouts) == 2
    assert set(timeouts) <= {"B", "F"}
