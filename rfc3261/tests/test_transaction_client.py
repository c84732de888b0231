"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2, §8.4), time driven by hand."""

from __future__ import annotations

import pytest

from rfc3261.message import Request
from rfc3261.tests.transaction_support import drive, kinds, request, response, sent
from rfc3261.timers import TimerValues
from rfc3261.transaction import (
    Event,
    ResponseReceived,
    State,
    Terminated,
    Timeout,
    TransportFailure,
)
from rfc3261.transaction_client import (
    INVITE_CLIENT_TRANSITIONS,
    NON_INVITE_CLIENT_TRANSITIONS,
    InviteClientTransaction,
    NonInviteClientTransaction,
    build_ack,
)


def invite_client(transport="UDP", timers=None, **kw):
    req = request("INVITE", transport=transport, **kw)
    options = {"timers": timers} if timers else {}
    tx = InviteClientTransaction(req, ("192.0.2.4", 5060, transport), **options)
    return tx, tx.start(0.0)


def non_invite_client(method="OPTIONS", transport="UDP", timers=None):
    req = request(method, transport=transport)
    tx = NonInviteClientTransaction(req, "dest", **({"timers": timers} if timers else {}))
    return tx, tx.start(0.0)


# -- INVITE client transaction --------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The initial state, "calling", MUST be entered when the TU initiates a new
##% client transaction with an INVITE request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the request to the transport layer for
##% transmission (see Section 18).
def test_invite_enters_calling_and_sends_the_request():
    tx, effects = invite_client()
    assert tx.state is State.CALLING
    assert kinds(effects) == ["send INVITE"]
    assert effects[0].message is tx.request
    assert effects[0].destination == ("192.0.2.4", 5060, "UDP")
    assert tx.pending_timers() == {"A": 0.5, "B": 32.0}


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires, the client transaction MUST retransmit the request by
##% passing it to the transport layer, and MUST reset the timer with a value
##% of 2*T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires 2*T1 seconds later, the request MUST be retransmitted
##% again (assuming the client transaction is still in this state).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If the client transaction is still in the "Calling" state when timer B
##% fires, the client transaction SHOULD inform the TU that a timeout has
##% occurred.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST NOT generate an ACK.
def test_invite_over_udp_retransmits_at_doubling_intervals_until_timer_b():
    tx, _ = invite_client()
    log = drive(tx, 100.0)
    assert log == [
        (0.5, ["send INVITE"]),
        (1.5, ["send INVITE"]),
        (3.5, ["send INVITE"]),
        (7.5, ["send INVITE"]),
        (15.5, ["send INVITE"]),
        (31.5, ["send INVITE"]),
        (32.0, ["timeout B", "terminated"]),
    ]
    assert tx.state is State.TERMINATED
    assert tx.next_deadline() is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Elements MAY (though it is NOT RECOMMENDED) use smaller values of T1 within
##% closed, private networks that do not permit general Internet connection.
def test_invite_retransmission_schedule_follows_t1():
    tx, _ = invite_client(timers=TimerValues(T1=0.1, T2=4.0))
    times = [t for t, k in drive(tx, 100.0) if k == ["send INVITE"]]
    assert times == pytest.approx([0.1, 0.3, 0.7, 1.5, 3.1, 6.3])
    assert tx.state is State.TERMINATED  # Timer B at 64*T1 = 6.4 s


def test_invite_retransmits_the_very_same_message():
    tx, first = invite_client()
    again = tx.handle_timer(0.5)
    assert sent(again) == [tx.request] == sent(first)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If a reliable transport is being used, the client transaction SHOULD NOT
##% start timer A (Timer A controls request retransmissions).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% For any transport, the client transaction MUST start timer B with a value
##% of 64*T1 seconds (Timer B controls transaction timeouts).
@pytest.mark.parametrize("transport", ["TCP", "TLS", "SCTP"])
def test_invite_over_reliable_transport_does_not_retransmit(transport):
    tx, _ = invite_client(transport=transport)
    assert tx.reliable
    assert drive(tx, 100.0) == [(32.0, ["timeout B", "terminated"])]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If the client transaction receives a provisional response while in the
##% "Calling" state, it transitions to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% In the "Proceeding" state, the client transaction SHOULD NOT retransmit
##% the request any longer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Furthermore, the provisional response MUST be passed to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Any further provisional responses MUST be passed up to the TU while in the
##% "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% These retransmissions SHOULD only be done while the client transaction is
##% in the "calling" state.
def test_provisional_response_stops_retransmissions():
    tx, _ = invite_client()
    assert kinds(tx.handle_timer(0.5)) == ["send INVITE"]
    trying = response(tx.request, 100, to_tag=None)
    effects = tx.receive_response(trying, 0.6)
    assert tx.state is State.PROCEEDING
    assert effects == [ResponseReceived(tx, trying)]
    assert kinds(tx.receive_response(response(tx.request, 180), 2.0)) == ["tu 180"]
    assert kinds(tx.receive_response(response(tx.request, 183), 3.0)) == ["tu 183"]
    # Neither Timer A nor Timer B fires in "Proceeding": the TU waits (or CANCELs).
    assert tx.next_deadline() is None
    assert drive(tx, 1000.0) == []
    assert tx.state is State.PROCEEDING


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a
##% response with status code from 300-699 MUST cause the client transaction
##% to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST pass the received response up to the TU, and
##% the client transaction MUST generate an ACK request, even if the transport
##% is reliable (guidelines for constructing the ACK from the response are
##% given in Section 17.1.1.3), and then pass the ACK to the transport layer
##% for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The ACK MUST be sent to the same address, port, and transport to which
##% the original request was sent.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% If Timer D fires while the client transaction is in the "Completed"
##% state, the client transaction MUST move to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a
##% response with status code from 300-699 MUST cause the client transaction
##% to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the received response up to the TU, and
##% the client transaction MUST generate an ACK request, even if the transport
##% is reliable (guidelines for constructing the ACK from the response are
##% given in Section 17.1.1.3) and then pass the ACK to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The ACK MUST be sent to the same address, port, and transport to which the
##% original request was sent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction SHOULD start timer D when it enters the "Completed"
##% state, with a value of at least 32 seconds for unreliable transports, and
##% a value of zero seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If timer D fires while the client transaction is in the "Completed" state,
##% the client transaction MUST move to the terminated state.
@pytest.mark.parametrize("provisional_first", [False, True])
@pytest.mark.parametrize("status", [300, 404, 486, 503, 699])
def test_failure_response_is_acked_and_timer_d_terminates(status, provisional_first):
    tx, _ = invite_client()
    if provisional_first:
        tx.receive_response(response(tx.request, 180), 0.2)
    busy = response(tx.request, status)
    effects = tx.receive_response(busy, 0.25)
    assert tx.state is State.COMPLETED
    assert kinds(effects) == [f"tu {status}", "send ACK"]
    assert effects[0].response is busy
    assert effects[1].message is tx.ack
    assert effects[1].destination == ("192.0.2.4", 5060, "UDP")
    assert tx.pending_timers() == {"D": 32.25}
    assert drive(tx, 100.0) == [(32.25, ["terminated"])]


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any retransmissions of a response with status code 300-699 that are
##% received while in the "Completed" state MUST cause the ACK to be
##% re-passed to the transport layer for retransmission, but the newly
##% received response MUST NOT be passed up to the TU.
def test_retransmitted_failure_response_is_re_acked_not_passed_up():
    tx, _ = invite_client()
    busy = response(tx.request, 486)
    tx.receive_response(busy, 1.0)
    ack = tx.ack
    for when in (1.5, 2.5, 4.5):
        effects = tx.receive_response(busy, when)
        assert kinds(effects) == ["send ACK"]
        assert effects[0].message is ack
    # Other responses in "Completed" are absorbed.
    assert tx.receive_response(response(tx.request, 180), 5.0) == []
    assert tx.receive_response(response(tx.request, 200), 5.0) == []
    assert tx.pending_timers() == {"D": 33.0}


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST start Timer D when it enters the "Completed"
##% state for any reason, with a value of at least 32 seconds for unreliable
##% transports, and a value of zero seconds for reliable transports.
def test_failure_over_reliable_transport_terminates_at_once():
    tx, _ = invite_client(transport="TCP")
    effects = tx.receive_response(response(tx.request, 486), 1.0)
    # ACK even over a reliable transport, then Timer D of zero ends the transaction.
    assert kinds(effects) == ["tu 486", "send ACK", "terminated"]
    assert tx.state is State.TERMINATED


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% When a 2xx response is received while in either the "Calling" or
##% "Proceeding" states, the client transaction MUST transition to the
##% "Accepted" state, and Timer M MUST be started with a value of 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The 2xx response MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST NOT generate an ACK to the 2xx response -- its
##% handling is delegated to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any 2xx responses that match this client transaction and that are
##% received while in the "Accepted" state MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% If Timer M fires while the client transaction is in the "Accepted" state,
##% the client transaction MUST move to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% A 2xx response received while in the "Accepted" state MUST be passed to
##% the TU and the machine remains in the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% If a 2xx response is received while the client INVITE state machine is in
##% the "Calling" or "Proceeding" states, it MUST transition to the "Accepted"
##% state, pass the 2xx response to the TU, and set Timer M to 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% The client transaction MUST NOT generate an ACK to any 2xx response on its
##% own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% When Timer M fires and the state machine is in the "Accepted" state, the
##% machine MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST NOT generate an ACK to the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% An element sending or receiving a 2xx to an INVITE transaction MUST NOT
##% destroy any matching INVITE transaction state.
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
@pytest.mark.parametrize("provisional_first", [False, True])
def test_2xx_enters_accepted_and_every_2xx_reaches_the_tu(transport, provisional_first):
    tx, _ = invite_client(transport=transport)
    if provisional_first:
        tx.receive_response(response(tx.request, 180), 0.2)
    ok = response(tx.request, 200)
    effects = tx.receive_response(ok, 0.25)
    assert tx.state is State.ACCEPTED
    assert effects == [ResponseReceived(tx, ok)]  # no ACK, no retransmission
    assert tx.pending_timers() == {"M": 32.25}
    # A retransmission, and a 2xx from another branch of a fork (other To tag).
    forked = response(tx.request, 200, to_tag="other-branch")
    assert kinds(tx.receive_response(ok, 2.5)) == ["tu 200"]
    assert tx.receive_response(forked, 3.0) == [ResponseReceived(tx, forked)]
    assert tx.receive_response(response(tx.request, 486), 3.0) == []
    assert tx.state is State.ACCEPTED
    assert drive(tx, 100.0) == [(32.25, ["terminated"])]
    assert tx.ack is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.4
##= type=test
##% The client transaction SHOULD inform the TU that a transport failure has
##% occurred, and the client transaction SHOULD transition directly to the
##% "Terminated" state.
def test_transport_error_in_calling_and_completed():
    tx, _ = invite_client()
    effects = tx.transport_error(0.1)
    assert kinds(effects) == ["transport error", "terminated"]
    assert effects == [TransportFailure(tx), Terminated(tx)]
    tx, _ = invite_client()
    tx.receive_response(response(tx.request, 404), 1.0)
    assert kinds(tx.transport_error(1.0)) == ["transport error", "terminated"]


def test_transport_error_is_absorbed_where_nothing_is_sent():
    tx, _ = invite_client()
    tx.receive_response(response(tx.request, 180), 0.1)
    assert tx.transport_error(0.2) == []
    tx.receive_response(response(tx.request, 200), 0.3)
    assert tx.transport_error(0.4) == []
    assert tx.state is State.ACCEPTED


def test_invite_client_table_covers_figure_5():
    # Every arrow of Figure 5 (RFC 6026) is one entry: 14 transitions.
    states = {state for state, _ in INVITE_CLIENT_TRANSITIONS}
    assert states == {State.CALLING, State.PROCEEDING, State.COMPLETED, State.ACCEPTED}
    assert len(INVITE_CLIENT_TRANSITIONS) == 14
    assert INVITE_CLIENT_TRANSITIONS[State.ACCEPTED, Event.TIMER_M][0] is State.TERMINATED


# -- §17.1.1.3 the ACK ---------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK request constructed by the client transaction MUST contain values
##% for the Call-ID, From, and Request-URI that are equal to the values of
##% those header fields in the request passed to the transport by the client
##% transaction (call this the "original request").
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The To header field in the ACK MUST equal the To header field in the
##% response being acknowledged, and therefore will usually differ from the To
##% header field in the original request by the addition of the tag parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK MUST contain a single Via header field, and this MUST be equal to
##% the top Via header field of the original request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The CSeq header field in the ACK MUST contain the same value for the
##% sequence number as was present in the original request, but the method
##% parameter MUST be equal to "ACK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% If the INVITE request whose response is being acknowledged had Route
##% header fields, those header fields MUST appear in the ACK.
def test_ack_construction():
    invite = request(
        "INVITE",
        uri="sip:bob@192.0.2.4;transport=udp",
        cseq=986759,
        extra=(
            "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnashds8",
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            "Route: <sip:p3.example.com;lr>",
            "Contact: <sip:alice@pc33.atlanta.example.com>",
            "Subject: lunch",
        ),
    )
    busy = response(invite, 486, to_tag="99sa0xk")
    ack = build_ack(invite, busy)
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert str(ack.uri) == "sip:bob@192.0.2.4;transport=udp"
    assert ack.call_id == invite.call_id
    assert ack.headers.get("From") == invite.headers.get("From")
    assert ack.headers.get("To") == busy.headers.get("To")
    assert ack.to.tag == "99sa0xk"
    assert ack.headers.get_all("Via") == [invite.headers.get_all("Via")[0]]
    assert (ack.cseq.number, ack.cseq.method) == (986759, "ACK")
    assert [str(r.uri) for r in ack.route] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
        "sip:p3.example.com;lr",
    ]
    assert ack.max_forwards == 70
    assert ack.body == b""
    assert "Contact" not in ack.headers and "Subject" not in ack.headers


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% Therefore, placement of bodies in ACK for non-2xx is NOT RECOMMENDED, but if
##% done, the body types are restricted to any that appeared in the INVITE,
##% assuming that the response to the INVITE was not 415.
def test_ack_has_no_body_and_round_trips():
    invite = request("INVITE", max_forwards=None)
    ack = build_ack(invite, response(invite, 415))
    assert ack.body == b"" and ack.content_length == 0
    assert ack.max_forwards == 70  # the INVITE had none: the §8.1.1.6 default
    from rfc3261.message import parse

    assert parse(bytes(ack)) == ack


# -- non-INVITE client transaction -----------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The "Trying" state is entered when the TU initiates a new client
##% transaction with a request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% When entering this state, the client transaction SHOULD set timer F to
##% fire in 64*T1 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The request MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer F fires while the client transaction is still in the "Trying"
##% state, the client transaction SHOULD inform the TU about the timeout, and
##% then it SHOULD enter the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% This process continues so that retransmissions occur with an
##% exponentially increasing interval that caps at T2.
def test_non_invite_over_udp_retransmits_up_to_t2_until_timer_f():
    tx, effects = non_invite_client()
    assert tx.state is State.TRYING
    assert kinds(effects) == ["send OPTIONS"]
    assert tx.pending_timers() == {"E": 0.5, "F": 32.0}
    log = drive(tx, 100.0)
    retransmissions = [t for t, k in log if k == ["send OPTIONS"]]
    # 500 ms, 1 s, 2 s, then every T2 = 4 s.
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-1] == (32.0, ["timeout F", "terminated"])
    assert isinstance(tx, NonInviteClientTransaction) and tx.state is State.TERMINATED


def test_non_invite_schedule_with_other_t1_t2():
    tx, _ = non_invite_client(timers=TimerValues(T1=0.25, T2=1.0))
    log = drive(tx, 100.0)
    retransmissions = [t for t, k in log if k == ["send OPTIONS"]]
    assert retransmissions[:5] == [0.25, 0.75, 1.75, 2.75, 3.75]
    assert retransmissions[-1] == 15.75
    assert log[-1] == (16.0, ["timeout F", "terminated"])


def test_non_invite_over_reliable_transport_does_not_retransmit():
    tx, _ = non_invite_client(transport="TCP")
    assert drive(tx, 100.0) == [(32.0, ["timeout F", "terminated"])]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a provisional response is received while in the "Trying" state, the
##% response MUST be passed to the TU, and then the client transaction SHOULD
##% move to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer E fires while in the "Proceeding" state, the request MUST be
##% passed to the transport layer for retransmission, and Timer E MUST be
##% reset with a value of T2 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If timer F fires while in the "Proceeding" state, the TU MUST be informed
##% of a timeout, and the client transaction MUST transition to the
##% terminated state.
def test_non_invite_proceeding_retransmits_every_t2():
    tx, _ = non_invite_client()
    tx.handle_timer(0.5)  # E: next at 1.5
    effects = tx.receive_response(response(tx.request, 100, to_tag=None), 0.7)
    assert kinds(effects) == ["tu 100"] and tx.state is State.PROCEEDING
    log = drive(tx, 100.0)
    retransmissions = [t for t, k in log if k == ["send OPTIONS"]]
    assert retransmissions == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert log[-1] == (32.0, ["timeout F", "terminated"])


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the
##% "Trying" state, the response MUST be passed to the TU, and the client
##% transaction MUST transition to the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the
##% "Proceeding" state, the response MUST be passed to the TU, and the client
##% transaction MUST transition to the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% Once the client transaction enters the "Completed" state, it MUST set
##% Timer K to fire in T4 seconds for unreliable transports, and zero seconds
##% for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer K fires while in this state, the client transaction MUST
##% transition to the "Terminated" state.
@pytest.mark.parametrize("status", [200, 202, 404, 503, 600])
@pytest.mark.parametrize("provisional_first", [False, True])
def test_non_invite_final_response_completes_and_timer_k_terminates(status, provisional_first):
    tx, _ = non_invite_client()
    if provisional_first:
        tx.receive_response(response(tx.request, 100, to_tag=None), 0.1)
    final = response(tx.request, status)
    effects = tx.receive_response(final, 0.25)
    assert effects == [ResponseReceived(tx, final)]
    assert tx.state is State.COMPLETED
    assert tx.pending_timers() == {"K": 5.25}
    # Retransmissions of the final response (and late provisionals) are absorbed.
    assert tx.receive_response(final, 2.0) == []
    assert tx.receive_response(response(tx.request, 180), 2.0) == []
    assert drive(tx, 100.0) == [(5.25, ["terminated"])]


def test_non_invite_final_over_reliable_transport_terminates_at_once():
    tx, _ = non_invite_client(method="REGISTER", transport="TLS")
    effects = tx.receive_response(response(tx.request, 200), 1.0)
    assert kinds(effects) == ["tu 200", "terminated"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.4
##= type=test
##% The client transaction SHOULD inform the TU that a transport failure has
##% occurred, and the client transaction SHOULD transition directly to the
##% "Terminated" state.
@pytest.mark.parametrize("provisional_first", [False, True])
def test_non_invite_transport_error(provisional_first):
    tx, _ = non_invite_client()
    if provisional_first:
        tx.receive_response(response(tx.request, 100, to_tag=None), 0.1)
    assert kinds(tx.transport_error(0.2)) == ["transport error", "terminated"]
    assert tx.next_deadline() is None


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
##= type=test
##% There is no client transaction for ACK.
def test_no_client_transaction_for_ack():
    with pytest.raises(ValueError, match=r"§17\.1\)"):
        NonInviteClientTransaction(request("ACK"), "dest")


def test_timeout_names_the_timer():
    tx, _ = non_invite_client()
    effects = tx.handle_timer(32.0)
    timeouts = [e for e in effects if isinstance(e, Timeout)]
    assert timeouts == [Timeout(tx, "F")]


def test_late_handle_timer_fires_timers_in_order():
    # Called once, long after: Timer A fires (retransmission) before Timer B ends it.
    tx, _ = invite_client()
    assert kinds(tx.handle_timer(40.0)) == ["send INVITE", "timeout B", "terminated"]


def test_overdue_timers_fire_before_a_late_event():
    tx, _ = invite_client()
    # The caller never called handle_timer(); a 180 arrives after Timer B was due.
    effects = tx.receive_response(response(tx.request, 180), 40.0)
    assert kinds(effects) == ["send INVITE", "timeout B", "terminated"]


def test_non_invite_client_table_covers_figure_6():
    assert len(NON_INVITE_CLIENT_TRANSITIONS) == 11
    assert {s for s, _ in NON_INVITE_CLIENT_TRANSITIONS} == {
        State.TRYING,
        State.PROCEEDING,
        State.COMPLETED,
    }
