"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1, §8.5-§8.8), time driven by hand."""

from __future__ import annotations

import pytest

from rfc3261.tests.transaction_support import drive, kinds, request, response, sent
from rfc3261.transaction import RequestReceived, State, TransportFailure
from rfc3261.transaction_server import (
    INVITE_SERVER_TRANSITIONS,
    NON_INVITE_SERVER_TRANSITIONS,
    InviteServerTransaction,
    NonInviteServerTransaction,
)


def invite_server(transport="UDP", send_100=True):
    req = request("INVITE", transport=transport)
    tx = InviteServerTransaction(req, ("192.0.2.1", 5060), send_100=send_100)
    return tx, tx.start(0.0)


def non_invite_server(method="BYE", transport="UDP"):
    req = request(method, transport=transport, to_tag="a6c85cf")
    tx = NonInviteServerTransaction(req, ("192.0.2.1", 5060))
    return tx, tx.start(0.0)


# -- INVITE server transaction -----------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When a server transaction is constructed for a request, it enters the
##% "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The server transaction MUST generate a 100 (Trying) response unless it
##% knows that the TU will generate a provisional or final response within
##% 200 ms, in which case it MAY generate a 100 (Trying) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The request MUST be passed to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The 100 (Trying) response is constructed according to the procedures in
##% Section 8.2.6, except that the insertion of tags in the To header field
##% of the response (when none was present in the request) is downgraded from
##% MAY to SHOULD NOT.
def test_invite_server_passes_invite_up_and_sends_100():
    tx, effects = invite_server()
    assert tx.state is State.PROCEEDING
    assert kinds(effects) == ["tu INVITE", "send 100"]
    assert effects[0] == RequestReceived(tx, tx.request)
    trying = effects[1].message
    assert effects[1].destination == ("192.0.2.1", 5060)
    assert trying.to.tag is None
    assert trying.headers.get("Via") == tx.request.headers.get("Via")
    assert trying.cseq == tx.request.cseq
    assert tx.next_deadline() is None


def test_invite_server_without_100_when_tu_answers_at_once():
    tx, effects = invite_server(send_100=False)
    assert kinds(effects) == ["tu INVITE"]
    # A retransmission before any response: nothing to resend.
    assert tx.receive_request(tx.request, 0.5) == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% So long as the server transaction is in the "Proceeding" state, each of
##% these MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If a request retransmission is received while in the "Proceeding" state,
##% the most recent provisional response that was received from the TU MUST
##% be passed to the transport layer for retransmission.
def test_proceeding_sends_provisionals_and_answers_retransmissions_with_the_latest():
    tx, effects = invite_server()
    trying = sent(effects)[0]
    assert sent(tx.receive_request(tx.request, 0.5)) == [trying]
    ringing = response(tx.request, 180)
    assert sent(tx.send_response(ringing, 0.6)) == [ringing]
    progress = response(tx.request, 183)
    assert sent(tx.send_response(progress, 0.7)) == [progress]
    assert sent(tx.receive_request(tx.request, 1.5)) == [progress]
    assert tx.state is State.PROCEEDING
    assert tx.next_deadline() is None  # provisionals are not retransmitted


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the
##% server transaction, the server transaction MUST pass this response to the
##% transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% The server transaction MUST then transition to the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% If the SIP element's TU (Transaction User) issues a 2xx response for this
##% transaction while the state machine is in the "Proceeding" state, the
##% state machine MUST transition to the "Accepted" state and set Timer L to
##% 64*T1, where T1 is the round-trip time estimate defined in Section
##% 17.1.1.1 of [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% While in the "Accepted" state, any retransmissions of the INVITE received
##% will match this transaction state machine and will be absorbed by the
##% machine without changing its state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% The server transaction MUST NOT generate 2xx retransmissions on its own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any retransmission of the 2xx response passed from the TU to the
##% transaction while in the "Accepted" state MUST be passed to the transport
##% layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% While in the "Accepted" state, if the TU passes a 2xx response, the server
##% transaction MUST pass the response to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any ACKs received from the network while in the "Accepted" state MUST be
##% passed directly to the TU and not absorbed.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% When Timer L fires and the state machine is in the "Accepted" state, the
##% machine MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% If Timer L fires while the INVITE server transaction is in the "Accepted"
##% state, the transaction MUST transition to the "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the
##% server transaction, the server transaction MUST pass this response to the
##% transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% An element sending or receiving a 2xx to an INVITE transaction MUST NOT
##% destroy any matching INVITE transaction state.
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_2xx_enters_accepted(transport):
    tx, _ = invite_server(transport=transport)
    ok = response(tx.request, 200)
    assert sent(tx.send_response(ok, 1.0)) == [ok]
    assert tx.state is State.ACCEPTED
    assert tx.pending_timers() == {"L": 33.0}  # 64*T1 for every transport
    # INVITE retransmissions are absorbed: not passed up, not answered.
    assert tx.receive_request(tx.request, 1.5) == []
    # The TU retransmits the 2xx itself; the transaction passes it on.
    assert sent(tx.send_response(ok, 1.5)) == [ok]
    ack = request("ACK", branch="z9hG4bKnew-for-2xx", to_tag="a6c85cf")
    assert tx.receive_request(ack, 2.0) == [RequestReceived(tx, ack)]
    assert tx.receive_request(ack, 2.1) == [RequestReceived(tx, ack)]
    assert tx.state is State.ACCEPTED
    assert drive(tx, 100.0) == [(33.0, ["terminated"])]


def test_non_2xx_after_2xx_is_discarded():
    tx, _ = invite_server()
    tx.send_response(response(tx.request, 200), 1.0)
    assert tx.send_response(response(tx.request, 486), 1.1) == []
    assert tx.send_response(response(tx.request, 180), 1.1) == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% While in the "Proceeding" state, if the TU passes a response with status
##% code from 300 to 699 to the server transaction, the response MUST be
##% passed to the transport layer for transmission, and the state machine
##% MUST enter the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% For unreliable transports, timer G is set to fire in T1 seconds, and is
##% not set to fire for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When the "Completed" state is entered, timer H MUST be set to fire in
##% 64*T1 seconds for all transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If timer G fires, the response is passed to the transport layer once more
##% for retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% From then on, when timer G fires, the response is passed to the transport
##% again for transmission, and timer G is reset with a value that doubles,
##% unless that value exceeds T2, in which case it is reset with the value of
##% T2.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If timer H fires while in the "Completed" state, it implies that the ACK
##% was never received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% In this case, the server transaction MUST transition to the "Terminated"
##% state, and MUST indicate to the TU that a transaction failure has
##% occurred.
def test_failure_response_retransmitted_by_timer_g_until_timer_h():
    tx, _ = invite_server()
    busy = response(tx.request, 486)
    assert sent(tx.send_response(busy, 0.0)) == [busy]
    assert tx.state is State.COMPLETED
    assert tx.pending_timers() == {"G": 0.5, "H": 32.0}
    log = drive(tx, 100.0)
    retransmissions = [t for t, k in log if k == ["send 486"]]
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-1] == (32.0, ["timeout H", "terminated"])


def test_failure_over_reliable_transport_is_not_retransmitted():
    tx, _ = invite_server(transport="TCP")
    tx.send_response(response(tx.request, 603), 0.0)
    assert tx.pending_timers() == {"H": 32.0}
    assert drive(tx, 100.0) == [(32.0, ["timeout H", "terminated"])]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% Furthermore, while in the "Completed" state, if a request retransmission
##% is received, the server SHOULD pass the response to the transport for
##% retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If an ACK is received while the server transaction is in the "Completed"
##% state, the server transaction MUST transition to the "Confirmed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% As Timer G is ignored in this state, any retransmissions of the response
##% will cease.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When this state is entered, timer I is set to fire in T4 seconds for
##% unreliable transports, and zero seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% Once timer I fires, the server MUST transition to the "Terminated" state.
def test_ack_confirms_and_timer_i_terminates():
    tx, _ = invite_server()
    busy = response(tx.request, 486)
    tx.send_response(busy, 0.0)
    assert sent(tx.receive_request(tx.request, 0.2)) == [busy]
    assert kinds(tx.handle_timer(0.5)) == ["send 486"]
    ack = request("ACK", to_tag="a6c85cf")  # same branch as the INVITE
    assert tx.receive_request(ack, 1.0) == []  # absorbed, not passed up
    assert tx.state is State.CONFIRMED
    assert tx.pending_timers() == {"I": 6.0}
    # More ACKs and INVITE retransmissions are absorbed in "Confirmed".
    assert tx.receive_request(ack, 2.0) == []
    assert tx.receive_request(tx.request, 2.0) == []
    assert drive(tx, 100.0) == [(6.0, ["terminated"])]


def test_ack_over_reliable_transport_terminates_at_once():
    tx, _ = invite_server(transport="TCP")
    tx.send_response(response(tx.request, 486), 0.0)
    effects = tx.receive_request(request("ACK", transport="TCP", to_tag="a6c85cf"), 0.1)
    assert kinds(effects) == ["terminated"]


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% A server transaction MUST NOT discard transaction state based only on
##% encountering a non-recoverable transport error when sending a response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Instead, the associated INVITE server transaction state machine MUST
##% remain in its current state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.8
##= type=test
##% If those should all fail, based on the definition of failure in [4], the
##% server transaction SHOULD inform the TU that a failure has occurred, and
##% MUST remain in the current state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% An element encountering an unrecoverable transport error when trying to
##% send a response to an INVITE request MUST NOT immediately destroy the
##% associated INVITE server transaction state.
@pytest.mark.parametrize(
    ("status", "on_retransmission"), [(None, ["send 100"]), (200, []), (486, ["send 486"])]
)
def test_transport_error_informs_tu_and_keeps_state(status, on_retransmission):
    tx, _ = invite_server()
    if status is not None:
        tx.send_response(response(tx.request, status), 0.0)
    state, timers = tx.state, tx.pending_timers()
    assert tx.transport_error(0.1) == [TransportFailure(tx)]
    assert tx.state is state
    assert tx.pending_timers() == timers
    # Retransmissions of the INVITE are still handled by the same machine.
    assert kinds(tx.receive_request(tx.request, 0.2)) == on_retransmission


def test_invite_server_table_covers_figure_7():
    assert len(INVITE_SERVER_TRANSITIONS) == 15
    assert {s for s, _ in INVITE_SERVER_TRANSITIONS} == {
        State.PROCEEDING,
        State.COMPLETED,
        State.CONFIRMED,
        State.ACCEPTED,
    }


# -- non-INVITE server transaction --------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The state machine is initialized in the "Trying" state and is passed a
##% request other than INVITE or ACK when initialized.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% This request is passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Once in the "Trying" state, any further request retransmissions are
##% discarded.
def test_non_invite_server_starts_in_trying():
    tx, effects = non_invite_server()
    assert tx.state is State.TRYING
    assert effects == [RequestReceived(tx, tx.request)]
    assert tx.receive_request(tx.request, 0.5) == []
    assert tx.next_deadline() is None


@pytest.mark.parametrize("method", ["INVITE", "ACK"])
def test_non_invite_server_refuses_invite_and_ack(method):
    with pytest.raises(ValueError, match=r"§17\.2\.2\)"):
        NonInviteServerTransaction(request(method), "src")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Trying" state, if the TU passes a provisional response to
##% the server transaction, the server transaction MUST enter the
##% "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The response MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any further provisional responses that are received from the TU while in
##% the "Proceeding" state MUST be passed to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If a retransmission of the request is received while in the "Proceeding"
##% state, the most recently sent provisional response MUST be passed to the
##% transport layer for retransmission.
def test_non_invite_proceeding():
    tx, _ = non_invite_server()
    trying = response(tx.request, 100)
    assert sent(tx.send_response(trying, 0.1)) == [trying]
    assert tx.state is State.PROCEEDING
    other = response(tx.request, 199)
    assert sent(tx.send_response(other, 0.2)) == [other]
    assert sent(tx.receive_request(tx.request, 0.5)) == [other]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If the TU passes a final response (status codes 200-699) to the server
##% while in the "Proceeding" state, the transaction MUST enter the
##% "Completed" state, and the response MUST be passed to the transport layer
##% for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% When the server transaction enters the "Completed" state, it MUST set
##% Timer J to fire in 64*T1 seconds for unreliable transports, and zero
##% seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Completed" state, the server transaction MUST pass the final
##% response to the transport layer for retransmission whenever a
##% retransmission of the request is received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any other final responses passed by the TU to the server transaction MUST
##% be discarded while in the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The server transaction remains in this state until Timer J fires, at which
##% point it MUST transition to the "Terminated" state.
@pytest.mark.parametrize("provisional_first", [False, True])
@pytest.mark.parametrize("status", [200, 481, 500])
def test_non_invite_completed_and_timer_j(status, provisional_first):
    tx, _ = non_invite_server()
    if provisional_first:
        tx.send_response(response(tx.request, 100), 0.1)
    final = response(tx.request, status)
    assert sent(tx.send_response(final, 1.0)) == [final]
    assert tx.state is State.COMPLETED
    assert tx.pending_timers() == {"J": 33.0}
    assert sent(tx.receive_request(tx.request, 2.0)) == [final]
    assert sent(tx.receive_request(tx.request, 3.0)) == [final]
    assert tx.send_response(response(tx.request, 503), 4.0) == []
    assert tx.send_response(response(tx.request, 180), 4.0) == []
    assert sent(tx.receive_request(tx.request, 5.0)) == [final]
    assert drive(tx, 100.0) == [(33.0, ["terminated"])]


def test_non_invite_completed_over_reliable_transport_terminates_at_once():
    tx, _ = non_invite_server(transport="TCP")
    assert kinds(tx.send_response(response(tx.request, 200), 1.0)) == [
        "send 200",
        "terminated",
    ]


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.8
##= type=test
##% If those should all fail, based on the definition of failure in [4], the
##% server transaction SHOULD inform the TU that a failure has occurred, and
##% MUST remain in the current state.
def test_non_invite_transport_error_keeps_state():
    tx, _ = non_invite_server()
    tx.send_response(response(tx.request, 200), 1.0)
    assert tx.transport_error(1.1) == [TransportFailure(tx)]
    assert tx.state is State.COMPLETED
    assert tx.pending_timers() == {"J": 33.0}


def test_non_invite_server_table_covers_figure_8():
    assert len(NON_INVITE_SERVER_TRANSITIONS) == 10
