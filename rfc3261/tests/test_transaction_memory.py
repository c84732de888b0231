"""A completed non-INVITE server transaction keeps only its key and the bytes of its
final response (RFC 3261 §17.2.2, §17.2.3; issue 22)."""

from __future__ import annotations

from rfc3261.bench.transaction_memory import TARGET_COMPLETED_BYTES, completed_register
from rfc3261.message import parse
from rfc3261.tests.transaction_support import request, response, sent
from rfc3261.transaction import SendMessage, State
from rfc3261.transaction_layer import TransactionLayer


def completed(method="REGISTER", transport="UDP", branch=None):
    layer = TransactionLayer()
    req = request(method, transport=transport)
    if branch is not None:
        req.headers.set("Via", f"SIP/2.0/{transport} 192.0.2.1:5060;branch={branch}")
    original = bytes(req)
    [received] = layer.receive_request(req, ("192.0.2.1", 5060), 0.0)
    tx = received.transaction
    final = response(req, 200)
    effects = layer.send_response(tx, final, 1.0)
    return layer, tx, final, effects, original


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Completed" state, the server transaction MUST pass the
##% final response to the transport layer for retransmission whenever a
##% retransmission of the request is received.
def test_completed_transaction_resends_the_kept_bytes_of_its_final_response():
    layer, tx, final, effects, original = completed()
    assert tx.state == State.COMPLETED
    [first] = effects
    # The bytes are made once, by the transaction, and go out with the first send.
    assert first.message is final
    assert first.wire == bytes(final)
    # Nothing parsed is kept: the request as bytes, the response as bytes.
    assert tx._request is None
    assert tx.last_response is None
    assert tx._final_wire == bytes(final)
    again = layer.receive_request(parse(original), ("192.0.2.1", 5060), 2.0)
    assert [e.__class__ for e in again] == [SendMessage]
    assert again[0].wire == bytes(final)
    assert again[0].message == final
    assert again[0].transaction is tx


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any other final responses passed by the TU to the server transaction MUST
##% be discarded while in the "Completed" state.
def test_completed_transaction_discards_other_finals_and_still_matches():
    layer, tx, final, _, original = completed()
    assert "REGISTER" in repr(tx)
    assert layer.send_response(tx, response(parse(original), 500), 3.0) == []
    assert layer.match_request(parse(original)) is tx
    assert tx.to_tag == final.to.tag
    # The request is parsed again for whoever asks (a log, a test): the same request.
    assert tx.request == parse(original)
    assert tx.branch == parse(original).top_via.branch


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.3
##= type=test
##% If the branch parameter in the top Via header field is not present, or
##% does not contain the magic cookie, the following procedures are used.
def test_rfc2543_transaction_keeps_its_request_for_the_to_tag():
    layer, tx, final, effects, original = completed(branch="rfc2543-1")
    assert tx.state == State.COMPLETED
    assert tx._request is not None and tx.last_response is final
    assert effects[0].wire is None
    assert sent(layer.receive_request(parse(original), ("192.0.2.1", 5060), 2.0)) == [final]


def test_reliable_transport_terminates_at_once():
    layer, tx, _, effects, _ = completed(transport="TCP")
    assert tx.state == State.TERMINATED
    assert len(layer) == 0
    assert effects[0].wire is None


def test_completed_register_holds_at_most_two_kilobytes():
    # Issue 22's target, measured as the bench measures it (tracemalloc, no sockets).
    figures = completed_register(400)
    assert figures["states"] == ["Completed"]
    assert figures["bytes_per_completed_transaction"] <= TARGET_COMPLETED_BYTES
