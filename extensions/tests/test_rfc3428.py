"""RFC 3428: MESSAGE between two UAs in memory (``extensions/rfc3428.py``)."""

from __future__ import annotations

import pytest

from extensions.rfc3428 import (
    PAGER_MODE_LIMIT,
    MessageExtension,
    MessageReceived,
    MessageResult,
    MessageTooLarge,
)
from rfc3261.auth_client import StaticCredentials
from rfc3261.extension import ClientRequest, UAExtension
from rfc3261.message import Request, Response
from rfc3261.session import CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua, statuses

BOB = "sip:bob@bob.example.com"


def pair(
    net: Network, *, bob_ext: MessageExtension | None = None, **alice_config: object
) -> tuple[Node, Node, MessageExtension]:
    alice = net.add_ua(make_ua("alice", seed=1, **alice_config))
    bob = net.add_ua(make_ua("bob", seed=2))
    messages = MessageExtension()
    alice.ua.use(messages)
    bob.ua.use(bob_ext or MessageExtension())
    return alice, bob, messages


def requests(node: Node, method: str = "MESSAGE") -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def responses(node: Node) -> list[Response]:
    return [m for _, m in node.received if isinstance(m, Response)]


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% All UACs which support the MESSAGE method MUST be prepared to send
##% MESSAGE requests with a body of type text/plain.
##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% User Agents MUST NOT insert Contact header fields into MESSAGE requests.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A 2xx response to a MESSAGE request MUST NOT contain a body.  A UAS
##% MUST NOT insert a Contact header field into a 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS receiving a MESSAGE request SHOULD respond with a final
##% response immediately.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS that supports the MESSAGE method MUST be prepared to receive
##% and render bodies of type "text/plain", and may support reception and
##% rendering of bodies of type "message/cpim" [7].
##= https://www.rfc-editor.org/rfc/rfc3428#section-5
##= type=test
##% These identifiers SHOULD contain SIP (or SIPS) URIs
def test_a_message_outside_any_dialog_is_delivered_and_answered_200() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    sent, effects = messages.send(BOB, "héllo, Bob", net.now)
    net.call(alice, effects)
    net.run(1.0)
    (request,) = requests(bob)
    assert "Contact" not in request.headers
    assert request.headers.get("Content-Type") == "text/plain;charset=UTF-8"
    assert request.body == "héllo, Bob".encode()
    (received,) = bob.of(MessageReceived)
    assert (received.sender, received.text, received.expired) == (
        "sip:alice@example.com",
        "héllo, Bob",
        False,
    )
    assert received.describe() == "message from sip:alice@example.com: héllo, Bob"
    (answer,) = responses(alice)
    assert answer.status == 200 and answer.body == b"" and "Contact" not in answer.headers
    # answered at once: the 200 left Bob as the MESSAGE arrived (one latency later)
    assert [t for t, s in statuses(net, "bob.example.com")] == [pytest.approx(0.01)]
    (result,) = alice.of(MessageResult)
    assert result.message is sent and result.response.status == 200
    assert "MESSAGE" in bob.ua.allow and "text/plain" in bob.ua.accept


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% It
##% MUST NOT assume that the recipient has actually read the instant
##% message.
##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% In this case,
##% the UAC MUST NOT assume the message has been delivered to the final
##% destination.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS which is, in fact, a message relay, storing the message and
##% forwarding it later on, or forwarding it into a non-SIP domain,
##% SHOULD return a 202 (Accepted) [5] response indicating that the
##% message was accepted, but end to end delivery has not been
##% guaranteed.
def test_a_relay_answers_202_and_the_sender_does_not_claim_delivery() -> None:
    net = Network()
    alice, _, messages = pair(net, bob_ext=MessageExtension(relay=True))
    net.call(alice, messages.send(BOB, "stored", net.now)[1])
    net.run(1.0)
    (result,) = alice.of(MessageResult)
    assert result.response.status == 202
    assert "delivery not confirmed" in result.describe()
    assert "delivered" not in result.describe().replace("delivery", "")

    net = Network()
    alice, _, messages = pair(net)
    net.call(alice, messages.send(BOB, "direct", net.now)[1])
    net.run(1.0)
    assert "not necessarily read" in alice.of(MessageResult)[0].describe()


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% Therefore the
##% UAC MUST NOT assume that a given final response represents the only
##% UAS that receives the request.
def test_a_forked_message_reaches_two_uas_and_the_sender_sees_one_answer() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    messages = MessageExtension()
    alice.ua.use(messages)
    bobs = [net.add_ua(make_ua(f"bob{i}", seed=2 + i)) for i in (1, 2)]
    for bob in bobs:
        bob.ua.use(MessageExtension())
    net.add_forker("fork.example.com", [bob.host for bob in bobs])
    net.call(alice, messages.send("sip:bob@fork.example.com", "to all", net.now)[1])
    net.run(1.0)
    assert [len(bob.of(MessageReceived)) for bob in bobs] == [1, 1]
    (result,) = alice.of(MessageResult)
    assert "a fork may have delivered it more than once" in result.describe()


##= https://www.rfc-editor.org/rfc/rfc3428#section-8
##= type=test
##% A UAC MUST NOT initiate a new out-of-dialog MESSAGE transaction to a
##% given URI if there is a previous out-of-dialog transaction pending
##% for the same URI.
def test_a_second_message_to_a_uri_waits_for_the_first_ones_final_response() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    carol = net.add_ua(make_ua("carol", seed=3))
    carol.ua.use(MessageExtension())
    first, effects = messages.send(BOB, "one", net.now)
    net.call(alice, effects)
    second, effects = messages.send(BOB, "two", net.now)
    assert effects == [] and second.client is None and messages.pending(BOB) == 2
    net.call(alice, effects)
    net.call(alice, messages.send("sip:carol@carol.example.com", "three", net.now)[1])
    starts = [(t, line) for t, src, _, line in net.wire if src == "alice.example.com"]
    assert [line.split()[1] for _, line in starts] == [BOB, "sip:carol@carol.example.com"]
    net.run(1.0)
    sent = [(t, dst) for t, src, dst, line in net.wire if line.startswith("MESSAGE")]
    assert sent == [
        (0.0, "bob.example.com"),
        (0.0, "carol.example.com"),
        (pytest.approx(0.02), "bob.example.com"),  # after the 200 to the first came back
    ]
    assert [m.text for m in bob.of(MessageReceived)] == ["one", "two"]
    assert [r.message for r in alice.of(MessageResult)][:1] == [first]
    assert messages.pending(BOB) == 0
    (one, two) = requests(bob)
    assert two.cseq.number != one.cseq.number or two.call_id != one.call_id


##= https://www.rfc-editor.org/rfc/rfc3428#section-8
##= type=test
##% The size of MESSAGE requests outside of a media session MUST NOT
##% exceed 1300 bytes, unless the UAC has positive knowledge that the
##% message will not traverse a congestion-unsafe link at any hop, or
##% that the message size is at least 200 bytes less than the lowest MTU
##% value found en route to the UAS.
def test_a_message_over_1300_bytes_is_refused_outside_a_media_session() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    with pytest.raises(MessageTooLarge, match="1300"):
        messages.send(BOB, "x" * 1200, net.now)
    assert messages.pending(BOB) == 0 and net.wire == []
    net.call(alice, messages.send(BOB, "x" * 900, net.now)[1])  # fits
    net.run(1.0)
    assert 1000 < len(bytes(requests(bob)[0])) <= PAGER_MODE_LIMIT

    safe = MessageExtension(congestion_safe=True)  # the application knows every hop
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    alice.ua.use(safe)
    net.add_ua(make_ua("bob", seed=2)).ua.use(MessageExtension())
    net.call(alice, safe.send(BOB, "x" * 3000, net.now)[1])
    net.run(1.0)
    assert alice.of(MessageResult)[0].response.status == 200


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% A UAC MAY associate a MESSAGE request with an existing dialog.
##= https://www.rfc-editor.org/rfc/rfc3428#section-8
##= type=test
##% Similarly, A UAC SHOULD NOT initiate overlapping
##% MESSAGE transactions inside a dialog, and MUST NOT do so unless the
##% route set for that dialog uses a congestion-controlled transport at
##% every hop.
def test_messages_within_a_call_go_in_its_dialog_one_at_a_time_without_the_size_cap() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    call, effects = alice.ua.sessions.invite(BOB, 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    net.call(bob, bob.ua.sessions.answer(bob.of(IncomingCall)[0].call, net.now, body=b"v=0"))
    net.run(0.5)
    (established,) = alice.of(CallEstablished)
    dialog = established.dialog
    big = "y" * 2000  # inside a media session: no 1300-byte cap (§8)
    _, effects = messages.send(BOB, big, net.now, dialog=dialog)
    net.call(alice, effects)
    _, effects = messages.send(BOB, "after", net.now, dialog=dialog)
    assert effects == []
    net.run(1.5)
    received = bob.of(MessageReceived)
    assert [m.text for m in received] == [big, "after"]
    assert all(m.server.dialog is not None for m in received)
    one, two = requests(bob)
    assert one.to.tag and one.call_id == call.call_id and "Contact" not in one.headers
    invite_cseq = requests(bob, "INVITE")[0].cseq.number
    assert invite_cseq < one.cseq.number < two.cseq.number
    assert [r.response.status for r in alice.of(MessageResult)] == [200, 200]


def test_a_message_for_an_unknown_dialog_gets_481() -> None:
    net = Network()
    alice, bob, _ = pair(net)
    request = alice.ua.build_request("MESSAGE", f"<{BOB}>", body=b"hi", content_type="text/plain")
    request.headers.set("To", f"<{BOB}>;tag=nosuchdialog")
    net.call(alice, alice.ua.send(request, net.now)[1])
    net.run(1.0)
    assert [r.status for r in responses(alice)] == [481]
    assert bob.of(MessageReceived) == []


def test_the_sizes_and_targets_the_sender_refuses() -> None:
    net = Network()
    _, _, messages = pair(net)
    with pytest.raises(ValueError, match="not a SIP or SIPS URI"):
        messages.send("im:bob@example.com", "hi", 0.0)
    with pytest.raises(ValueError, match="Expires"):
        messages.send(BOB, "hi", 0.0, expires=-1)
    with pytest.raises(ValueError, match="max_body"):
        MessageExtension(max_body=-1)


##= https://www.rfc-editor.org/rfc/rfc3428#section-5
##= type=test
##% Record-Route and Route header fields MUST NOT contain IM URIs.
def test_a_route_through_an_im_uri_is_refused() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1, outbound_proxy="im:relay@example.com"))
    messages = MessageExtension()
    alice.ua.use(messages)
    with pytest.raises(ValueError, match="Route value"):
        messages.send(BOB, "hi", 0.0)


def test_a_body_above_the_uas_limit_gets_513() -> None:
    net = Network()
    alice, bob, messages = pair(net, bob_ext=MessageExtension(max_body=16))
    net.call(alice, messages.send(BOB, "x" * 17, net.now)[1])
    net.run(1.0)
    (result,) = alice.of(MessageResult)
    assert result.response.status == 513 and "not delivered" in result.describe()
    assert bob.of(MessageReceived) == []
    net.call(alice, messages.send(BOB, "x" * 16, net.now)[1])  # the limit itself is fine
    net.run(2.0)
    assert [r.response.status for r in alice.of(MessageResult)] == [513, 200]


##= https://www.rfc-editor.org/rfc/rfc3428#section-9
##= type=test
##% A MESSAGE request MAY contain a body, using the standard MIME header
##% fields to identify the content.
def test_a_message_without_a_body_is_an_empty_message() -> None:
    net = Network()
    alice, bob, _ = pair(net)
    request = alice.ua.build_request("MESSAGE", f"<{BOB}>", contact=False)
    net.call(alice, alice.ua.send(request, net.now)[1])
    net.run(1.0)
    assert [r.status for r in responses(alice)] == [200]
    (received,) = bob.of(MessageReceived)
    assert (received.text, received.content_type) == ("", "")


class Stamp(UAExtension):
    """Writes a given Date (and Expires) into every MESSAGE: a sender with another clock."""

    name = "stamp"

    def __init__(self, date: str, expires: str | None = None) -> None:
        self.date, self.expires = date, expires

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        if request.method == "MESSAGE":
            request.headers.set("Date", self.date)
            if self.expires is not None:
                request.headers.set("Expires", self.expires)


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% The UAC MAY add an Expires header field to limit the validity of the
##% message content.
##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% If the UAC adds an Expires header field with a
##% non-zero value, it SHOULD also add a Date header field containing the
##% time the message is sent.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% If the request does not contain a Date header
##% field, the UAS SHOULD interpret the Expires header value as delta
##% time from the time the UAS received the request.
def test_expires_goes_with_a_date_and_counts_from_reception_without_one() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    net.now = 1_700_000_000.0  # 2023-11-14 22:13:20 GMT
    net.call(alice, messages.send(BOB, "soon", net.now, expires=60)[1])
    net.run(net.now + 1)
    net.call(alice, messages.send(BOB, "now or never", net.now, expires=0)[1])
    net.run(net.now + 1)
    first, second = requests(bob)
    assert first.headers.get("Expires") == "60"
    assert first.headers.get("Date") == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert second.headers.get("Expires") == "0" and "Date" not in second.headers
    assert [m.expired for m in bob.of(MessageReceived)] == [False, True]


##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% If the MESSAGE request containing an Expires
##% header field also contains a Date header field, the UAS SHOULD
##% interpret the Expires header field value as delta time from the Date
##% header field value.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% If the message is displayed, the UAS SHOULD clearly indicate to the user that the
##% message has expired.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% If the MESSAGE expires before the UAS is able to present the message
##% to the user, the UAS SHOULD handle the message based on local policy.
def test_expires_counts_from_the_date_and_an_expired_message_is_marked() -> None:
    net = Network()
    net.now = 1_700_000_100.0
    alice, bob, messages = pair(net)
    alice.ua.use(Stamp("Tue, 14 Nov 2023 22:13:20 GMT", "30"))  # sent 100 s ago, for 30 s
    net.call(alice, messages.send(BOB, "late", net.now)[1])
    net.run(net.now + 1)
    (received,) = bob.of(MessageReceived)
    assert received.expired and received.describe().endswith("[expired]: late")
    assert alice.of(MessageResult)[0].response.status == 200  # delivered all the same


##= https://www.rfc-editor.org/rfc/rfc3428#section-11.4
##= type=test
##% Any message with a date older than several minutes in the past, or
##% which is more than several minutes in the future, SHOULD be answered
##% with a 400 (Incorrect Date or Time) message
def test_a_stale_or_garbled_date_gets_400() -> None:
    for date, reason in (
        ("Tue, 14 Nov 2023 21:13:20 GMT", "Incorrect Date or Time"),  # an hour old
        ("Tue, 14 Nov 2023 23:13:20 GMT", "Incorrect Date or Time"),  # an hour ahead
        ("yesterday", "Bad Date or Expires"),
    ):
        net = Network()
        net.now = 1_700_000_000.0
        alice, bob, messages = pair(net)
        alice.ua.use(Stamp(date))
        net.call(alice, messages.send(BOB, "hi", net.now)[1])
        net.run(net.now + 1)
        (result,) = alice.of(MessageResult)
        assert (result.response.status, result.response.reason) == (400, reason)
        assert bob.of(MessageReceived) == []


##= https://www.rfc-editor.org/rfc/rfc3428#section-2
##= type=test
##% But implementations SHOULD NOT create dialogs for the primary purpose of
##% associating MESSAGE requests with one another.
def test_messages_create_no_dialog() -> None:
    net = Network()
    alice, bob, messages = pair(net)
    for text in ("one", "two"):
        net.call(alice, messages.send(BOB, text, net.now)[1])
        net.run(net.now + 1)
    assert alice.ua.dialogs == {} and bob.ua.dialogs == {}
    assert "MESSAGE" not in alice.ua.dialog_methods
    one, two = requests(bob)
    assert one.call_id != two.call_id  # nothing ties them together


##= https://www.rfc-editor.org/rfc/rfc3428#section-11.1
##= type=test
##% When local proxies are used for transmission of outbound messages,
##% proxy authentication, as specified in RFC 3261, is RECOMMENDED.
def test_a_proxy_challenge_is_answered_with_credentials() -> None:
    net = Network()
    alice = net.add_ua(
        make_ua(
            "alice",
            seed=1,
            outbound_proxy="sip:proxy.example.com;lr",
            credentials=StaticCredentials(default=("alice", "secret")),
        )
    )
    messages = MessageExtension()
    alice.ua.use(messages)

    def proxy(request: Request) -> list[Response]:
        if "Proxy-Authorization" in request.headers:
            return [request.make_response(200, to_tag="p1")]
        challenge = request.make_response(407, to_tag="p1")
        challenge.headers.add(
            "Proxy-Authenticate", 'Digest realm="example.com", nonce="n0nce", qop="auth"'
        )
        return [challenge]

    node = net.add_script("proxy.example.com", proxy)
    net.call(alice, messages.send(BOB, "through the proxy", net.now)[1])
    net.run(1.0)
    first, second = (m for _, m in node.received if isinstance(m, Request))
    assert "Proxy-Authorization" not in first.headers
    assert 'username="alice"' in second.headers.get("Proxy-Authorization", "")
    assert [r.response.status for r in alice.of(MessageResult)] == [200]
