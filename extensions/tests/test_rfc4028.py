"""RFC 4028: session timers between two UAs, time moved by hand (extensions/rfc4028.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extensions.rfc3262 import ReliableProvisional
from extensions.rfc3311 import UpdateExtension
from extensions.rfc4028 import (
    MinSE,
    SessionExpired,
    SessionExpires,
    SessionIntervalSet,
    SessionRefreshSent,
    SessionTimer,
)
from rfc3261.errors import ParseError
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Request, Response, parse
from rfc3261.session import Call, CallEnded, CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua

OFFER = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n"
ANSWER = b"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\n"
ALICE, BOB = "alice.example.com", "bob.example.com"


@pytest.fixture(autouse=True)
def timer_headers() -> Iterator[None]:
    yield
    for name in ("Session-Expires", "Min-SE", "RSeq", "RAck"):  # the registry is per process
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def pair(
    alice_timer: SessionTimer | None = None,
    bob_timer: SessionTimer | None = None,
    *,
    update: bool = False,
) -> tuple[Network, Node, Node]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    for node, timer in ((alice, alice_timer), (bob, bob_timer)):
        if timer is not None:
            node.ua.use(timer)
        if update:
            node.ua.use(UpdateExtension())
    return net, alice, bob


def call_up(
    net: Network, alice: Node, bob: Node, headers: list[tuple[str, str]] | None = None
) -> tuple[Call, Call]:
    """Alice calls Bob, who answers at once; both sides see the call established."""
    call, effects = alice.ua.sessions.invite(
        "sip:bob@bob.example.com", net.now, body=OFFER, headers=headers or []
    )
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))
    net.run(net.now + 0.5)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)
    return call, incoming


def received(node: Node, kind: str) -> list[Any]:
    """What ``node`` received of ``kind``: a method, or "status METHOD" ("200 INVITE")."""
    out = []
    for _, message in node.received:
        if isinstance(message, Request):
            if message.method == kind:
                out.append(message)
        elif f"{message.status} {message.cseq.method}" == kind:
            out.append(message)
    return out


def sent_at(net: Network, host: str, method: str) -> list[float]:
    return [t for t, src, _, line in net.wire if src == host and line.startswith(method + " ")]


def timer_of(node: Node) -> SessionTimer:
    extension = node.ua.extension("timer")
    assert isinstance(extension, SessionTimer)
    return extension


# -- the header fields ----------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% The syntax of the Session-Expires header field is as follows:
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% Note that a compact form, the letter x, has been reserved for
##% Session-Expires.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% The syntax of the Min-SE header field is as follows:
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% In other words, SIP entities MUST be prepared to handle Session-Expires
##% header field values of any duration greater than 90 seconds
def test_session_expires_and_min_se_parse_typed_with_the_compact_form() -> None:
    pair(SessionTimer())  # installing the extension registers the header fields
    data = (
        b"INVITE sip:bob@bob.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP alice.example.com;branch=z9hG4bK1\r\n"
        b"To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
        b"Call-ID: 1@alice\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        b"x: 1800;Refresher=UAS;foo=bar\r\nMin-SE: 120;a\r\nContent-Length: 0\r\n\r\n"
    )
    request = parse(data)
    expires = request.header("Session-Expires")
    assert expires == SessionExpires(1800, "uas", {"foo": "bar"})
    assert str(expires) == "1800;refresher=uas;foo=bar"
    assert request.header("Min-SE") == MinSE(120, {"a": None})
    for bad in ("soon", "90;refresher=both", "-5"):
        with pytest.raises(ParseError):
            SessionExpires.parse(bad)
    with pytest.raises(ParseError):
        MinSE.parse("ninety")
    assert SessionExpires.parse("4294967295").delta == 2**32 - 1  # any duration over 90 s


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% This minimum interval MUST
##% NOT be lower than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% If a Min-SE header is included in the
##% initial session refresh request, the value of the Session-Expires
##% MUST be greater than or equal to the value in Min-SE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% When present in a request or response, its value MUST NOT be less than 90 seconds.
def test_configuration_below_the_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="90"):
        SessionTimer(min_se=60)
    with pytest.raises(ValueError, match="below min_se"):
        SessionTimer(session_expires=100, min_se=200)
    with pytest.raises(ValueError, match="refresher"):
        SessionTimer(refresher="me")


# -- negotiation (§7.1, §7.2, §9) ----------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% However, 1800 seconds (30
##% minutes) is RECOMMENDED as the value for the Session-Expires header
##% field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% but entities that insert the Session-Expires header field
##% SHOULD NOT choose values of less than 30 minutes.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% However, usage of either Require or
##% Proxy-Require by the UAC is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% The UAC MAY include a Require header field in the request with the
##% value 'timer' to indicate that the UAS must support the session timer
##% to participate in the session.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% The Supported header field containing 'timer' MUST still
##% be included, even if the Require or Proxy-Require header fields are
##% present containing 'timer'.
@pytest.mark.parametrize("require", [False, True])
def test_the_default_initial_invite_asks_for_thirty_minutes(require: bool) -> None:
    net, alice, bob = pair(SessionTimer(require=require), SessionTimer())
    call_up(net, alice, bob)
    invite = received(bob, "INVITE")[0]
    assert invite.header("Session-Expires") == SessionExpires(1800)
    assert "Min-SE" not in invite.headers  # 90 s, the default, goes unsaid
    assert "timer" in [str(t) for t in invite.header("Supported")]
    assert ("timer" in [str(t) for t in invite.header("Require") or []]) is require


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC that supports the session timer extension defined here MUST
##% include a Supported header field in each request (except ACK),
##% listing the option tag 'timer' [2].
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC MAY include a Session-Expires header field in an initial
##% session refresh request if it wants a session timer applied to the
##% session.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% The UAC MAY include the refresher parameter with value 'uac' if it
##% wants to perform the refreshes.  However, it is RECOMMENDED that the
##% parameter be omitted so that it can be selected by the negotiation
##% mechanisms described below.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the UAS wishes to accept the request, it copies the value of the
##% Session-Expires header field from the request into the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS MUST set the value of the refresher parameter in the
##% Session-Expires header field in the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the refresher parameter in the Session-Expires header field in the
##% 2xx response has a value of 'uac', the UAS MUST place a Require
##% header field into the response with the value 'timer'.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The UAC MUST set the
##% identity of the refresher to the value of this parameter.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% If it
##% does, the UAC MUST look for the Session-Expires header field to
##% process the response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The session timer requires a UA to create and maintain state.  This
##% state includes the session interval, the session expiration, and the
##% identity of the refresher.  This state is associated with the dialog
##% on which the session has been negotiated.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% Just like the UAC, the UAS stores state for the session timer.  This
##% state includes the session interval, the session expiration, and the
##% identity of the refresher.  This state is bound to the dialog used to
##% set up the session.
def test_both_support_the_uas_leaves_the_refreshes_to_the_uac() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=600), SessionTimer())
    call, incoming = call_up(net, alice, bob)
    invite = received(bob, "INVITE")[0]
    assert "timer" in [str(t) for t in invite.header("Supported")]
    assert invite.header("Session-Expires") == SessionExpires(600)  # no refresher (§7.1)
    ok = received(alice, "200 INVITE")[0]
    assert ok.header("Session-Expires") == SessionExpires(600, "uac")
    assert "timer" in [str(t) for t in ok.header("Require")]
    mine = timer_of(alice).sessions[call.established.id]
    theirs = timer_of(bob).sessions[incoming.established.id]
    assert (mine.interval, mine.local_refresher) == (600, True)
    assert (theirs.interval, theirs.local_refresher) == (600, False)
    assert alice.of(SessionIntervalSet)[-1].interval == 600


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The value is
##% based on the value of this parameter in the request, and on whether
##% the UAC supports the session timer extension.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% However, as the table
##% indicates, the UAS cannot override the UAC's choice of refresher, if
##% it made one.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the refresher parameter in
##% the 2xx response has a value of 'uas' and the Supported header field
##% in the request contained the value 'timer', the UAS SHOULD place a
##% Require header field into the response with the value 'timer'.
@pytest.mark.parametrize(
    ("asked", "preferred", "expected"),
    [(None, "uas", "uas"), (None, "uac", "uac"), ("uac", "uas", "uac"), ("uas", "uac", "uas")],
)
def test_table_2_when_the_uac_supports_the_extension(
    asked: str | None, preferred: str, expected: str
) -> None:
    net, alice, bob = pair(
        SessionTimer(session_expires=300, refresher=asked), SessionTimer(uas_refresher=preferred)
    )
    call, incoming = call_up(net, alice, bob)
    ok = received(alice, "200 INVITE")[0]
    assert ok.header("Session-Expires").refresher == expected
    assert "timer" in [str(t) for t in ok.header("Require")]
    assert timer_of(alice).sessions[call.established.id].local_refresher is (expected == "uac")
    assert timer_of(bob).sessions[incoming.established.id].local_refresher is (expected == "uas")


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The value is
##% based on the value of this parameter in the request, and on whether
##% the UAC supports the session timer extension.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If UA wishes to continue with the session
##% beyond the session expiration, it MUST generate a refresh before the
##% session expiration.  It is RECOMMENDED that this refresh be sent once
##% half the session interval has elapsed.
def test_table_2_a_uac_without_the_extension_leaves_the_refreshes_to_the_uas() -> None:
    # Alice has no timer extension, but (as a proxy would) her INVITE asks for 300 s.
    net, alice, bob = pair(None, SessionTimer())
    _call, incoming = call_up(net, alice, bob, headers=[("Session-Expires", "300")])
    ok = received(alice, "200 INVITE")[0]
    assert ok.headers.get("Session-Expires") == "300;refresher=uas"
    assert "timer" not in [str(t) for t in ok.header("Require") or []]
    state = timer_of(bob).sessions[incoming.established.id]
    assert (state.interval, state.local_refresher) == (300, True)
    net.run(net.now + 149)
    assert not received(alice, "INVITE")
    net.run(net.now + 2)
    assert len(received(alice, "INVITE")) == 1  # Bob's refresh reached Alice at 150 s


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% In this case, if the UAC still wishes to use the
##% session timer (which is purely for its benefit alone), it has to
##% perform them.  To do this, the UAC follows the procedures defined in
##% this specification as if the Session-Expires header field were in the
##% 2xx response, and its value was the same as that in the request, but
##% with a refresher parameter of 'uac'.
def test_a_uas_without_the_extension_leaves_the_uac_refreshing_its_own_interval() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=200), None)
    call, _ = call_up(net, alice, bob)
    assert "Session-Expires" not in received(alice, "200 INVITE")[0].headers
    state = timer_of(alice).sessions[call.established.id]
    assert (state.interval, state.local_refresher) == (200, True)
    net.run(net.now + 101)
    assert len(received(bob, "INVITE")) == 2


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% If the 2xx response did not contain a Session-Expires header field,
##% there is no session expiration.  In this case, no refreshes need to
##% be sent.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the
##% most recent 2xx response had no Session-Expires header field, there
##% is no session expiration, and no refreshes have to be performed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% It MUST do so even if the UAC is
##% not requesting usage of the session timer for this session.
def test_no_timer_asked_by_either_side_means_no_refreshes() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=None), SessionTimer(session_expires=None))
    call, _ = call_up(net, alice, bob)
    assert "Session-Expires" not in received(bob, "INVITE")[0].headers
    assert "timer" in [str(t) for t in received(bob, "INVITE")[0].header("Supported")]
    assert "Session-Expires" not in received(alice, "200 INVITE")[0].headers
    assert not timer_of(alice).sessions and not timer_of(bob).sessions
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER))
    net.run(net.now + 1)
    reinvite = received(bob, "INVITE")[1]
    assert "timer" in [str(t) for t in reinvite.header("Supported")]  # in a dialog too
    net.run(net.now + 4000)
    assert len(received(bob, "INVITE")) == 2 and not received(bob, "BYE")


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS may request a session timer in the 2XX response by
##% including a Session-Expires header field.  The value MUST NOT be set
##% to a duration lower than the value in the Min-SE header field in the
##% request, if it is present.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% UACs MUST be prepared to receive a Session-Expires header field in a
##% response, even if none were present in the request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% The Min-SE header field MUST NOT be used in responses except for
##% those with a 422 response code.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC MAY include the Min-SE header field in the initial INVITE
##% request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The UAC may have its own opinions about the minimum session interval.
##% In that case, if the value above is too small, the UAC MAY increase
##% it.
def test_the_uas_asks_for_a_timer_the_uac_did_not() -> None:
    net, alice, bob = pair(
        SessionTimer(session_expires=None, min_se=400), SessionTimer(session_expires=100)
    )
    call, _ = call_up(net, alice, bob)
    assert received(bob, "INVITE")[0].headers.get("Min-SE") == "400"
    ok = received(alice, "200 INVITE")[0]
    assert ok.header("Session-Expires") == SessionExpires(400, "uac")  # raised to Min-SE
    assert "Min-SE" not in ok.headers
    assert timer_of(alice).sessions[call.established.id].interval == 400


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS response MAY reduce its value but MUST NOT set it to a
##% duration lower than the value in the Min-SE header field in the
##% request, if it is present; otherwise the UAS MAY reduce its value but
##% MUST NOT set it to a duration lower than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS MUST
##% NOT increase the value of the Session-Expires header field.
@pytest.mark.parametrize(
    ("asked", "min_se", "uas_wants", "granted"),
    [(1800, 90, 600, 600), (1800, 900, 600, 900), (300, 90, 600, 300), (1800, 90, None, 1800)],
)
def test_the_uas_may_reduce_the_interval_down_to_min_se_never_increase_it(
    asked: int, min_se: int, uas_wants: int | None, granted: int
) -> None:
    net, alice, bob = pair(
        SessionTimer(session_expires=asked, min_se=min_se),
        SessionTimer(session_expires=uas_wants),
    )
    call_up(net, alice, bob)
    assert received(alice, "200 INVITE")[0].header("Session-Expires").delta == granted


# -- 422 (§6, §7.3, §9) -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If an incoming request contains a Supported header field with a value
##% 'timer' and a Session Expires header field, the UAS MAY reject the
##% INVITE request with a 422 (Session Interval Too Small) response if
##% the session interval in the Session-Expires header field is smaller
##% than the minimum interval defined by the UAS' local policy.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% When
##% sending the 422 response, the UAS MUST include a Min-SE header field
##% with the value of its minimum interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-6
##= type=test
##% The 422 response MUST contain a Min-SE
##% header field with the minimum timer for that server.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
##= type=test
##% If the response to a session refresh request is a 422 (Session
##% Interval Too Small) response message, then the UAC MAY retry the
##% request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
##= type=test
##% This new request constitutes a new transaction and SHOULD have the
##% same value as the Call-ID, To, and From of the previous request, but
##% the CSeq should contain a new sequence number that is one higher than
##% the previous.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% Similarly, if no dialog has been
##% established yet, a UAC MUST insert the Min-SE header field into an
##% INVITE request if it has ever received a 422 response to a previous
##% INVITE request with the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If
##% no dialog has been established, the Min-SE header field value is set
##% to the largest value among all Min-SE header field values returned in
##% all 422 responses for an INVITE request with the same Call-ID.
def test_a_too_small_interval_gets_422_and_the_retry_carries_the_larger_min_se() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=120), SessionTimer(min_se=300))
    call, incoming = call_up(net, alice, bob)
    rejected = received(alice, "422 INVITE")
    assert len(rejected) == 1 and rejected[0].headers.get("Min-SE") == "300"
    first, second = received(bob, "INVITE")
    assert "Min-SE" not in first.headers
    assert second.headers.get("Min-SE") == "300"
    assert second.header("Session-Expires").delta == 300
    assert (second.call_id, str(second.from_), str(second.to)) == (
        first.call_id,
        str(first.from_),
        str(first.to),
    )
    assert second.cseq.number == first.cseq.number + 1
    assert timer_of(alice).sessions[call.established.id].interval == 300
    assert not incoming.ended


##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% However, the UAC SHOULD NOT continuously retry the request if the server
##% indicates the same error response.
def test_a_422_that_raises_nothing_is_not_retried() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    alice.ua.use(SessionTimer(session_expires=120))

    def stubborn(request: Request) -> list[Response]:
        if request.method != "INVITE":
            return []
        response = request.make_response(422, to_tag="x")
        response.headers.add("Min-SE", "100")
        return [response]

    net.add_script(BOB, stubborn)
    _, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=OFFER)
    net.call(alice, effects)
    net.run(5)
    invites = [line for _, src, _, line in net.wire if src == ALICE and line.startswith("INVITE")]
    # The retry with Min-SE: 100 (and Session-Expires: 120) gets 422 Min-SE: 100 again: stop.
    assert len(invites) == 2


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If an incoming request contains a Supported header field with a value
##% 'timer' and a Session Expires header field, the UAS MAY reject the
##% INVITE request with a 422 (Session Interval Too Small) response if
##% the session interval in the Session-Expires header field is smaller
##% than the minimum interval defined by the UAS' local policy.
def test_no_422_to_a_uac_that_does_not_support_timer() -> None:
    net, alice, bob = pair(None, SessionTimer(min_se=600))
    call_up(net, alice, bob, headers=[("Session-Expires", "120")])
    assert not received(alice, "422 INVITE")
    assert received(alice, "200 INVITE")[0].headers.get("Session-Expires") == "120;refresher=uas"


# -- refreshes (§7.4, §10) -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% If the UA
##% seeks to continue with the session beyond the session expiration, it
##% MUST generate a refresh before the session expiration.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% It is
##% RECOMMENDED that this refresh be sent once half the session interval
##% has elapsed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% A re-INVITE generated to refresh the session is a normal re-INVITE,
##% and an UPDATE generated to refresh a session is a normal UPDATE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% It is RECOMMENDED that the UPDATE request not contain an
##% offer [4], but a re-INVITE SHOULD contain one, even if the details of
##% the session have not changed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% In that case, the offer MUST indicate
##% that it has not changed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% In a session refresh request sent within a dialog with an active
##% session timer, the Session-Expires header field SHOULD be present.
##% When present, it SHOULD be equal to the maximum of the Min-SE header
##% field (recall that its default value when not present is 90 seconds)
##% and the current session interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If the session refresh request is not the initial one, it is
##% RECOMMENDED that the refresher parameter be set to 'uac' if the
##% element sending the request is currently performing refreshes, and to
##% 'uas' if its peer is performing the refreshes.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The session expiration is the time of
##% reception of the last 2xx response to a session refresh request on
##% that dialog plus the session interval for that session.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The UAC remembers the session interval for a session as the value of
##% the delta-time from the Session-Expires header field in the most
##% recent 2xx response to a session refresh request on a dialog.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% The side generating a refresh does so according to the UAC procedures
##% defined in Section 7.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The values of Supported, Require, and Proxy-Require used in the
##% initial Session refresh request MUST be used.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% As such, a UA
##% should only ignore the SHOULD in unusual and singular cases where it
##% is desirable to change the session interval mid-dialog.
def test_the_refresher_re_invites_at_half_the_interval_with_the_same_offer() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=300), SessionTimer())
    call, incoming = call_up(net, alice, bob)
    established = net.now
    net.run(established + 149)
    assert len(received(bob, "INVITE")) == 1
    net.run(established + 151)
    refresh = received(bob, "INVITE")[1]
    assert refresh.to.tag is not None and refresh.body == OFFER  # unchanged (same o= line)
    assert refresh.header("Session-Expires") == SessionExpires(300, "uac")
    assert "timer" in [str(t) for t in refresh.header("Supported")]
    assert alice.of(SessionRefreshSent)[-1].method == "INVITE"
    assert alice.of(SessionRefreshSent)[-1].describe().startswith("session refresh sent (INVITE")
    # Each 2xx restarts the timer: ten minutes later the call is alive with four refreshes.
    net.run(established + 650)
    assert len(received(bob, "INVITE")) == 5
    assert not received(bob, "BYE") and not received(alice, "BYE")
    assert not call.ended and not incoming.ended


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If
##% a UAC knows that its peer supports the UPDATE method, it is
##% RECOMMENDED that UPDATE be used instead of a re-INVITE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% It is RECOMMENDED that the UPDATE request not contain an
##% offer [4], but a re-INVITE SHOULD contain one, even if the details of
##% the session have not changed.
@pytest.mark.parametrize("refresher", ["uac", "uas"])
def test_with_update_allowed_the_refresh_is_an_update_without_offer(refresher: str) -> None:
    net, alice, bob = pair(
        SessionTimer(session_expires=120), SessionTimer(uas_refresher=refresher), update=True
    )
    call, incoming = call_up(net, alice, bob)
    net.run(net.now + 61)
    peer = bob if refresher == "uac" else alice
    updates = received(peer, "UPDATE")
    assert len(updates) == 1 and not updates[0].body
    expires = updates[0].header("Session-Expires")
    assert expires == SessionExpires(120, "uac")
    assert len(received(peer, "INVITE")) == (1 if refresher == "uac" else 0)
    ok = received(alice if refresher == "uac" else bob, "200 UPDATE")[0]
    assert ok.header("Session-Expires") == SessionExpires(120, "uac")
    net.run(net.now + 300)
    assert not call.ended and not incoming.ended


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The UAC MUST insert the Min-SE header field into a session refresh
##% request for a particular dialog if it has ever received a 422
##% response to a previous session refresh request on the same dialog, or
##% if it has received a session refresh request on that dialog that
##% contained a Min-SE header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The value of the Min-SE header field present in a session refresh
##% request MUST be the largest value among all Min-SE header field
##% values returned in all 422 responses or received in session refresh
##% requests, on the same dialog, if a dialog has been established.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% This means that a UA
##% could attempt a refresh and receive a 422 response with a Min-SE
##% header field that contains a value much larger than the current
##% session interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% If the session refresh request does not
##% generate a 2xx response (and, as a result, the session is not
##% refreshed), and a response other than 408 or 481 is received, the UAC
##% SHOULD follow the rules specific to that response code and retry if
##% possible.
def test_a_refresh_refused_with_422_is_retried_with_min_se_and_renegotiates() -> None:
    bob_timer = SessionTimer()
    net, alice, bob = pair(SessionTimer(session_expires=120), bob_timer)
    call, incoming = call_up(net, alice, bob)
    bob_timer.min_se = 400  # Bob's policy changes mid-call
    net.run(net.now + 61)
    rejected = received(alice, "422 INVITE")
    assert len(rejected) == 1 and rejected[0].headers.get("Min-SE") == "400"
    retry = received(bob, "INVITE")[-1]
    assert retry.headers.get("Min-SE") == "400"
    assert retry.header("Session-Expires") == SessionExpires(400, "uac")
    assert timer_of(alice).sessions[call.established.id].interval == 400
    assert timer_of(bob).sessions[incoming.established.id].interval == 400
    # The next refresh is 200 s later and still names the Min-SE learnt on the dialog.
    net.run(net.now + 201)
    assert received(bob, "INVITE")[-1].headers.get("Min-SE") == "400"
    assert not call.ended


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the
##% most recent 2xx response had no Session-Expires header field, there
##% is no session expiration, and no refreshes have to be performed.
def test_a_2xx_without_session_expires_turns_the_timer_off() -> None:
    # Alice (no extension) asks for 300 s as a proxy would; Bob, who wants no timer of
    # his own, accepts and refreshes.  Her re-INVITE without Session-Expires turns it off.
    net, alice, bob = pair(None, SessionTimer(session_expires=None))
    call, incoming = call_up(net, alice, bob, headers=[("Session-Expires", "300")])
    assert timer_of(bob).sessions[incoming.established.id].local_refresher
    net.call(alice, alice.ua.sessions.reinvite(call, net.now, OFFER))
    net.run(net.now + 1)
    assert "Session-Expires" not in received(alice, "200 INVITE")[-1].headers
    assert incoming.established.id not in timer_of(bob).sessions
    assert bob.of(SessionIntervalSet)[-1].interval is None
    net.run(net.now + 1000)
    assert not received(alice, "INVITE") and not received(alice, "BYE")


# -- expiry (§10) ---------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% Similarly, if the side not performing refreshes does not receive a
##% session refresh request before the session expiration, it SHOULD send
##% a BYE to terminate the session, slightly before the session
##% expiration.  The minimum of 32 seconds and one third of the session
##% interval is RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The session expiration is the time of transmission of
##% the last 2xx response to a session refresh request on that dialog
##% plus the session interval.
@pytest.mark.parametrize(("interval", "margin"), [(90, 30.0), (300, 32.0)])
def test_the_other_side_sends_bye_when_no_refresh_comes(interval: int, margin: float) -> None:
    net, alice, bob = pair(SessionTimer(session_expires=interval), SessionTimer())
    call, incoming = call_up(net, alice, bob)
    answered = sent_at(net, BOB, "SIP/2.0 200")[0]
    # Alice never refreshes (her timer is dropped): Bob ends the session before it expires.
    timer_of(alice).forget(call.established.id)
    net.run(answered + interval)
    byes = sent_at(net, BOB, "BYE")
    assert byes and byes[0] == pytest.approx(answered + interval - margin)
    assert bob.of(SessionExpired) and incoming.ended
    assert bob.of(SessionExpired)[0].describe().startswith("session expired without refresh")
    assert alice.of(CallEnded)[-1].reason == "remote BYE"
    assert not timer_of(bob).sessions and not timer_of(alice).sessions


##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% If the session refresh request transaction times out or generates a
##% 408 or 481 response, then the UAC sends a BYE request as per Section
##% 12.2.1.2 of RFC 3261 [2].
def test_a_refresher_whose_refreshes_fail_ends_the_session() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=120), SessionTimer(), update=True)
    call, _incoming = call_up(net, alice, bob)
    # Bob forgets the dialog (as after a restart): the UPDATE refresh gets 481.
    bob.ua.dialogs.clear()
    net.run(net.now + 61)
    assert received(alice, "481 UPDATE")
    assert sent_at(net, ALICE, "BYE")
    assert alice.of(SessionExpired) and call.ended


# -- the end of the session -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC that supports the session timer extension defined here MUST
##% include a Supported header field in each request (except ACK),
##% listing the option tag 'timer' [2].
def test_refreshes_stop_after_bye_and_no_timer_outlives_the_dialog() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=120), SessionTimer())
    call, incoming = call_up(net, alice, bob)
    net.run(net.now + 61)
    assert len(received(bob, "INVITE")) == 2
    net.call(bob, bob.ua.sessions.bye(incoming, net.now))  # the non-refresher hangs up
    net.run(net.now + 1)
    assert "timer" in [str(t) for t in received(alice, "BYE")[0].header("Supported")]
    assert call.ended and incoming.ended
    assert not timer_of(alice).sessions and not timer_of(bob).sessions
    net.run(net.now + 1000)
    assert len(received(bob, "INVITE")) == 2
    assert not alice.of(SessionRefreshSent)[1:] and not bob.of(SessionExpired)
    # Every timer of both UAs has fired or been cancelled: nothing is left to run.
    assert alice.ua.next_deadline() is None and bob.ua.next_deadline() is None


##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% If the session refresh request transaction times out or generates a
##% 408 or 481 response, then the UAC sends a BYE request as per Section
##% 12.2.1.2 of RFC 3261 [2].
def test_a_refresh_re_invite_that_times_out_ends_the_session() -> None:
    net, alice, bob = pair(SessionTimer(session_expires=300), SessionTimer())
    call, _ = call_up(net, alice, bob)
    start = net.now
    net.drop = lambda src, dst, m: isinstance(m, Request) and m.method == "INVITE"
    net.run(start + 200)
    refreshed = next(t for t in sent_at(net, ALICE, "INVITE") if t > start)  # (+ copies)
    byes = sent_at(net, ALICE, "BYE")
    # Timer B (64*T1 = 32 s) ends the re-INVITE with a 408: BYE then, before Bob's 268 s.
    assert byes and byes[0] == pytest.approx(refreshed + 32, abs=0.1)
    assert call.ended and not timer_of(alice).sessions


def test_a_2xx_held_for_a_prack_still_starts_the_uas_timer() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    for node in (alice, bob):
        node.ua.use(ReliableProvisional())  # installed first: it claims the held 2xx
        node.ua.use(SessionTimer(session_expires=120))
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=OFFER)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    incoming = bob.of(IncomingCall)[-1].call
    net.call(bob, bob.ua.sessions.ring(incoming, net.now, 183, body=ANSWER))
    net.call(bob, bob.ua.sessions.answer(incoming, net.now, body=ANSWER))  # held: no PRACK yet
    net.run(net.now + 1)
    assert call.established is not None and incoming.established is not None
    state = timer_of(bob).sessions[incoming.established.id]
    assert (state.interval, state.local_refresher) == (120, False)
    net.run(net.now + 61)
    assert len(received(bob, "INVITE")) + len(received(bob, "UPDATE")) == 2


def test_a_cancel_carries_no_supported() -> None:
    # RFC 3261 Table 3 gives CANCEL no Supported: the extension leaves it out there.
    net, alice, bob = pair(SessionTimer(), SessionTimer())
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=OFFER)
    net.call(alice, effects)
    net.run(net.now + 0.05)
    net.call(bob, bob.ua.sessions.ring(bob.of(IncomingCall)[-1].call, net.now))
    net.run(net.now + 0.05)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(net.now + 1)
    (cancel,) = received(bob, "CANCEL")
    assert "Supported" not in cancel.headers
