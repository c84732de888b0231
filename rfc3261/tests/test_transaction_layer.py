"""The transaction layer: matching (§17.1.3, §17.2.3, §9.2), dispatch, the shared clock."""

from __future__ import annotations

import pytest

from rfc3261.tests.transaction_support import COOKIE, kinds, request, response, sent
from rfc3261.timers import TimerValues
from rfc3261.transaction import RequestReceived, ResponseReceived, State
from rfc3261.transaction_client import InviteClientTransaction, NonInviteClientTransaction
from rfc3261.transaction_layer import TransactionLayer, client_key, server_key
from rfc3261.transaction_server import InviteServerTransaction, NonInviteServerTransaction

# -- §17.1.3 matching responses to client transactions --------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##= type=test
##% If the response has the same value of the branch parameter in the top Via
##% header field as the branch parameter in the top Via header field of the
##% request that created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##= type=test
##% If the method parameter in the CSeq header field matches the method of the
##% request that created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3
##= type=test
##% The method is needed since a CANCEL request constitutes a different
##% transaction, but shares the same value of the branch parameter.
def test_response_matches_by_branch_and_cseq_method():
    layer = TransactionLayer()
    invite = request("INVITE")
    cancel = request("CANCEL")  # same branch, as §9.1 requires
    invite_tx, _ = layer.send_request(invite, "dest", 0.0)
    cancel_tx, _ = layer.send_request(cancel, "dest", 0.1)
    assert isinstance(invite_tx, InviteClientTransaction)
    assert isinstance(cancel_tx, NonInviteClientTransaction)
    assert layer.match_response(response(invite, 180)) is invite_tx
    assert layer.match_response(response(cancel, 200)) is cancel_tx
    assert layer.match_response(response(request("INVITE", branch=COOKIE + "other"), 180)) is None
    # Branch values compare case-insensitively (§7.3.1).
    upper = response(request("INVITE", branch=(COOKIE + "776asdhds").upper()), 180)
    assert layer.match_response(upper) is invite_tx


def test_response_to_ack_or_unknown_method_matches_nothing():
    layer = TransactionLayer()
    layer.send_request(request("INVITE"), "dest", 0.0)
    assert layer.match_response(response(request("ACK"), 200)) is None
    assert layer.match_response(response(request("OPTIONS"), 200)) is None


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% Otherwise, any element other than a stateless proxy MUST silently discard
##% the response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% Any response received that does not match an existing client transaction
##% state machine is simply dropped.
def test_stray_responses_are_dropped():
    layer = TransactionLayer()
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, "dest", 0.0)
    ok = response(invite, 200)
    assert layer.receive_response(ok, 0.25) == [ResponseReceived(tx, ok)]
    stray = response(request("INVITE", branch=COOKIE + "elsewhere"), 200)
    assert layer.receive_response(stray, 1.0) == []
    assert layer.stray_responses == 1


def test_branch_must_be_present_and_unique():
    layer = TransactionLayer()
    with pytest.raises(ValueError, match="missing branch"):
        layer.send_request(request("OPTIONS", branch=None), "dest", 0.0)
    layer.send_request(request("OPTIONS"), "dest", 0.0)
    with pytest.raises(ValueError, match="unique"):
        layer.send_request(request("OPTIONS"), "dest", 0.0)


def test_client_key():
    assert client_key("z9hG4bKAbC", "INVITE") == ("z9hg4bkabc", "INVITE")
    assert client_key(None, "INVITE") is None


# -- §17.2.3 matching requests to server transactions ---------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% the branch parameter in the request is equal to the one in the top Via
##% header field of the request that created the transaction, and
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% the sent-by value in the top Via of the request is equal to the one in the
##% request that created the transaction, and
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% the method of the request matches the one that created the transaction,
##% except for ACK, where the method of the request that created the
##% transaction is INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% This matching rule applies to both INVITE and non-INVITE transactions
##% alike.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% A request is a retransmission if it matches the same server transaction
##% based on the rules of Section 17.2.3.
def test_request_matches_by_branch_sent_by_and_method():
    layer = TransactionLayer()
    invite = request("INVITE")
    layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    assert isinstance(tx, InviteServerTransaction)
    # A retransmission: same branch, sent-by, method (other fields do not matter).
    assert layer.match_request(request("INVITE", cseq=1, call_id="x")) is tx
    assert layer.match_request(request("ACK", to_tag="a6c85cf")) is tx
    # Same branch from another client (sent-by differs), or another method.
    assert layer.match_request(request("INVITE", sent_by="192.0.2.9")) is None
    assert layer.match_request(request("INVITE", sent_by="pc33.atlanta.example.com:5070")) is None
    assert layer.match_request(request("CANCEL")) is None
    assert layer.match_request(request("INVITE", branch=COOKIE + "other")) is None
    # sent-by hosts compare case-insensitively.
    assert layer.match_request(request("INVITE", sent_by="PC33.Atlanta.Example.COM")) is tx


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% A request is a retransmission if it matches the same server transaction,
##% using the rules specified in Section 17.2.3.
def test_non_invite_request_matching():
    layer = TransactionLayer()
    bye = request("BYE", to_tag="a6c85cf")
    effects = layer.receive_request(bye, "src", 0.0)
    (tx,) = layer.server_transactions
    assert isinstance(tx, NonInviteServerTransaction)
    assert effects == [RequestReceived(tx, bye)]
    assert layer.match_request(request("BYE", to_tag="a6c85cf")) is tx
    assert layer.receive_request(request("BYE", to_tag="a6c85cf"), "src", 0.5) == []
    assert len(layer) == 1


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.10
##= type=test
##% If a matching server transaction is found, the request is passed to that
##% transaction for processing.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.10
##= type=test
##% If no match is found, the request is passed to the core, which may decide
##% to construct a new server transaction for that request.
def test_receive_request_creates_or_dispatches():
    layer = TransactionLayer()
    invite = request("INVITE")
    first = layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    assert kinds(first) == ["tu INVITE", "send 100"]
    assert first[1].destination == "src"
    again = layer.receive_request(request("INVITE"), "src", 0.2)
    assert kinds(again) == ["send 100"]
    assert layer.server_transactions == [tx]


def test_send_100_can_be_disabled_for_the_layer():
    layer = TransactionLayer(send_100=False)
    assert kinds(layer.receive_request(request("INVITE"), "src", 0.0)) == ["tu INVITE"]


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any ACKs received from the network while in the "Accepted" state MUST be
##% passed directly to the TU and not absorbed.
def test_ack_for_2xx_reaches_the_tu():
    layer = TransactionLayer()
    invite = request("INVITE")
    layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    layer.send_response(tx, response(invite, 200), 0.1)
    assert tx.state is State.ACCEPTED
    # The ACK for a 2xx is a new transaction of its own: a new branch; it matches
    # nothing and goes to the TU.
    ack = request("ACK", branch=COOKIE + "ack-for-2xx", to_tag="a6c85cf")
    assert layer.receive_request(ack, "src", 0.2) == [RequestReceived(None, ack)]
    assert layer.server_transactions == [tx]


# -- §17.2.3 RFC 2543 fallback ---------------------------------------------------------

OLD = "0x1a2b"  # a branch without the magic cookie


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% If the branch parameter in the top Via header field is not present, or
##% does not contain the magic cookie, the following procedures are used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% The INVITE request matches a transaction if the Request-URI, To tag, From
##% tag, Call-ID, CSeq, and top Via header field match those of the INVITE
##% request which created the transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% Matching is done based on the matching rules defined for each of those
##% header fields.
@pytest.mark.parametrize("branch", [None, OLD])
def test_rfc2543_invite_matching(branch):
    layer = TransactionLayer()
    layer.receive_request(request("INVITE", branch=branch), "src", 0.0)
    (tx,) = layer.server_transactions
    assert layer.match_request(request("INVITE", branch=branch)) is tx
    # Equal by their own rules: URI host case, Via sent-by host case.
    assert (
        layer.match_request(request("INVITE", branch=branch, uri="sip:bob@BILOXI.example.com"))
        is tx
    )
    assert (
        layer.match_request(request("INVITE", branch=branch, sent_by="PC33.atlanta.example.com"))
        is tx
    )
    different = [
        {"uri": "sip:carol@biloxi.example.com"},
        {"to_tag": "xyz"},
        {"from_tag": "other"},
        {"call_id": "another-call"},
        {"cseq": 314160},
        {"sent_by": "192.0.2.9"},
        {"transport": "TCP"},
    ]
    for change in different:
        assert layer.match_request(request("INVITE", branch=branch, **change)) is None, change


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% The ACK request matches a transaction if the Request-URI, From tag,
##% Call-ID, CSeq number (not the method), and top Via header field match
##% those of the INVITE request which created the transaction, and the To tag
##% of the ACK matches the To tag of the response sent by the server
##% transaction.
def test_rfc2543_ack_matching_uses_the_response_to_tag():
    layer = TransactionLayer()
    invite = request("INVITE", branch=OLD)
    layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    layer.send_response(tx, response(invite, 486, to_tag="srv-tag"), 0.1)
    ack = request("ACK", branch=OLD, to_tag="srv-tag")
    assert layer.match_request(ack) is tx
    assert layer.match_request(request("ACK", branch=OLD, to_tag="another")) is None
    assert layer.match_request(request("ACK", branch=OLD, to_tag="srv-tag", cseq=2)) is None
    assert layer.receive_request(ack, "src", 0.2) == []
    assert tx.state is State.CONFIRMED


##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% When receiving an ACK that matches an existing INVITE server transaction
##% and that does not contain a branch parameter containing the magic cookie
##% defined in RFC 3261, the matching transaction MUST be checked to see if it
##% is in the "Accepted" state.
def test_rfc2543_ack_for_2xx_passes_to_tu_through_the_accepted_transaction():
    layer = TransactionLayer()
    invite = request("INVITE", branch=OLD)
    layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    layer.send_response(tx, response(invite, 200, to_tag="srv-tag"), 0.1)
    ack = request("ACK", branch=OLD, to_tag="srv-tag")
    assert layer.receive_request(ack, "src", 0.2) == [RequestReceived(tx, ack)]
    assert tx.state is State.ACCEPTED


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% For all other request methods, a request is matched to a transaction if
##% the Request-URI, To tag, From tag, Call-ID, CSeq (including the method),
##% and top Via header field match those of the request that created the
##% transaction.
def test_rfc2543_non_invite_matching():
    layer = TransactionLayer()
    layer.receive_request(request("OPTIONS", branch=OLD), "src", 0.0)
    (tx,) = layer.server_transactions
    assert layer.match_request(request("OPTIONS", branch=OLD)) is tx
    assert layer.match_request(request("INFO", branch=OLD)) is None
    assert layer.match_request(request("OPTIONS", branch=OLD, to_tag="t")) is None


def test_cookie_and_rfc2543_keys():
    cookie = server_key(request("ACK"))
    assert cookie == ("z9hg4bk776asdhds", "pc33.atlanta.example.com", None, "INVITE")
    old = server_key(request("INVITE", branch=OLD))
    assert len(old) == 6 and old[4] == "INVITE"
    # The cookie is case-sensitive: "Z9HG4BK..." is an RFC 2543 branch.
    assert len(server_key(request("INVITE", branch="Z9HG4BKabc"))) == 6


# -- §9.2 CANCEL ------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% The TU determines the transaction to be cancelled by taking the CANCEL
##% request, and then assuming that the request method is anything but CANCEL
##% or ACK and applying the transaction matching procedures of Section 17.2.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% The matching transaction is the one to be cancelled.
@pytest.mark.parametrize("branch", [COOKIE + "776asdhds", OLD])
def test_cancel_finds_its_invite(branch):
    layer = TransactionLayer()
    layer.receive_request(request("INVITE", branch=branch), "src", 0.0)
    (invite_tx,) = layer.server_transactions
    cancel = request("CANCEL", branch=branch)
    effects = layer.receive_request(cancel, "src", 0.1)
    cancel_tx = effects[0].transaction
    assert isinstance(cancel_tx, NonInviteServerTransaction)
    assert cancel_tx is not invite_tx  # CANCEL is a transaction of its own
    assert layer.find_cancel_target(cancel) is invite_tx
    assert layer.find_cancel_target(request("CANCEL", branch=branch, sent_by="192.0.2.9")) is None
    assert layer.find_cancel_target(request("CANCEL", branch=COOKIE + "zzz")) is None


@pytest.mark.parametrize("branch", [COOKIE + "776asdhds", OLD])
def test_cancel_finds_a_non_invite_transaction(branch):
    layer = TransactionLayer()
    layer.receive_request(request("OPTIONS", branch=branch), "src", 0.0)
    (options_tx,) = layer.server_transactions
    assert layer.find_cancel_target(request("CANCEL", branch=branch)) is options_tx
    # Once the transaction is gone, the CANCEL matches nothing (the TU answers 481).
    layer.send_response(options_tx, response(options_tx.request, 200), 0.1)
    layer.handle_timer(100.0)
    assert layer.find_cancel_target(request("CANCEL", branch=branch)) is None


def test_rfc2543_cancel_compares_the_to_tag():
    layer = TransactionLayer()
    layer.receive_request(request("INVITE", branch=OLD), "src", 0.0)
    assert layer.find_cancel_target(request("CANCEL", branch=OLD, to_tag="x")) is None


# -- the shared clock ------------------------------------------------------------------


def test_next_deadline_is_the_earliest_of_all_transactions():
    layer = TransactionLayer()
    assert layer.next_deadline() is None
    layer.send_request(request("INVITE", branch=COOKIE + "1"), "dest", 0.0)  # A at 0.5
    layer.send_request(request("OPTIONS", branch=COOKIE + "2"), "dest", 0.2)  # E at 0.7
    assert layer.next_deadline() == 0.5
    assert kinds(layer.handle_timer(0.5)) == ["send INVITE"]
    assert layer.next_deadline() == 0.7
    assert kinds(layer.handle_timer(0.7)) == ["send OPTIONS"]
    assert layer.next_deadline() == 1.5  # A again (interval 1 s)
    # Nothing is due before the deadline.
    assert layer.handle_timer(1.4) == []


def test_superseded_deadlines_are_skipped():
    layer = TransactionLayer()
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, "dest", 0.0)
    assert layer.next_deadline() == 0.5
    layer.receive_response(response(invite, 180), 0.1)  # A and B cancelled
    assert layer.next_deadline() is None
    assert layer.handle_timer(100.0) == []
    assert tx.state is State.PROCEEDING


def test_terminated_transactions_are_forgotten():
    layer = TransactionLayer()
    invite = request("INVITE")
    layer.send_request(invite, "dest", 0.0)
    layer.receive_request(request("OPTIONS", branch=COOKIE + "srv"), "src", 0.0)
    assert len(layer) == 2
    effects = layer.handle_timer(32.0)
    assert "timeout B" in kinds(effects)
    assert len(layer.client_transactions) == 0
    (server,) = layer.server_transactions
    layer.send_response(server, response(server.request, 200), 33.0)
    assert layer.next_deadline() == 65.0  # Timer J
    assert kinds(layer.handle_timer(65.0)) == ["terminated"]
    assert len(layer) == 0
    assert layer.next_deadline() is None
    # The branch may be used again once its transaction is gone.
    layer.send_request(invite, "dest", 70.0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST be destroyed the instant it enters the
##% "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% Once the transaction is in the terminated state, it MUST be destroyed
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% Once the transaction is in the "Terminated" state, it MUST be destroyed
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The server transaction MUST be destroyed the instant it enters the
##% "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Once the transaction is in the "Terminated" state, it MUST be destroyed
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% Once the transaction is in the "Terminated" state, it MUST be destroyed
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST be destroyed the instant it enters the
##% "Terminated" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% Once the transaction is in the "Terminated" state, it MUST be destroyed
##% immediately.
def test_every_kind_of_transaction_is_destroyed_when_it_terminates():
    layer = TransactionLayer()
    invite = request("INVITE", branch=COOKIE + "c1")
    options = request("OPTIONS", branch=COOKIE + "c2")
    invite_client, _ = layer.send_request(invite, "dest", 0.0)
    options_client, _ = layer.send_request(options, "dest", 0.0)
    layer.receive_request(request("INVITE", branch=COOKIE + "s1"), "src", 0.0)
    layer.receive_request(request("INVITE", branch=COOKIE + "s2"), "src", 0.0)
    layer.receive_request(request("BYE", branch=COOKIE + "s3"), "src", 0.0)
    invite_ok, invite_busy, bye = layer.server_transactions
    layer.receive_response(response(invite, 200), 1.0)  # client: Accepted, M at 33
    layer.receive_response(response(options, 200), 1.0)  # client: Completed, K at 6
    layer.send_response(invite_ok, response(invite_ok.request, 200), 1.0)  # L at 33
    layer.send_response(invite_busy, response(invite_busy.request, 486), 1.0)  # H at 33
    layer.receive_request(request("ACK", branch=COOKIE + "s2"), "src", 1.5)  # I at 6.5
    layer.send_response(bye, response(bye.request, 200), 2.0)  # J at 34
    assert len(layer) == 5
    ended = []
    while (deadline := layer.next_deadline()) is not None:
        for effect in layer.handle_timer(deadline):
            if kinds([effect]) == ["terminated"]:
                ended.append((deadline, effect.transaction))
                # Gone from the layer the instant it terminated.
                assert effect.transaction not in layer.client_transactions
                assert effect.transaction not in layer.server_transactions
    assert ended == [
        (6.0, options_client),
        (6.5, invite_busy),
        (33.0, invite_client),
        (33.0, invite_ok),
        (34.0, bye),
    ]
    assert len(layer) == 0


def test_transport_error_through_the_layer_removes_a_client_transaction():
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("REGISTER"), "dest", 0.0)
    assert kinds(layer.transport_error(tx, 0.1)) == ["transport error", "terminated"]
    assert len(layer) == 0
    assert layer.next_deadline() is None


def test_layer_timers_are_configurable():
    layer = TransactionLayer(TimerValues(T1=0.1, T2=0.4, T4=1.0))
    invite = request("INVITE")
    layer.receive_request(invite, "src", 0.0)
    (tx,) = layer.server_transactions
    effects = layer.send_response(tx, response(invite, 480), 0.0)
    assert sent(effects)[0].status == 480
    assert tx.pending_timers() == {"G": 0.1, "H": pytest.approx(6.4)}


def test_reliability_follows_the_top_via_unless_given():
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("OPTIONS", transport="TCP"), "dest", 0.0)
    assert tx.reliable and tx.pending_timers() == {"F": 32.0}
    tx2, _ = layer.send_request(
        request("OPTIONS", branch=COOKIE + "x", transport="TCP"), "dest", 0.0, reliable=False
    )
    assert not tx2.reliable and tx2.pending_timers() == {"E": 0.5, "F": 32.0}
