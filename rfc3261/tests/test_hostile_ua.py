"""Hostile input at the user agent core (issue 13: defects 3 and 8).

Malformed header fields a UAS needs are answered 400 before the request reaches the
transaction user (§8.2), and thousands of INVITE/CANCEL pairs leave nothing behind once
every timer has fired.  The program-level races (defect 7) are in test_programs_ua.py.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from rfc3261.message import Request, Response, parse
from rfc3261.session import IncomingCall
from rfc3261.transaction import SendMessage
from rfc3261.ua_core import UserAgent

from .ua_support import make_ua

SOURCE = "alice.example.com"


def request(method: str, number: int, *extra: str, contact: str | None = None) -> Request:
    """An INVITE (or its CANCEL, ACK...) from alice, branch and Call-ID by ``number``."""
    lines = [
        f"{method} sip:bob@bob.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP alice.example.com;branch=z9hG4bKhostile{number}",
        "Max-Forwards: 70",
        "To: <sip:bob@example.com>",
        f"From: <sip:alice@example.com>;tag=a{number}",
        f"Call-ID: hostile-{number}",
        f"CSeq: 1 {method}",
        *([] if contact is None else [f"Contact: {contact}"]),
        *extra,
        "Content-Length: 0",
    ]
    message = parse(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def sent_responses(effects: list) -> list[Response]:
    return [
        e.message
        for e in effects
        if isinstance(e, SendMessage) and isinstance(e.message, Response)
    ]


# -- defect 3: what the UAS needs is read before the TU sees the request -----------------

MALFORMED = [
    ("Contact", "<sip:alice@>"),  # no host
    ("Contact", "<<<garbage"),
    ("Contact", '"unterminated <sip:alice@alice.example.com>'),
    ("Contact", "<sip:alice@alice.example.com>;;;"),
    ("Contact", "*"),
    ("Contact", "<sip:a@alice.example.com>, <sip:b@alice.example.com>"),
    ("Contact", "<tel:+15551234567>"),
    ("Record-Route", "<sip:proxy@"),
    ("Expires", "soon"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##= type=test
##% The request could not be understood due to malformed syntax.  The
##% Reason-Phrase SHOULD identify the syntax problem in more detail, for
##% example, "Missing Call-ID header field".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
##= type=test
##% If a request is accepted,
##% all state changes associated with it MUST be performed.  If it is
##% rejected, all state changes MUST NOT be performed.
@pytest.mark.parametrize(("name", "value"), MALFORMED)
def test_malformed_header_a_uas_needs_gets_400_and_the_application_sees_nothing(
    name: str, value: str
) -> None:
    bob = make_ua("bob")
    if name == "Contact":
        invite = request("INVITE", 1, contact=value)
    else:
        invite = request("INVITE", 1, f"{name}: {value}", contact="<sip:alice@alice.example.com>")
    effects = bob.receive(invite, SOURCE, 0.0)
    finals = [r for r in sent_responses(effects) if r.status >= 200]
    assert [r.status for r in finals] == [400]
    assert name in finals[0].reason  # the Reason-Phrase names the header field (§21.4.1)
    # Nothing reached the application, and no state was kept for the request.
    assert not [e for e in effects if not isinstance(e, SendMessage)]
    assert bob.sessions.calls == [] and bob.dialogs == {} and bob._merge_keys == {}


def test_malformed_contact_in_a_reinvite_gets_400() -> None:
    # A re-INVITE is a target refresh: its Contact replaces the remote target (§12.2).
    bob = make_ua("bob")
    invite = request("INVITE", 2, contact="<sip:alice@alice.example.com>")
    (call,) = [e.call for e in bob.receive(invite, SOURCE, 0.0) if isinstance(e, IncomingCall)]
    bob.sessions.answer(call, 0.0, body=b"v=0\r\n")
    assert call.server is not None and call.server.dialog is not None
    tag = call.server.dialog.id.local_tag
    lines = bytes(request("INVITE", 3, contact="<sip:alice@>")).decode()
    lines = lines.replace("Call-ID: hostile-3", "Call-ID: hostile-2")
    lines = lines.replace("tag=a3", "tag=a2").replace("CSeq: 1", "CSeq: 2")
    lines = lines.replace("To: <sip:bob@example.com>", f"To: <sip:bob@example.com>;tag={tag}")
    reinvite = parse(lines.encode())
    effects = bob.receive(reinvite, SOURCE, 0.1)
    assert [r.status for r in sent_responses(effects) if r.status >= 200] == [400]
    assert "Contact" in sent_responses(effects)[-1].reason
    assert call.server.dialog.remote_target.host == "alice.example.com"


def test_well_formed_invite_still_reaches_the_application() -> None:
    bob = make_ua("bob")
    effects = bob.receive(request("INVITE", 4, contact="<sip:alice@alice.example.com>"), SOURCE, 0)
    (event,) = [e for e in effects if isinstance(e, IncomingCall)]
    # What the application does with the call can no longer meet an unreadable header.
    ring = bob.sessions.ring(event.call, 0.0)
    assert [r.status for r in sent_responses(ring)] == [180]


# -- defect 8: nothing is retained once every timer has fired ----------------------------


def _hostile_burst(bob: UserAgent, pairs: int, first: int, now: float) -> float:
    """``pairs`` INVITE/CANCEL pairs (every other call ringing first), each with an
    INVITE whose Contact cannot be read and an ACK that matches nothing; then every
    timer is run out.  Returns the time reached."""
    for number in range(first, first + pairs):
        effects = bob.receive(
            request("INVITE", number, contact="<sip:a@alice.example.com>"), SOURCE, now
        )
        for event in effects:
            if isinstance(event, IncomingCall) and number % 2:
                bob.sessions.ring(event.call, now)
        bob.receive(request("CANCEL", number), SOURCE, now)
        bob.receive(request("INVITE", number + 10**7, contact="<sip:a@>"), SOURCE, now)
        bob.receive(request("ACK", number + 2 * 10**7), SOURCE, now)
        now += 0.001
    while (deadline := bob.next_deadline()) is not None:
        now = max(now, deadline)
        bob.handle_timer(now)
    gc.collect()
    return now


def test_thousands_of_invite_cancel_pairs_leave_nothing_behind() -> None:
    # The first burst sizes the UA's tables for that load; after a second burst of the
    # same size and every timer, the memory the UA holds is back where the first left it.
    tracemalloc.start()
    try:
        bob = make_ua("bob")
        now = _hostile_burst(bob, 1000, 0, 0.0)
        start = tracemalloc.get_traced_memory()[0]
        _hostile_burst(bob, 1000, 10**5, now + 1)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after <= start * 1.2, (start, after)
    assert bob.sessions.calls == [] and bob.dialogs == {} and bob._servers == {}
    assert len(bob.log) <= 100  # the dropped ACKs: only the most recent are kept
