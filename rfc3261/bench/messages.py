"""The benchmark messages: a softphone INVITE with SDP, its 200 OK, and a REGISTER.

Each message comes with the field values every parser under test must read from it
(`Expected`), so that no parser is timed doing less work than the others.  Hosts are in
documentation ranges (RFC 5737 192.0.2.0/24, RFC 2606 example.com).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expected:
    """The values of the usual fields, as the workload reads them (None: absent)."""

    branch: str
    from_tag: str | None
    to_tag: str | None
    call_id: str
    cseq: tuple[int, str]
    contact_host: str
    content_length: int
    body: bytes


@dataclass(frozen=True)
class BenchMessage:
    """A named wire message and the field values it carries."""

    name: str
    data: bytes
    expected: Expected


def _wire(head: str, body: str = "") -> bytes:
    """Join header lines (one per text line) and a body into a message with Content-Length."""
    lines = head.strip("\n").split("\n")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


INVITE_SDP = _sdp(
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10",
    "s=-",
    "c=IN IP4 192.0.2.10",
    "t=0 0",
    "m=audio 49170 RTP/AVP 0 8 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=sendrecv",
)

INVITE = BenchMessage(
    name="INVITE",
    data=_wire(
        """
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=1928301774
To: <sip:bob@example.com>
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@192.0.2.10:5060;transport=udp>
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE
Supported: replaces
User-Agent: ExamplePhone/5.1
Content-Type: application/sdp
""",
        INVITE_SDP,
    ),
    expected=Expected(
        branch="z9hG4bK776asdhds",
        from_tag="1928301774",
        to_tag=None,
        call_id="a84b4c76e66710",
        cseq=(314159, "INVITE"),
        contact_host="192.0.2.10",
        content_length=len(INVITE_SDP),
        body=INVITE_SDP.encode(),
    ),
)

OK_SDP = _sdp(
    "v=0",
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.20",
    "s=-",
    "c=IN IP4 192.0.2.20",
    "t=0 0",
    "m=audio 3456 RTP/AVP 0 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=sendrecv",
)

OK = BenchMessage(
    name="200 OK",
    data=_wire(
        """
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10
Record-Route: <sip:proxy.example.com;lr>
From: "Alice" <sip:alice@example.com>;tag=1928301774
To: <sip:bob@example.com>;tag=a6c85cf
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.20:5060>
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE
Supported: replaces
Server: ExampleDesk/2.4
Content-Type: application/sdp
""",
        OK_SDP,
    ),
    expected=Expected(
        branch="z9hG4bK776asdhds",
        from_tag="1928301774",
        to_tag="a6c85cf",
        call_id="a84b4c76e66710",
        cseq=(314159, "INVITE"),
        contact_host="192.0.2.20",
        content_length=len(OK_SDP),
        body=OK_SDP.encode(),
    ),
)

REGISTER = BenchMessage(
    name="REGISTER",
    data=_wire(
        """
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;rport
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=456248
To: "Alice" <sip:alice@example.com>
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:alice@192.0.2.10:5060>;expires=3600
Expires: 3600
Authorization: Digest username="alice", realm="example.com", \
nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:example.com", \
response="6629fae49393a05397450978507c4ef1", algorithm=MD5, \
cnonce="0a4f113b", qop=auth, nc=00000001
User-Agent: ExamplePhone/5.1
"""
    ),
    expected=Expected(
        branch="z9hG4bKnashds7",
        from_tag="456248",
        to_tag=None,
        call_id="843817637684230@998sdasdh09",
        cseq=(1826, "REGISTER"),
        contact_host="192.0.2.10",
        content_length=0,
        body=b"",
    ),
)

MESSAGES: tuple[BenchMessage, ...] = (INVITE, OK, REGISTER)
