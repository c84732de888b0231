"""RFC 3264 offer/answer with SDP between two UAs (extensions/rfc3264.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extensions.rfc3262 import ReliableProvisional
from extensions.rfc3264 import (
    AnswerPolicy,
    OfferAnswer,
    SdpDescriber,
    answer_problems,
    codecs_from_names,
)
from extensions.rfc3311 import UpdateExtension
from extensions.rfc8866 import parse, serialize
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Request, Response
from rfc3261.offer_answer import NegotiationState
from rfc3261.session import Call, CallEstablished, IncomingCall, ReinviteResult
from rfc3261.tests.ua_support import Network, Node, make_ua


@pytest.fixture(autouse=True)
def rel_headers() -> Iterator[None]:
    yield
    for name in ("RSeq", "RAck"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def pair(
    alice_codecs: str = "PCMU,PCMA,opus", bob_codecs: str = "PCMA,opus", *, rel: bool = False
) -> tuple[Network, Node, Node]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    for node, codecs, address, port in (
        (alice, alice_codecs, "127.0.0.1", 40000),
        (bob, bob_codecs, "127.0.0.2", 50000),
    ):
        node.ua.use(
            OfferAnswer(SdpDescriber(codecs_from_names(codecs), address=address, first_port=port))
        )
        if rel:
            node.ua.use(ReliableProvisional())
            node.ua.use(UpdateExtension())
    return net, alice, bob


def sdp(node: Node) -> OfferAnswer:
    extension = node.ua.extension("sdp")
    assert isinstance(extension, OfferAnswer)
    return extension


def received(node: Node, kind: str) -> list[Request | Response]:
    out: list[Request | Response] = []
    for _, message in node.received:
        if isinstance(message, Request):
            if message.method == kind:
                out.append(message)
        elif f"{message.status} {message.cseq.method}" == kind:
            out.append(message)
    return out


def call_up(net: Network, alice: Node, bob: Node, body: bytes | None = None) -> tuple[Call, Call]:
    """Alice calls Bob (offer in the INVITE unless ``body`` is b""); Bob answers."""
    offer = sdp(alice).describer.offer_for_new_call() if body is None else body
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=offer)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    net.call(bob, bob.ua.sessions.answer(incoming, net.now))
    net.run(net.now + 0.2)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)
    return call, incoming


OFFER_4317 = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    b"s=\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 97\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:97 iLBC/8000\r\n"
    b"m=video 51372 RTP/AVP 31 32\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
    b"a=rtpmap:32 MPV/90000\r\n"
)


# -- the initial exchange ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% In the case of RTP, if a particular codec was referenced with a
##% specific payload type number in the offer, that same payload type
##% number SHOULD be used for that codec in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% Although the answerer MAY list the formats in their desired order of
##% preference, it is RECOMMENDED that unless there is a specific reason,
##% the answerer list formats in the same relative order they were
##% present in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% Even if the same payload type number is used, the answer MUST contain rtpmap
##% attributes to define the payload type mappings for dynamic payload
##% types, and SHOULD contain mappings for static payload types.
def test_the_answer_intersects_codecs_and_keeps_the_offer_s_payload_types() -> None:
    net, alice, bob = pair("PCMU,PCMA,opus", "opus,PCMA")
    offer = (
        OFFER_4317.replace(b"0 8 97", b"0 8 96")
        .replace(b"97 iLBC/8000", b"96 opus/48000/2\r\na=fmtp:96 useinbandfec=1")
        .split(b"m=video")[0]
    )
    call, incoming = call_up(net, alice, bob, offer)
    answer = parse(received(alice, "200 INVITE")[0].body)
    (media,) = answer.media
    assert media.formats == ["8", "96"]  # the offer's order and numbers
    assert media.attribute_values("rtpmap") == ["8 PCMA/8000", "96 opus/48000/2"]
    assert media.fmtp("96") == "useinbandfec=1"
    assert answer.connection.address == "127.0.0.2" and media.port == 50000
    for node, c in ((alice, call), (bob, incoming)):
        (stream,) = sdp(node).describer.negotiated(c)
        assert (stream.codec, stream.payload_type, stream.direction) == (
            "PCMA/8000",
            "8",
            "sendrecv",
        )
    (stream,) = sdp(alice).describer.negotiated(call)
    assert (stream.remote_address, stream.remote_port) == ("127.0.0.2", 50000)


def test_an_initial_offer_lists_the_configured_codecs_in_order() -> None:
    describer = SdpDescriber(codecs_from_names("opus,PCMU,telephone-event"))
    offer = parse(describer.offer_for_new_call())
    (media,) = offer.media
    assert (media.port, media.formats) == (40000, ["111", "0", "101"])
    assert media.rtpmap("111").encoding == "opus" and media.fmtp("101") == "0-16"
    assert offer.times[0].start == 0 and offer.session_name == "-"
    with pytest.raises(ValueError, match="unknown codec"):
        codecs_from_names("PCMU,nope")


##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% For each "m=" line in the offer, there MUST be a corresponding "m="
##% line in the answer.  The answer MUST contain exactly the same number
##% of "m=" lines as the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% To reject an offered
##% stream, the port number in the corresponding stream in the answer
##% MUST be set to zero.  Any media formats listed are ignored.  At least
##% one MUST be present, as specified by SDP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.2
##= type=test
##% A stream that is offered with a port of zero MUST be marked with port
##% zero in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% The "t=" line in the answer MUST equal that of the offer.
def test_rfc_4317_offer_answers_audio_and_rejects_video_keeping_m_lines() -> None:
    net, alice, bob = pair("PCMU", "PCMU")
    offer = OFFER_4317 + b"m=audio 0 RTP/AVP 0\r\n"
    call_up(net, alice, bob, offer)
    answer = parse(received(alice, "200 INVITE")[0].body)
    assert [(m.media, m.port != 0) for m in answer.media] == [
        ("audio", True),
        ("video", False),
        ("audio", False),
    ]
    assert answer.media[0].formats == ["0"]
    assert all(m.formats for m in answer.media)
    assert (answer.times[0].start, answer.times[0].stop) == (0, 0)
    assert answer_problems(offer, serialize(answer)) == []


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If the answerer has no media formats in common for a particular
##% offered stream, the answerer MUST reject that media stream by setting
##% the port to zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If there are no media formats in common for all streams, the entire
##% offered session is rejected.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A UAS rejecting an offer contained in an INVITE SHOULD return a 488
##% (Not Acceptable Here) response.  Such a response SHOULD include a
##% Warning header field value explaining why the offer was rejected.
def test_no_codec_in_common_is_a_488_naming_the_m_line() -> None:
    net, alice, bob = pair("PCMU", "opus")
    offer = sdp(alice).describer.offer_for_new_call()
    _call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=offer)
    net.call(alice, effects)
    net.run(net.now + 0.2)
    (response,) = received(alice, "488 INVITE")
    warning = response.headers.get("Warning")
    assert warning.startswith("305 ") and "m= line 1: no codec in common" in warning
    assert not bob.of(IncomingCall)  # refused before the application is told


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", "line 5"),
        (b"v=0\r\ns=-\r\n", "line 2 (s=)"),
        (b"hello", "line 1"),
        (b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n", "c="),
    ],
)
def test_malformed_sdp_in_an_invite_is_a_488_naming_the_line(body: bytes, words: str) -> None:
    net, alice, _bob = pair()
    _call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=body)
    net.call(alice, effects)
    net.run(net.now + 0.2)
    (response,) = received(alice, "488 INVITE")
    warning = response.headers.get("Warning")
    assert warning.startswith("399 bob.example.com") and words in warning, warning


# -- offerless INVITE ----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE did
##% not contain an offer, the 2xx MUST contain an offer if the UAS had
##% not yet sent an offer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If
##% the 2xx contains an offer (based on the rules above), the ACK MUST
##% carry an answer in its body.
def test_an_offerless_invite_gets_the_offer_in_the_200_and_answers_in_the_ack() -> None:
    net, alice, bob = pair("PCMU,PCMA", "PCMA,PCMU")
    call, incoming = call_up(net, alice, bob, b"")
    offer = parse(received(alice, "200 INVITE")[0].body)
    assert offer.media[0].formats == ["8", "0"] and offer.media[0].port == 50000
    (ack,) = received(bob, "ACK")
    answer = parse(ack.body)
    assert answer.media[0].formats == ["8", "0"] and answer.media[0].port == 40000
    for node, c in ((alice, call), (bob, incoming)):
        assert c.negotiation.state is NegotiationState.IDLE
        assert sdp(node).describer.negotiated(c)[0].codec == "PCMA/8000"


# -- hold, resume and versions ---------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##= type=test
##% If the stream to be placed on hold was previously a sendrecv media
##% stream, it is placed on hold by marking it as sendonly.  If the
##% stream to be placed on hold was previously a recvonly media stream,
##% it is placed on hold by marking it inactive.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If a stream is offered as sendonly, the corresponding stream MUST be
##% marked as recvonly or inactive in the answer.  If a media stream is
##% listed as recvonly in the offer, the answer MUST be marked as
##% sendonly or inactive in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% When issuing an offer that modifies the session,
##% the "o=" line of the new SDP MUST be identical to that in the
##% previous SDP, except that the version in the origin field MUST
##% increment by one from the previous SDP.  If the version in the origin
##% line does not increment, the SDP MUST be identical to the SDP with
##% that version number.
@pytest.mark.parametrize("holder", ["alice", "bob"])
def test_hold_and_resume_from_either_side(holder: str) -> None:
    net, alice, bob = pair()
    call, incoming = call_up(net, alice, bob)
    node, other, mine, theirs = (
        (alice, bob, call, incoming) if holder == "alice" else (bob, alice, incoming, call)
    )
    first = parse(mine.negotiation.local)
    net.call(node, sdp(node).hold(mine, net.now))
    net.run(net.now + 0.3)
    reinvite = received(other, "INVITE")[-1]
    held = parse(reinvite.body)
    assert held.media[0].own_direction == "sendonly"
    assert held.origin.sess_version == first.origin.sess_version + 1
    assert (held.origin.username, held.origin.sess_id) == (
        first.origin.username,
        first.origin.sess_id,
    )
    answer = parse(received(node, "200 INVITE")[-1].body)
    assert answer.media[0].own_direction == "recvonly"
    assert sdp(node).describer.negotiated(mine)[0].direction == "sendonly"
    assert sdp(other).describer.negotiated(theirs)[0].direction == "recvonly"
    net.call(node, sdp(node).resume(mine, net.now))
    net.run(net.now + 0.3)
    resumed = parse(received(other, "INVITE")[-1].body)
    assert resumed.media[0].own_direction == "sendrecv"
    assert resumed.origin.sess_version == first.origin.sess_version + 2
    assert sdp(node).describer.negotiated(mine)[0].direction == "sendrecv"
    assert [e.response.status for e in node.of(ReinviteResult)] == [200, 200]


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% The answerer MUST be prepared to receive an
##% offer that contains SDP with a version that has not changed; this is
##% effectively a no-op.
def test_an_unchanged_offer_is_answered_with_an_unchanged_answer() -> None:
    net, alice, bob = pair()
    call, incoming = call_up(net, alice, bob)
    before = incoming.negotiation.local
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, call.negotiation.local))
    net.run(net.now + 0.3)
    assert received(alice, "200 INVITE")[-1].body == before


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.1
##= type=test
##% New media descriptions MUST appear below
##% any existing media sections.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.2
##= type=test
##% Existing media streams are removed by creating a new SDP with the
##% port number for that stream set to zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% Deleted media
##% streams from a previous SDP MUST NOT be removed in a new SDP;
##% however, attributes for these streams need not be present.
def test_adding_and_removing_streams() -> None:
    net, alice, bob = pair()
    call, _incoming = call_up(net, alice, bob)
    describer = sdp(alice).describer
    describer.add_stream(call, "audio")
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, describer.offer(call)))
    net.run(net.now + 0.3)
    answer = parse(received(alice, "200 INVITE")[-1].body)
    assert [m.port != 0 for m in answer.media] == [True, True]
    describer.remove_stream(call, 0)
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, describer.offer(call)))
    net.run(net.now + 0.3)
    offer = parse(received(bob, "INVITE")[-1].body)
    assert next(m.port for m in offer.media) == 0 and len(offer.media) == 2
    answer = parse(received(alice, "200 INVITE")[-1].body)
    assert [m.port != 0 for m in answer.media] == [False, True]
    with pytest.raises(ValueError):
        describer.remove_stream(call, 5)


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% In other words, if the previous SDP had N "m="
##% lines, the new SDP MUST have at least N "m=" lines.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% If the new session description is not acceptable, the UAS can reject
##% it by returning a 488 (Not Acceptable Here) response for the re-
##% INVITE.  This response SHOULD include a Warning header field.
def test_a_re_offer_with_fewer_m_lines_is_refused_and_the_session_kept() -> None:
    net, alice, bob = pair()
    call, incoming = call_up(net, alice, bob, OFFER_4317.replace(b"97 iLBC/8000", b"97 x/8000"))
    kept = incoming.negotiation.local
    fewer = OFFER_4317.split(b"m=video")[0].replace(b"2890844526 IN", b"2890844527 IN")
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, fewer))
    net.run(net.now + 0.3)
    (response,) = received(alice, "488 INVITE")
    assert "never fewer" in response.headers.get("Warning")
    assert incoming.negotiation.local == kept and call.negotiation.remote == kept


def test_the_application_s_policy_decides_the_answer_to_a_re_invite() -> None:
    class Declining(AnswerPolicy):
        refuse = False

        def accept_stream(self, call: object, index: int, media: object) -> bool:
            return not self.refuse

    net, alice, bob = pair()
    policy = Declining()
    sdp(bob).describer.policy = policy
    call, _incoming = call_up(net, alice, bob)
    policy.refuse = True
    net.call(alice, sdp(alice).hold(call, net.now))
    net.run(net.now + 0.3)
    (response,) = received(alice, "488 INVITE")
    assert "not accepted" in response.headers.get("Warning")


# -- reliable provisional responses and UPDATE ----------------------------------------------


def test_an_answer_in_a_reliable_183_and_an_update_to_hold() -> None:
    net, alice, bob = pair(rel=True)
    offer = sdp(alice).describer.offer_for_new_call()
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=offer)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    early = sdp(bob).describer.answer(incoming, offer)
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=early))
    net.run(net.now + 0.3)
    assert received(bob, "PRACK")
    assert sdp(alice).describer.negotiated(call)[0].codec == "PCMA/8000"
    describer = sdp(alice).describer
    describer.hold(call)
    update = alice.ua.extension("update")
    net.call(alice, update.update(call, net.now, describer.offer(call)))  # type: ignore[attr-defined]
    net.run(net.now + 0.3)
    assert parse(received(alice, "200 UPDATE")[-1].body).media[0].own_direction == "recvonly"
    assert sdp(bob).describer.negotiated(incoming)[0].direction == "recvonly"


# -- answers that do not match ---------------------------------------------------------------


def test_answer_problems_names_what_does_not_match_the_offer() -> None:
    offer = OFFER_4317
    added = OFFER_4317 + b"m=audio 4000 RTP/AVP 0\r\n"
    assert "3 m= lines, the offer 2" in answer_problems(offer, added)[0]
    wrong = OFFER_4317.replace(b"0 8 97", b"18").replace(b"m=video 51372", b"m=audio 51372")
    problems = answer_problems(offer, wrong)
    assert any("no format of the answer was offered" in p for p in problems)
    assert any("media audio answers video" in p for p in problems)
    held = OFFER_4317 + b"a=sendonly\r\n"
    assert any("sendonly answers sendonly" in p for p in answer_problems(held, held))
    assert answer_problems(offer, b"junk")[0].startswith("SDP line 1")


# -- directions, payload types, capabilities ----------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer wishes to only send media on a stream to its peer, it
##% MUST mark the stream as sendonly with the "a=sendonly" attribute.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer
##% wishes to only receive media from its peer, it MUST mark the stream as recvonly.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer wishes to communicate, but wishes to neither send nor receive media
##% at this time, it MUST mark the stream with an "a=inactive" attribute.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If an offered media
##% stream is listed as inactive, it MUST be marked as inactive in the
##% answer.
@pytest.mark.parametrize(
    ("wanted", "answered"),
    [("recvonly", "sendonly"), ("inactive", "inactive"), ("sendonly", "recvonly")],
)
def test_each_direction_offered_and_mirrored(wanted: str, answered: str) -> None:
    net, alice, bob = pair()
    call, _incoming = call_up(net, alice, bob)
    sdp(alice).describer.want(call, wanted)
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, sdp(alice).describer.offer(call)))
    net.run(net.now + 0.3)
    assert parse(received(bob, "INVITE")[-1].body).media[0].own_direction == wanted
    assert parse(received(alice, "200 INVITE")[-1].body).media[0].own_direction == answered
    with pytest.raises(ValueError):
        sdp(alice).describer.want(call, "sideways")


def test_holding_a_recvonly_stream_makes_it_inactive() -> None:
    describer = SdpDescriber()
    call = object.__new__(type("FakeCall", (), {}))
    describer.want(call, "recvonly")
    describer.hold(call)
    assert describer._media(call).direction == "inactive" and describer.is_held(call)
    describer.hold(call, held=False)
    assert not describer.is_held(call)


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
##= type=test
##% However, in the
##% case of RTP, the mapping from a particular dynamic payload type
##% number to a particular codec within that media stream MUST NOT change
##% for the duration of a session.
def test_a_re_offer_keeps_the_payload_types_the_session_uses() -> None:
    net, alice, bob = pair("PCMU,opus", "opus,telephone-event")
    offer = (
        OFFER_4317.split(b"m=video")[0]
        .replace(b"0 8 97", b"111 96")
        .replace(b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", b"")
        .replace(b"97 iLBC/8000", b"96 opus/48000/2\r\na=rtpmap:111 telephone-event/8000")
    )
    _call, incoming = call_up(net, alice, bob, offer)
    # Bob re-offers: opus keeps 96, telephone-event keeps 111 (not its usual 101).
    net.call(bob, sdp(bob).hold(incoming, net.now))
    net.run(net.now + 0.3)
    reoffer = parse(received(alice, "INVITE")[-1].body).media[0]
    assert reoffer.formats == ["96", "111"]
    assert reoffer.rtpmap("111").encoding == "telephone-event"


##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% It MUST be a valid SDP, except that it MAY omit both "e="
##% and "p=" lines.  The "t=" line MUST be equal to "0 0".  For each
##% media type supported by the agent, there MUST be a corresponding
##% media description of that type.  The session ID in the origin field
##% MUST be unique for each SDP constructed to indicate media
##% capabilities.  The port MUST be set to zero, but the connection
##% address is arbitrary.
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% For each media format of that type supported by the
##% agent, there SHOULD be a media format listed in the "m=" line.  In
##% the case of RTP, if dynamic payload types are used, an rtpmap
##% attribute MUST be present to bind the type to a specific format.
def test_capabilities_sdp_has_port_zero_and_unique_session_ids() -> None:
    describer = SdpDescriber(codecs_from_names("PCMU,opus"))
    first, second = parse(describer.capabilities()), parse(describer.capabilities())
    assert first.origin.sess_id != second.origin.sess_id
    (media,) = first.media
    assert (media.port, media.formats, first.times[0].start) == (0, ["0", "111"], 0)
    assert media.rtpmap("111").encoding == "opus" and "rtpmap" in str(media.attributes[1])


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##= type=test
##% An agent MUST be capable of receiving SDP with a
##% connection address of 0.0.0.0, in which case it means that neither
##% RTP nor RTCP should be sent to the peer.
def test_an_answer_at_0_0_0_0_means_send_nothing() -> None:
    net, alice, bob = pair()
    sdp(bob).describer.address = "0.0.0.0"
    call, _ = call_up(net, alice, bob)
    assert sdp(alice).describer.negotiated(call)[0].direction == "recvonly"


##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% This implies that if the offer contained zero
##% "m=" lines, the answer MUST contain zero "m=" lines.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% Although the SDP specification allows
##% for multiple session descriptions to be concatenated together into a
##% large SDP message, an SDP message used in the offer/answer model MUST
##% contain exactly one session description.
def test_zero_streams_and_concatenated_descriptions() -> None:
    net, alice, bob = pair()
    empty = OFFER_4317.split(b"m=audio")[0]
    call_up(net, alice, bob, empty)
    assert parse(received(alice, "200 INVITE")[0].body).media == []
    net, alice, bob = pair()
    _, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=empty * 2)
    net.call(alice, effects)
    net.run(net.now + 0.2)
    (response,) = received(alice, "488 INVITE")
    assert "line 6 (v=)" in response.headers.get("Warning")
