"""Dialog state (RFC 3261 §12): creation, requests within a dialog, CSeq ordering."""

from __future__ import annotations

from rfc3261.dialog import Dialog, DialogState, build_route, dialog_id_of
from rfc3261.headers import NameAddr, Via
from rfc3261.message import Request, Response, parse
from rfc3261.params import Parameters
from rfc3261.tests.ua_support import Network, make_ua
from rfc3261.uri import parse_uri

INVITE = (
    "INVITE sips:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TLS pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sips:bob@biloxi.example.com>\r\n"
    "From: Alice <sips:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sips:alice@pc33.atlanta.example.com>\r\n"
    "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr;foo=bar>\r\n"
    "Content-Length: 0\r\n\r\n"
)


def invite() -> Request:
    message = parse(INVITE.encode())
    assert isinstance(message, Request)
    return message


def ok(request: Request, status: int = 200) -> Response:
    response = request.make_response(status, to_tag="a6c85cf")
    for value in request.headers.get_all("Record-Route"):
        response.headers.add("Record-Route", value)
    response.headers.add("Contact", "<sips:bob@192.0.2.4>")
    message = parse(bytes(response))
    assert isinstance(message, Response)
    return message


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The route set MUST be set to the list of URIs in the Record-Route
##% header field from the response, taken in reverse order and preserving
##% all URI parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The local tag component of the dialog ID MUST be set to the tag in
##% the From field in the request, and the remote tag component of the
##% dialog ID MUST be set to the tag in the To field of the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% If the request was sent over TLS, and the Request-URI contained a
##% SIPS URI, the "secure" flag is set to TRUE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The route set MUST be set to the list of URIs in the Record-Route
##% header field from the request, taken in order and preserving all URI
##% parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote sequence number MUST be set to the value of the sequence
##% number in the CSeq header field of the request.  The local sequence
##% number MUST be empty.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1
##= type=test
##% UAs MUST assign values to the dialog ID components as described below.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote target MUST be set to the URI from the Contact header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The call identifier component of the dialog ID MUST be set to the value of the Call-ID in
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The local tag component of the dialog ID MUST be set to the tag in the To field in the
##% response to the request (which always includes a tag), and the remote tag component of the
##% dialog ID MUST be set to the tag from the From field in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote URI MUST be set to the URI in the From field, and the local URI MUST be set to
##% the URI in the To field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The remote target MUST be set to the URI from the Contact header field of the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The local sequence number MUST be set to the value of the sequence number in the CSeq
##% header field of the request. The remote sequence number MUST be empty (it is established
##% when the remote UA sends a request within the dialog). The call identifier component of
##% the dialog ID MUST be set to the value of the Call-ID in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The remote URI MUST be set to the URI in the To field, and the local URI MUST be set to
##% the URI in the From field.
def test_dialog_creation_on_both_sides() -> None:
    request = invite()
    response = ok(request)
    uac = Dialog.create_uac(request, response)
    uas = Dialog.create_uas(request, response, tls=True)
    assert (uac.id.call_id, uac.id.local_tag, uac.id.remote_tag) == (
        "a84b4c76e66710",
        "1928301774",
        "a6c85cf",
    )
    assert (uas.id.local_tag, uas.id.remote_tag) == ("a6c85cf", "1928301774")
    assert uac.id == dialog_id_of(response, uac=True)
    assert uas.id == dialog_id_of(response, uac=False)
    assert [str(r.uri) for r in uac.route_set] == [
        "sip:p2.example.com;lr;foo=bar",
        "sip:p1.example.com;lr",
    ]
    assert [str(r.uri) for r in uas.route_set] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr;foo=bar",
    ]
    assert str(uac.remote_target) == "sips:bob@192.0.2.4"
    assert str(uas.remote_target) == "sips:alice@pc33.atlanta.example.com"
    assert (uac.local_seq, uac.remote_seq) == (314159, None)
    assert (uas.local_seq, uas.remote_seq) == (None, 314159)
    assert uac.secure and uas.secure
    assert not Dialog.create_uas(request, response, tls=False).secure
    assert uac.state is DialogState.CONFIRMED
    assert Dialog.create_uac(request, ok(request, 180)).state is DialogState.EARLY
    assert uac.local_uri.tag is None and str(uac.remote_uri.uri) == "sips:bob@biloxi.example.com"


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and its first URI does not contain the
##% lr parameter, the UAC MUST place the first URI from the route set
##% into the Request-URI, stripping any parameters that are not allowed
##% in a Request-URI.  The UAC MUST add a Route header field containing
##% the remainder of the route set values in order, including all
##% parameters.  The UAC MUST then place the remote target URI into the
##% Route header field as the last value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is empty, the UAC MUST place the remote target URI
##% into the Request-URI.  The UAC MUST NOT add a Route header field to
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and the first URI in the route set contains the lr
##% parameter (see Section 19.1.1), the UAC MUST place the remote target URI into the Request-
##% URI and MUST include a Route header field containing the route set values in order,
##% including all parameters.
def test_route_construction_strict_and_loose() -> None:
    target = parse_uri("sip:user@remoteua")
    routes = [
        NameAddr(None, parse_uri(u))
        for u in ("sip:proxy1", "sip:proxy2", "sip:proxy3;lr", "sip:proxy4")
    ]
    uri, route = build_route(target, routes)
    assert str(uri) == "sip:proxy1"
    assert [str(r.uri) for r in route] == [
        "sip:proxy2",
        "sip:proxy3;lr",
        "sip:proxy4",
        "sip:user@remoteua",
    ]
    uri, route = build_route(target, routes[2:])
    assert uri == target and [str(r.uri) for r in route] == ["sip:proxy3;lr", "sip:proxy4"]
    assert build_route(target, []) == (target, [])


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The URI in the To field of the request MUST be set to the remote URI
##% from the dialog state.  The tag in the To header field of the request
##% MUST be set to the remote tag of the dialog ID.  The From URI of the
##% request MUST be set to the local URI from the dialog state.  The tag
##% in the From header field of the request MUST be set to the local tag
##% of the dialog ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The Call-ID of the request MUST be set to the Call-ID of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The method field in the CSeq header field value MUST match the method of the request.
def test_request_within_dialog() -> None:
    request = invite()
    dialog = Dialog.create_uac(request, ok(request))
    via = Via("TLS", "pc33.atlanta.example.com", None, Parameters([("branch", "z9hG4bKx")]))
    bye = dialog.create_request("BYE", via, dialog.next_local_seq(1))
    bye = parse(bytes(bye))
    assert str(bye.uri) == "sips:bob@192.0.2.4"
    assert bye.to.tag == "a6c85cf" and bye.from_.tag == "1928301774"
    assert str(bye.to.uri) == "sips:bob@biloxi.example.com"
    assert bye.call_id == "a84b4c76e66710"
    assert (bye.cseq.number, bye.cseq.method) == (314160, "BYE")
    assert bye.headers.get_all("Route") == [
        "<sip:p2.example.com;lr;foo=bar>",
        "<sip:p1.example.com;lr>",
    ]


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the remote sequence number was not empty, but the sequence number
##% of the request is lower than the remote sequence number, the request
##% is out of order and MUST be rejected with a 500 (Server Internal
##% Error) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% This is not an error condition, and a UAS SHOULD be
##% prepared to receive and process requests with CSeq values more than
##% one higher than the previous received request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the remote sequence number is empty, it MUST be set to the value of the sequence number
##% in the CSeq header field value in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% The UAS MUST then set the remote sequence number to the value of the sequence number in
##% the CSeq header field value in the request.
def test_remote_cseq_rules() -> None:
    request = invite()
    uac_side = Dialog.create_uac(request, ok(request))
    assert uac_side.remote_seq is None
    assert uac_side.check_remote_cseq(request) is None and uac_side.remote_seq == 314159
    dialog = Dialog.create_uas(request, ok(request))
    later = parse(bytes(request).replace(b"314159 INVITE", b"314170 INVITE"))
    earlier = parse(bytes(request).replace(b"314159 INVITE", b"314160 INVITE"))
    assert dialog.check_remote_cseq(later) is None
    assert dialog.remote_seq == 314170
    rejection = dialog.check_remote_cseq(earlier, retry_after=3)
    assert rejection is not None and rejection.status == 500
    assert rejection.header("Retry-After").seconds == 3
    assert dialog.remote_seq == 314170
    ack = parse(
        bytes(request)
        .replace(b"314159 INVITE", b"314159 ACK")
        .replace(b"INVITE sips", b"ACK sips")
    )
    assert dialog.check_remote_cseq(ack) is None


def test_out_of_order_cseq_gets_500_with_retry_after_end_to_end() -> None:
    from rfc3261.session import IncomingCall

    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("INVITE", "ACK", "CANCEL", "BYE", "INFO")))

    def answer(net: Network, event) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.answer(event.call, net.now, body=b"v=0\r\n"))

    bob.on_event = answer
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    dialog = call.established
    assert dialog is not None
    dialog.local_seq -= 10  # a lost update: the next request goes out below the last one
    client, effects = alice.ua.in_dialog(dialog, "INFO", net.now)
    net.call(alice, effects)
    net.run(2.0)
    assert client.final is not None and client.final.status == 500
    assert 0 <= client.final.header("Retry-After").seconds <= 10


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the value of the remote or local tags is null,
##% the tag parameter MUST be omitted from the To or From header fields,
##% respectively.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% A
##% UAC MUST be prepared to receive a response without a tag in the To
##% field, in which case the tag is considered to have a value of null.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% A UAS MUST be prepared to receive a
##% request without a tag in the From field, in which case the tag is
##% considered to have a value of null.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% If no Record-Route header field is present in
##% the response, the route set MUST be set to the empty set.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% If no Record-Route header field is present in the
##% request, the route set MUST be set to the empty set.
def test_rfc2543_peers_without_tags() -> None:
    old = parse(
        INVITE.replace(";tag=1928301774", "")
        .replace("Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr;foo=bar>\r\n", "")
        .encode()
    )
    assert isinstance(old, Request)
    response = parse(bytes(old.make_response(200, to_tag="t")))
    uas = Dialog.create_uas(old, response)
    assert uas.id.remote_tag is None and uas.route_set == []
    via = Via("UDP", "biloxi.example.com", None, Parameters([("branch", "z9hG4bKy")]))
    bye = parse(bytes(uas.create_request("BYE", via, 1)))
    assert bye.to.tag is None and bye.from_.tag == "t"
    untagged = parse(bytes(old.make_response(200, to_tag="x")).replace(b";tag=x", b""))
    uac = Dialog.create_uac(old, untagged)
    assert uac.id.remote_tag is None and uac.id.local_tag is None and uac.route_set == []
    assert str(uac.remote_target) == "sips:bob@biloxi.example.com"  # no Contact: Request-URI


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the "secure" flag is true, that URI MUST be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the local sequence number is empty, an initial value MUST be chosen using the
##% guidelines of Section 8.1.1.5.
def test_secure_dialog_contact_and_initial_local_seq() -> None:
    request = invite()
    dialog = Dialog.create_uas(request, ok(request), tls=True)
    assert dialog.secure and dialog.local_seq is None
    ua = make_ua("bob")
    client, _ = ua.in_dialog(
        dialog, "INVITE", 0.0, body=b"v=0\r\n", content_type="application/sdp"
    )
    assert client.request.contact[0].uri.scheme == "sips"
    assert (
        0 < client.request.cseq.number < 2**31 and dialog.local_seq == client.request.cseq.number
    )
    bye, _ = ua.in_dialog(dialog, "BYE", 0.0)
    assert bye.request.cseq.number == client.request.cseq.number + 1
    assert bye.request.call_id == request.call_id
