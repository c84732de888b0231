"""RFC 3264 on the wire: a UAS as the answerer (§6, §6.1, §8, §9).

The runner offers SDP in an INVITE (or a re-INVITE, or none at all) and judges the answer in
the 2xx: one m= line per offered one, in order and of the same media type, t= equal, rejected
streams with port 0, directions mirrored, rtpmap for dynamic payload types, a new offer's
o= version one higher; and the capability SDP of a 200 to OPTIONS (§9).  The SDP is read
with the small parser below (the suite judges the target with its own eyes, not with the
code under test).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from conformance.cases._uas_support import respond
from conformance.cases.uac_dialog import _Call
from conformance.cases.uac_session import contact_address, in_dialog
from conformance.cases.wellformed import gathered
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, Dialog, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, sdp_answer
from conformance.wire import Link

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass
class _Media:
    """One m= section: the m= line's fields and its a= attributes."""

    media: str
    port: int
    proto: str
    formats: list[str]
    attributes: list[str] = field(default_factory=list)
    connection: str = ""

    def direction(self, session: str = "sendrecv") -> str:
        found = [a for a in self.attributes if a in _DIRECTIONS]
        return found[0] if found else session

    def rtpmap(self, fmt: str) -> str | None:
        for attr in self.attributes:
            if attr.startswith(f"rtpmap:{fmt} "):
                return attr.split(" ", 1)[1].strip()
        return None

    def fmtp(self, fmt: str) -> str | None:
        for attr in self.attributes:
            if attr.startswith(f"fmtp:{fmt} "):
                return attr.split(" ", 1)[1].strip()
        return None


@dataclass
class _Sdp:
    """A session description as the lines the answerer must get right."""

    lines: list[tuple[str, str]]
    media: list[_Media]
    session_attributes: list[str]

    def first(self, kind: str) -> str | None:
        for key, value in self.lines:
            if key == kind:
                return value
        return None

    def count(self, kind: str) -> int:
        return sum(1 for key, _ in self.lines if key == kind)

    @property
    def origin(self) -> list[str]:
        return (self.first("o") or "").split()

    @property
    def direction(self) -> str:
        found = [a for a in self.session_attributes if a in _DIRECTIONS]
        return found[0] if found else "sendrecv"


def _parse(body: bytes) -> _Sdp | None:
    """The SDP in ``body``; None when it is not SDP at all (no v= first, a bad m= line)."""
    text = body.decode("utf-8", "replace")
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        if len(raw) < 2 or raw[1] != "=":
            return None
        lines.append((raw[0], raw[2:].strip()))
    if not lines or lines[0] != ("v", "0"):
        return None
    media: list[_Media] = []
    session_attributes: list[str] = []
    for key, value in lines:
        if key == "m":
            parts = value.split()
            if len(parts) < 3 or not parts[1].split("/")[0].isdigit():
                return None
            media.append(_Media(parts[0], int(parts[1].split("/")[0]), parts[2], parts[3:]))
        elif key == "a":
            (media[-1].attributes if media else session_attributes).append(value)
        elif key == "c" and media:
            media[-1].connection = value
    return _Sdp(lines, media, session_attributes)


def _sdp(
    *streams: str,
    version: int = 1,
    session_id: int | None = None,
    connection: str = "127.0.0.1",
) -> bytes:
    """An offer: the session lines, then each stream given as its m= and a= lines."""
    sid = session_id if session_id is not None else 1000 + len(streams)
    head = (
        f"v=0\r\no=tester {sid} {version} IN IP4 127.0.0.1\r\ns=-\r\n"
        f"c=IN IP4 {connection}\r\nt=0 0\r\n"
    )
    return (head + "".join(s.replace("\n", "\r\n") for s in streams)).encode()


_PCMU = "m=audio 49170 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


def _invite(ctx: Context, link: Link, body: bytes) -> Outgoing:
    return ctx.request("INVITE", link, body=body)


def _answer(ctx: Context, final: Message, what: str = "the 2xx") -> _Sdp:
    """The SDP answer in ``final`` (a check: a 2xx to an offer carries a valid one)."""
    ctx.check(
        bool(final.body) and "sdp" in (final.get("Content-Type") or "").lower(),
        f"an SDP answer in {what}",
        f"{describe(final)}; Content-Type: {final.get('Content-Type')}; "
        f"{len(final.body)} body bytes",
    )
    sdp = _parse(final.body)
    ctx.check(sdp is not None, "a valid SDP answer", final.body[:120].decode("utf-8", "replace"))
    assert sdp is not None  # for the type checker: check() raised otherwise
    return sdp


def _offer_answer(
    ctx: Context, link: Link, offer: bytes, control: bytes | None = None
) -> tuple[_Sdp, Message]:
    """Run the control (the plain PCMU offer, accepted), then INVITE with ``offer``: its 2xx's
    answer (the call is hung up after).  A refusal of the offer is not_applicable (the
    answerer may refuse an offer, §6), any other failure inconclusive."""
    ctx.control(link, _invite(ctx, link, control or _sdp(_PCMU)))
    invite = _invite(ctx, link, offer)
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to INVITE")
    if final.status == 488:
        ctx.not_applicable(f"the target refused the offer as a whole ({describe(final)})")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    return _answer(ctx, final), final


def _media_line(media: _Media) -> str:
    return f"m={media.media} {media.port} {media.proto} {' '.join(media.formats)}"


##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% For each "m=" line in the offer, there MUST be a corresponding "m="
##% line in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% The answer MUST contain exactly the same number of "m=" lines as the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% The "t=" line in the answer MUST equal that of the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% The media type of the stream in the answer MUST match that of the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% If the answer is different from the offer in any way (different IP
##% addresses, ports, etc.), the origin line MUST be different in the
##% answer, since the answer is generated by a different entity.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% Although the SDP specification allows for multiple session descriptions to be
##% concatenated together into a large SDP message, an SDP message used in the
##% offer/answer model MUST contain exactly one session description.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The numeric value of the session id and version in the o line MUST be
##% representable with a 64 bit signed integer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The offer (and answer) MUST be a valid SDP message, as defined by RFC
##% 2327 [1], with one exception.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The initial value of the version MUST be less than
##% (2**62)-1, to avoid rollovers.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% For unicast sessions, it is RECOMMENDED that it consist of a
##% single space character (0x20) or a dash (-).
@case("rfc3264-answer-m-lines", roles=("uas",), level="MUST")
def answer_m_lines(ctx: Context) -> None:
    """An offer of audio, video and audio: three m= lines back, same order and types,
    t= the offer's, an o= line of the answerer's own, one session description."""
    link = ctx.link()
    offer = _sdp(
        _PCMU,
        "m=video 49172 RTP/AVP 31\na=rtpmap:31 H261/90000\n",
        "m=audio 49174 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n",
        # a t= other than the usual "0 0": the answer must copy it
    ).replace(b"t=0 0", b"t=3034423619 3042462419")
    sdp, _ = _offer_answer(ctx, link, offer)
    got = [m.media for m in sdp.media]
    ctx.check(len(got) == 3, "3 m= lines, one per offered stream", f"{len(got)}: {got}", 1)
    ctx.check(got == ["audio", "video", "audio"], "audio, video, audio in order", str(got), 3)
    ctx.check(
        sdp.first("t") == "3034423619 3042462419",
        "t=3034423619 3042462419 (the offer's)",
        f"t={sdp.first('t')}",
        2,
    )
    origin = sdp.origin
    ctx.check(
        len(origin) == 6 and origin[:3] != ["tester", "1003", "1"],
        "an o= line of the answerer's own (not the offer's)",
        f"o={sdp.first('o')}",
        4,
    )
    ctx.check(
        sdp.count("v") == 1 and sdp.count("o") == 1 and sdp.count("s") == 1,
        "exactly one session description (one v=, o= and s=)",
        f"v= x{sdp.count('v')}, o= x{sdp.count('o')}, s= x{sdp.count('s')}",
        5,
    )
    ctx.check(
        all(p.isdigit() and int(p) < 2**63 for p in origin[1:3]),
        "a session id and version that fit a 64 bit signed integer",
        f"o={sdp.first('o')}",
        6,
    )
    kinds = [key for key, _ in sdp.lines]
    ctx.check(
        kinds[:3] == ["v", "o", "s"] and "t" in kinds,
        "v=, o=, s= first, and a t= (the SDP order)",
        " ".join(f"{k}=" for k in kinds[:8]),
        7,
    )
    ctx.check(
        all(m.connection for m in sdp.media) or sdp.count("c") >= 1,
        "a c= line at session level or in every m= section",
        "none",
        7,
    )
    ctx.check(
        len(origin) == 6 and origin[2].isdigit() and int(origin[2]) < 2**62 - 1,
        "an initial o= version below (2**62)-1",
        f"o={sdp.first('o')}",
        8,
    )
    ctx.should(sdp.first("s") in ("-", ""), "s=- (or a single space)", f"s={sdp.first('s')}")


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If the answerer has no media formats in common for a particular
##% offered stream, the answerer MUST reject that media stream by setting
##% the port to zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% To reject an offered stream, the port number in the corresponding stream in the
##% answer MUST be set to zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% For streams marked as sendrecv in the answer, the "m=" line MUST
##% contain at least one codec the answerer is willing to both send and
##% receive, from amongst those listed in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% At least one MUST be present, as specified by SDP.
@case("rfc3264-no-common-codec-port-zero", roles=("uas",), level="MUST")
def no_common_codec(ctx: Context) -> None:
    """A PCMU stream and a stream of a made-up codec only: the second is rejected (port 0),
    the first accepted with formats from the offer's."""
    link = ctx.link()
    offer = _sdp(
        _PCMU,
        "m=audio 49172 RTP/AVP 97\na=rtpmap:97 x-no-such-codec/8000\n",
    )
    sdp, _ = _offer_answer(ctx, link, offer)
    ctx.check(len(sdp.media) == 2, "2 m= lines", f"{len(sdp.media)} m= lines", 1)
    second = sdp.media[1]
    ctx.check(
        second.port == 0,
        "port 0 for the stream of a codec nobody has",
        _media_line(second),
    )
    ctx.check(
        bool(second.formats), "at least one format on the rejected m= line", _media_line(second), 3
    )
    first = sdp.media[0]
    if first.port != 0:
        ctx.check(
            bool(first.formats) and set(first.formats) <= {"0"},
            "formats of the accepted stream from amongst the offer's (0)",
            _media_line(first),
            2,
        )


_DIRECTION_ANSWERS = {
    "sendonly": ("recvonly", "inactive"),
    "recvonly": ("sendonly", "inactive"),
    "inactive": ("inactive",),
}


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If a stream is offered as sendonly, the corresponding stream MUST be
##% marked as recvonly or inactive in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If a media stream is
##% listed as recvonly in the offer, the answer MUST be marked as
##% sendonly or inactive in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If an offered media stream is
##% listed as inactive, it MUST be marked as inactive in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% For streams marked as recvonly in the answer, the "m=" line MUST
##% contain at least one media format the answerer is willing to receive
##% with from amongst those listed in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% For streams marked as sendonly in the answer, the "m=" line MUST
##% contain at least one media format the answerer is willing to send
##% from amongst those listed in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% This address and port MUST be present even for sendonly streams; in
##% the case of RTP, the port one higher is still used to receive RTCP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% If a stream is offered with a unicast address, the answer for that
##% stream MUST contain a unicast address.
@case("rfc3264-answer-direction", roles=("uas",), level="MUST")
def answer_direction(ctx: Context) -> None:
    """Offers of a sendonly, a recvonly and an inactive stream (one INVITE each): each
    answer mirrors the direction, keeps a format offered, an address and a port."""
    link = ctx.link()
    ctx.control(link, _invite(ctx, link, _sdp(_PCMU)))
    for offered, allowed in _DIRECTION_ANSWERS.items():
        invite = _invite(ctx, link, _sdp(_PCMU + f"a={offered}\n"))
        final, _ = ctx.transaction(link, invite)
        ctx.finish_invite(link, invite, final)
        final = ctx.require_final(final, f"final response to the {offered} offer")
        if not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"the {offered} offer was not accepted ({describe(final)})")
        sdp = _answer(ctx, final)
        if len(sdp.media) != 1 or sdp.media[0].port == 0:
            ctx.inconclusive(f"the {offered} stream was rejected or missing; nothing to judge")
        media = sdp.media[0]
        got = media.direction(sdp.direction)
        ctx.check(
            got in allowed,
            f"{' or '.join(allowed)} for a {offered} offer",
            f"{got} ({_media_line(media)})",
            ("sendonly", "recvonly", "inactive").index(offered),
        )
        if got in ("recvonly", "sendonly"):
            ctx.check(
                bool(media.formats) and set(media.formats) <= {"0"},
                "a format from amongst the offer's (0)",
                _media_line(media),
                3 if got == "recvonly" else 4,
            )
        connection = media.connection or (sdp.first("c") or "")
        address = connection.split()[-1] if connection.split() else ""
        ctx.check(
            media.port > 0 and bool(address),
            "an address and a non-zero port on the accepted stream",
            f"{_media_line(media)}; c={connection}",
            5,
        )
        first = int(address.split(".")[0]) if address.split(".")[0].isdigit() else 0
        ctx.check(
            not 224 <= first <= 239,
            "a unicast address for a unicast offer",
            f"c={connection}",
            6,
        )


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% Even if the same payload type number is used, the answer MUST contain
##% rtpmap attributes to define the payload type mappings for dynamic
##% payload types
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% This means that the same fmtp parameters with the same
##% values MUST be present in the answer if the media format they
##% describe is present in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% In the case of RTP, if a particular codec was referenced with a specific payload
##% type number in the offer, that same payload type number SHOULD be used for that
##% codec in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% and SHOULD contain mappings for static payload types.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% Although the answerer MAY list the formats in their desired order of
##% preference, it is RECOMMENDED that unless there is a specific reason,
##% the answerer list formats in the same relative order they were
##% present in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% The ptime attribute MUST be greater than zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% In the case of RTP streams, all media descriptions SHOULD contain
##% "a=rtpmap" mappings from RTP payload types to encodings.
@case("rfc3264-answer-rtpmap-dynamic", roles=("uas",), level="MUST")
def answer_rtpmap(ctx: Context) -> None:
    """An offer of PCMA, PCMU and telephone-event on dynamic type 101 (with fmtp): every
    dynamic type in the answer has its rtpmap (and the offer's fmtp), the offer's numbers
    and order kept (SHOULDs: warnings)."""
    link = ctx.link()
    offer = _sdp(
        "m=audio 49170 RTP/AVP 8 0 101\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:20\n"
    )
    sdp, _ = _offer_answer(ctx, link, offer)
    if not sdp.media or sdp.media[0].port == 0:
        ctx.inconclusive("the audio stream was rejected; nothing to judge")
    media = sdp.media[0]
    for fmt in media.formats:
        if fmt.isdigit() and int(fmt) >= 96:
            ctx.check(
                media.rtpmap(fmt) is not None,
                f"a=rtpmap for dynamic payload type {fmt}",
                _media_line(media) + "".join(f"\na={a}" for a in media.attributes),
            )
    if "101" in media.formats and (media.rtpmap("101") or "").lower().startswith("telephone"):
        ctx.check(
            media.fmtp("101") == "0-15",
            "a=fmtp:101 0-15 (the offer's) for telephone-event",
            f"a=fmtp:101 {media.fmtp('101')}",
            1,
        )
    for attr in media.attributes:
        if attr.startswith("ptime:"):
            value = attr.split(":", 1)[1].strip()
            ctx.check(
                value.replace(".", "", 1).isdigit() and float(value) > 0,
                "a ptime greater than zero",
                f"a={attr}",
                5,
            )
    offered = {"8": "pcma/8000", "0": "pcmu/8000", "101": "telephone-event/8000"}
    for fmt in media.formats:
        mapped = (media.rtpmap(fmt) or "").lower()
        if mapped and mapped not in offered.values():
            continue  # a codec the offer did not have: not the offer's numbering to keep
        if mapped:
            ctx.should(
                offered.get(fmt) == mapped,
                f"the offer's payload type number for {mapped}",
                f"{fmt} -> {mapped}",
            )
        if fmt in ("0", "8"):
            ctx.should(
                media.rtpmap(fmt) is not None,
                f"a=rtpmap for static type {fmt}",
                _media_line(media),
            )
    kept = [f for f in media.formats if f in offered]
    ctx.should(
        kept == [f for f in ("8", "0", "101") if f in kept],
        "the offer's relative order (8, 0, 101)",
        " ".join(kept),
    )


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.2
##= type=test
##% A stream that is offered with a port of zero MUST be marked with port
##% zero in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% A port number of zero in the offer
##% indicates that the stream is offered but MUST NOT be used.
@case("rfc3264-offered-port-zero", roles=("uas",), level="MUST")
def offered_port_zero(ctx: Context) -> None:
    """A PCMU stream and a PCMA stream offered with port 0: the second answered port 0."""
    link = ctx.link()
    sdp, _ = _offer_answer(ctx, link, _sdp(_PCMU, "m=audio 0 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n"))
    ctx.check(len(sdp.media) == 2, "2 m= lines", f"{len(sdp.media)} m= lines")
    ctx.check(
        sdp.media[1].port == 0,
        "port 0 for the stream offered with port 0",
        _media_line(sdp.media[1]),
    )


##= https://www.rfc-editor.org/rfc/rfc3264#section-6
##= type=test
##% This implies that if the offer contained zero "m=" lines, the answer
##% MUST contain zero "m=" lines.
@case("rfc3264-zero-m-lines", roles=("uas",), level="MUST")
def zero_m_lines(ctx: Context) -> None:
    """An offer without any m= line: an answer without any m= line (or the offer refused)."""
    link = ctx.link()
    sdp, _ = _offer_answer(ctx, link, _sdp())
    ctx.check(not sdp.media, "no m= line", ", ".join(_media_line(m) for m in sdp.media) or "none")


##= https://www.rfc-editor.org/rfc/rfc3264#section-6.2
##= type=test
##% If a multicast stream is accepted, the address and port information
##% in the answer MUST match that of the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.2
##= type=test
##% Similarly, the
##% directionality information in the answer (sendonly, recvonly, or
##% sendrecv) MUST equal that of the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.2
##= type=test
##% The set of media formats in the answer MUST be equal to or be a
##% subset of those in the offer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.2
##= type=test
##% The ptime and bandwidth attributes in the answer MUST
##% equal the ones in the offer, if present.
@case("rfc3264-multicast-answer", roles=("uas",), level="MUST")
def multicast_answer(ctx: Context) -> None:
    """A multicast recvonly stream (224.2.17.12, PCMU and PCMA, ptime 20): if accepted, the
    answer has the offer's address, port and direction, a subset of its formats, its ptime.
    No media is sent: the runner only reads the SDP."""
    link = ctx.link()
    offer = _sdp(
        "m=audio 49170 RTP/AVP 0 8\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n"
        "a=ptime:20\na=recvonly\n",
        connection="224.2.17.12/127",
    )
    sdp, _ = _offer_answer(ctx, link, offer)
    if len(sdp.media) != 1 or sdp.media[0].port == 0:
        ctx.not_applicable("the multicast stream was rejected (port 0): §6.2 judges accepted ones")
    media = sdp.media[0]
    connection = media.connection or sdp.first("c") or ""
    ctx.check(
        media.port == 49170 and connection.split()[-1:] == ["224.2.17.12/127"],
        "the offer's address and port (224.2.17.12/127, 49170)",
        f"{_media_line(media)}; c={connection}",
    )
    ctx.check(
        media.direction(sdp.direction) == "recvonly",
        "recvonly, the offer's direction",
        media.direction(sdp.direction),
        1,
    )
    ctx.check(
        bool(media.formats) and set(media.formats) <= {"0", "8"},
        "formats from amongst the offer's (0, 8)",
        _media_line(media),
        2,
    )
    ptimes = [a for a in media.attributes if a.startswith("ptime:")]
    ctx.check(ptimes == ["ptime:20"], "a=ptime:20, the offer's", str(ptimes), 3)


def _confirmed(ctx: Context, link: Link, offer: bytes) -> tuple[Outgoing, Message, Dialog]:
    """The preamble of the re-INVITE cases: a call set up with ``offer``, ACKed."""
    with ctx.preamble("a confirmed dialog (INVITE with an offer, 2xx, ACK)"):
        invite = _invite(ctx, link, offer)
        final, _ = ctx.transaction(link, invite)
        final = ctx.require_final(final, "final response to INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, invite, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
        link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    return invite, final, ctx.call(link, invite, final)


def _reinvite(
    ctx: Context, link: Link, invite: Outgoing, final: Message, dialog: Dialog, body: bytes
) -> Outgoing:
    """A re-INVITE in the dialog (§14.1), with ``body`` (an offer) or none."""
    again = ack_for(invite, final, ctx.target)
    again.method = "INVITE"
    again.set(
        "Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", again.get("Via") or "")
    )
    dialog.cseq += 1
    again.set("CSeq", f"{dialog.cseq} INVITE")
    again.set("Contact", invite.get("Contact") or f"<sip:tester@{link.sent_by}>")
    if body:
        again.set("Content-Type", "application/sdp")
    again.body = body
    return again


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% The answerer MUST be prepared to receive an offer that contains SDP
##% with a version that has not changed; this is effectively a no-op.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% However, the answerer MUST generate a valid answer (which MAY be the
##% same as the previous SDP from the answerer, or MAY be different),
##% according to the procedures defined in Section 6.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The same is true for an answer exchanged as a result of a session
##% refresh request; if it has not changed, that MUST be indicated.
@case(
    "rfc3264-reoffer-same-version",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE with an offer, 2xx, ACK)",
    no_control="the re-INVITE in the preamble's dialog is the exchange under test",
)
def reoffer_same_version(ctx: Context) -> None:
    """A re-INVITE repeating the offer unchanged (same o= version): a 2xx with a valid
    answer of one m= line."""
    link = ctx.link()
    offer = _sdp(_PCMU)
    invite, final, dialog = _confirmed(ctx, link, offer)
    again = _reinvite(ctx, link, invite, final, dialog, offer)
    got, _ = ctx.transaction(link, again, learn=False)
    got = ctx.require_final(got, "final response to the re-INVITE")
    if got.status is not None and got.status >= 200:
        link.send(bytes(ack_for(again, got, ctx.target)), "ACK")
    ctx.check(200 <= (got.status or 0) < 300, "2xx to the unchanged offer", describe(got))
    sdp = _answer(ctx, got, "the 2xx to the re-INVITE")
    ctx.check(len(sdp.media) == 1, "one m= line, as offered", f"{len(sdp.media)} m= lines", 1)
    # an unchanged answer keeps its o= version; a changed one has it one higher
    before = _answer(ctx, final, "the 2xx to the INVITE")
    old, new = before.origin, sdp.origin

    def rest(body: bytes) -> list[str]:
        lines = body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        return [line.strip() for line in lines if line.strip() and not line.startswith("o=")]

    same = rest(final.body) == rest(got.body)
    if len(old) == 6 and len(new) == 6 and old[2].isdigit() and new[2].isdigit():
        ctx.check(
            (int(new[2]) == int(old[2])) if same else (int(new[2]) == int(old[2]) + 1),
            "the previous o= version for an unchanged answer, one higher for a changed one",
            f"before o={before.first('o')}; now o={sdp.first('o')}; "
            f"{'same' if same else 'different'} SDP",
            2,
        )


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% When issuing an offer that modifies the session,
##% the "o=" line of the new SDP MUST be identical to that in the
##% previous SDP, except that the version in the origin field MUST
##% increment by one from the previous SDP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% In other words, if the previous SDP had N "m=" lines, the new SDP MUST have at
##% least N "m=" lines.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% If an SDP is offered, which is different from the previous SDP, the
##% new SDP MUST have a matching media stream for each media stream in
##% the previous SDP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% If the version in the origin line does not increment, the SDP MUST
##% be identical to the SDP with that version number.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% Deleted media streams from a previous SDP MUST NOT be removed in a new
##% SDP; however, attributes for these streams need not be present.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.1
##= type=test
##% New media descriptions MUST appear below any existing media sections.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
##= type=test
##% However, in the case of RTP, the mapping from a
##% particular dynamic payload type number to a particular codec within
##% that media stream MUST NOT change for the duration of a session.
@case(
    "rfc3264-new-offer-version",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE with an offer, 2xx, ACK)",
    no_control="the offerless re-INVITE in the preamble's dialog is the exchange under test",
)
def new_offer_version(ctx: Context) -> None:
    """A re-INVITE without SDP: the target's offer in the 2xx keeps its o= line but for a
    version one higher (or the same version with the same SDP), and the 2 m= lines."""
    link = ctx.link()
    first = (
        "m=audio 49170 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n"
    )
    invite, final, dialog = _confirmed(ctx, link, _sdp(first, "m=audio 0 RTP/AVP 8\n"))
    previous = _answer(ctx, final, "the 2xx to the INVITE")
    again = _reinvite(ctx, link, invite, final, dialog, b"")
    got, _ = ctx.transaction(link, again, learn=False)
    got = ctx.require_final(got, "final response to the offerless re-INVITE")
    ack = ack_for(again, got, ctx.target)
    if got.status is not None and 200 <= got.status < 300 and got.body:
        # the ACK carries the answer to the target's offer: the target's own streams, as is
        ack.set("Content-Type", "application/sdp")
        ack.body = _echo_answer(got.body)
    if got.status is not None and got.status >= 200:
        link.send(bytes(ack), "ACK")
    if not 200 <= (got.status or 0) < 300:
        ctx.inconclusive(f"the offerless re-INVITE was not accepted ({describe(got)})")
    offer = _answer(ctx, got, "the 2xx to the offerless re-INVITE")
    old, new = previous.origin, offer.origin
    ctx.check(
        len(new) == 6 and new[:2] == old[:2] and new[3:] == old[3:],
        "the previous o= line but for the version",
        f"before o={previous.first('o')}; now o={offer.first('o')}",
    )
    if new[2] == old[2]:
        ctx.check(
            got.body.replace(b"\r\n", b"\n") == final.body.replace(b"\r\n", b"\n"),
            "the same SDP under an unchanged version",
            f"o={offer.first('o')} with a different body",
            3,
        )
    else:
        ctx.check(
            new[2].isdigit() and old[2].isdigit() and int(new[2]) == int(old[2]) + 1,
            "the version one higher",
            f"before o={previous.first('o')}; now o={offer.first('o')}",
        )
    ctx.check(
        len(offer.media) >= len(previous.media),
        f"at least the {len(previous.media)} m= lines of the previous SDP",
        f"{len(offer.media)} m= lines",
        1,
    )
    ctx.check(
        [m.media for m in offer.media[: len(previous.media)]] == [m.media for m in previous.media],
        "the previous streams first, same media types",
        str([m.media for m in offer.media]),
        2,
    )
    # the stream the previous SDP had rejected (port 0) is still there, as the second
    ctx.check(
        len(offer.media) >= 2 and offer.media[1].media == previous.media[1].media,
        "the rejected (port 0) stream still listed second",
        str([_media_line(m) for m in offer.media]),
        4,
    )
    if len(offer.media) > len(previous.media):
        ctx.check(
            [m.media for m in offer.media[: len(previous.media)]]
            == [m.media for m in previous.media],
            "new m= lines below the existing ones",
            str([m.media for m in offer.media]),
            5,
        )
    before, now = previous.media[0], offer.media[0]
    for fmt in before.formats:
        if fmt.isdigit() and int(fmt) >= 96 and fmt in now.formats and before.rtpmap(fmt):
            ctx.check(
                (now.rtpmap(fmt) or "").lower() == (before.rtpmap(fmt) or "").lower(),
                f"payload type {fmt} still {before.rtpmap(fmt)}",
                f"a=rtpmap:{fmt} {now.rtpmap(fmt)}",
                6,
            )


def _echo_answer(offer: bytes) -> bytes:
    """An answer to the target's offer: its streams and formats, our address (a sketch)."""
    sdp = _parse(offer)
    if sdp is None:
        return _sdp(_PCMU)
    streams = []
    for media in sdp.media:
        fmts = media.formats[:1] or ["0"]
        port = 0 if media.port == 0 else 49170 + 2 * len(streams)
        streams.append(f"m={media.media} {port} {media.proto} {' '.join(fmts)}\n")
    return _sdp(*streams, session_id=4242)


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##= type=test
##% An agent MUST be capable of receiving SDP with a connection address of 0.0.0.0, in
##% which case it means that neither RTP nor RTCP should be sent to the peer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##= type=test
##% The recipient of an offer for a stream on-hold SHOULD NOT automatically return an
##% answer with the corresponding stream on hold.
@case("rfc3264-hold-offer-answered", roles=("uas",), level="MUST")
def hold_offer(ctx: Context) -> None:
    """An offer with c=0.0.0.0 and a sendonly stream (on hold, RFC 2543 and RFC 3264 style):
    a 2xx with an answer; the answer's stream not put on hold itself (a SHOULD)."""
    link = ctx.link()
    sdp, _ = _offer_answer(ctx, link, _sdp(_PCMU + "a=sendonly\n", connection="0.0.0.0"))
    if sdp.media and sdp.media[0].port:
        got = sdp.media[0].direction(sdp.direction)
        ctx.should(got != "sendonly", "recvonly (or inactive), not sendonly", got)


##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% It MUST be a valid SDP, except that it MAY omit both "e=" and "p="
##% lines.
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% The "t=" line MUST be equal to "0 0".
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% The port MUST be set to zero, but the connection
##% address is arbitrary.
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% In the case of RTP, if dynamic payload types are used, an rtpmap
##% attribute MUST be present to bind the type to a specific format.
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% The session ID in the origin field MUST be unique for each SDP
##% constructed to indicate media capabilities.
@case(
    "rfc3264-options-capabilities",
    roles=("uas",),
    level="MUST",
    no_control="judged on the SDP a 200 to OPTIONS carries; without SDP it does not apply",
)
def options_capabilities(ctx: Context) -> None:
    """OPTIONS with Accept: application/sdp: SDP in the 200 has t=0 0, port 0 on every m=
    line and an rtpmap for each dynamic payload type."""
    if ctx.profile.methods and "OPTIONS" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list OPTIONS among the target's methods")
    link = ctx.link()
    options = ctx.request("OPTIONS", link, extra=[("Accept", "application/sdp")])
    final, _ = ctx.transaction(link, options)
    final = ctx.require_final(final, "response to OPTIONS")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"OPTIONS was not accepted ({describe(final)})")
    if not final.body or "sdp" not in (final.get("Content-Type") or "").lower():
        ctx.not_applicable("the 200 to OPTIONS carries no SDP (§9 applies to one that does)")
    sdp = _parse(final.body)
    ctx.check(
        sdp is not None and all(sdp.count(k) == 1 for k in "vost"),
        "a valid SDP (one v=, o=, s=, t=)",
        final.body[:120].decode("utf-8", "replace"),
    )
    assert sdp is not None
    ctx.check(sdp.first("t") == "0 0", "t=0 0", f"t={sdp.first('t')}", 1)
    for media in sdp.media:
        ctx.check(media.port == 0, "port 0 on every m= line", _media_line(media), 2)
        for fmt in media.formats:
            if media.proto.startswith("RTP/") and fmt.isdigit() and int(fmt) >= 96:
                ctx.check(
                    media.rtpmap(fmt) is not None,
                    f"a=rtpmap for dynamic payload type {fmt}",
                    _media_line(media),
                    3,
                )
    # a second OPTIONS: its capability SDP has a session id of its own
    options = ctx.request("OPTIONS", link, extra=[("Accept", "application/sdp")])
    again, _ = ctx.transaction(link, options)
    other = _parse(again.body) if again is not None and again.body else None
    if other is not None and len(other.origin) >= 2 and len(sdp.origin) >= 2:
        ctx.check(
            other.origin[1] != sdp.origin[1],
            "a new session id in each capability SDP",
            f"o={sdp.first('o')} then o={other.first('o')}",
            4,
        )


# === the UAS: offers pending, its own offer, preferences, payload types, OPTIONS (§4, §5, §9)


##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% However, it MUST NOT generate a new offer if it has received an offer which it has not
##% yet answered or rejected.
##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% Furthermore, it MUST NOT generate a new offer if it has generated a
##% prior offer for which it has not yet received an answer or a
##% rejection.
@case(
    "rfc3264-uas-offer-pending",
    roles=("uas",),
    level="MUST",
    timeout=15,
    preamble="a call to the profile's hold_user answered with 2xx",
    no_control="the target's own re-INVITE (its hold) is what the case leaves pending",
    transports=("udp",),
)
def uas_offer_pending(ctx: Context) -> None:
    """Our re-INVITE with an offer at once: answered before the target offers anything of
    its own (or refused 491, its own offer having crossed ours).  Then the target's hold
    re-INVITE gets only a 100 for a second: no new offer meanwhile."""
    if not ctx.profile.hold_user:
        ctx.not_applicable(
            "the profile names no hold_user (a user whose calls the target re-INVITEs)"
        )
    link = ctx.link()
    with ctx.preamble("a call to the profile's hold_user answered with 2xx"):
        req = ctx.request("INVITE", link, user=ctx.profile.hold_user, body=_sdp(_PCMU))
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "final response to the INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
        dialog = ctx.call(link, req, final)
    ours = _reinvite(ctx, link, req, final, dialog, _sdp(_PCMU, version=2))
    link.send(bytes(ours), "re-INVITE with an offer")
    theirs: Message | None = None
    answer: Message | None = None
    end = time.monotonic() + 3.0
    while answer is None and (left := end - time.monotonic()) > 0:
        got = link.expect(
            lambda m: (
                m.call_id == req.call_id
                and (
                    (m.is_response and m.branch == ours.branch and (m.status or 0) >= 200)
                    or m.method in ("INVITE", "UPDATE")
                )
            ),
            left,
        )
        if got is None:
            break
        if got.is_response:
            answer = got
        elif theirs is None:
            theirs = got
    answer = ctx.require_final(answer, "final response to our re-INVITE")
    ack = ack_for(ours, answer, ctx.target)
    if (answer.status or 0) >= 300:
        ack.set("Via", ours.get("Via"))
    link.send(bytes(ack), "ACK")
    ctx.check(
        theirs is None or answer.status == 491,
        "our offer answered (or refused 491) before the target offers",
        f"{describe(theirs)} before {describe(answer)}",
    )
    wait = ctx.profile.hangup_after + max(2.0, 8 * ctx.profile.t1)
    if theirs is None:
        theirs = link.expect(lambda m: m.method == "INVITE" and m.call_id == req.call_id, wait)
    if theirs is None:
        ctx.inconclusive(f"the target sent no re-INVITE within {wait:.1f} s")
    assert theirs is not None
    respond(link, theirs, 100, "Trying")
    other = link.expect(
        lambda m: (
            m.call_id == req.call_id
            and m.method in ("INVITE", "UPDATE")
            and m.branch != theirs.branch
        ),
        1.0,
    )
    contact = (("Contact", f"<sip:tester@{link.sent_by}>"),)
    respond(link, theirs, 200, headers=contact, body=sdp_answer(theirs.body))
    link.expect(lambda m: m.method == "ACK" and m.call_id == req.call_id, 1.0)
    ctx.check(
        other is None,
        "no new offer while its re-INVITE's offer has no answer",
        describe(other),
        1,
    )


##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% In that case, the "t=" line SHOULD have a value of "0 0".
@case("rfc3264-uas-offer-in-2xx", roles=("uas",), level="SHOULD", timeout=10)
def uas_offer_in_2xx(ctx: Context) -> None:
    """An INVITE without an offer: the target's offer in the 2xx has t=0 0 (a SIP session
    has no set end); the ACK carries our answer."""
    link = ctx.link()
    ctx.control(link, _invite(ctx, link, _sdp(_PCMU)))
    invite = ctx.request("INVITE", link)
    final, _ = ctx.transaction(link, invite)
    final = ctx.require_final(final, "final response to the offerless INVITE")
    ack = ack_for(invite, final, ctx.target)
    if 200 <= (final.status or 0) < 300 and final.body:
        ack.set("Content-Type", "application/sdp")
        ack.body = _echo_answer(final.body)
    if (final.status or 0) >= 200:
        link.send(bytes(ack), "ACK")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the offerless INVITE was not accepted ({describe(final)})")
    ctx.call(link, invite, final)
    offer = _answer(ctx, final, "the 2xx to the offerless INVITE")
    ctx.should(offer.first("t") == "0 0", "t=0 0", f"t={offer.first('t')}")


##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% In this case, preferred means that the recipient of the offer SHOULD use the format
##% with the highest preference that is acceptable to it.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##= type=test
##% In other words, if a stream in the offer lists audio codecs 8, 22 and 48, in that order,
##% and the answerer only supports codecs 8 and 48, it is RECOMMENDED that, if the answerer
##% has no reason to change it, the ordering of codecs in the answer be 8, 48, and not 48, 8.
@case("rfc3264-answer-preference", roles=("uas",), level="SHOULD", timeout=10)
def answer_preference(ctx: Context) -> None:
    """An offer of PCMA (8), a codec nobody has (97) and PCMU (0), in that order: the
    answer uses PCMA first, and lists 8 before 0."""
    offer = _sdp(
        "m=audio 49170 RTP/AVP 8 97 0\na=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:97 x-no-such-codec/8000\na=rtpmap:0 PCMU/8000\n"
    )
    sdp, _ = _offer_answer(ctx, ctx.link(), offer)
    if not sdp.media or sdp.media[0].port == 0:
        ctx.inconclusive("the audio stream was rejected; nothing to judge")
    formats = sdp.media[0].formats
    ctx.should(formats[:1] == ["8"], "PCMA (8), the offer's first choice, first", str(formats))
    both = [f for f in formats if f in ("8", "0")]
    ctx.should(both in (["8", "0"], ["8"], ["0"]), "8 before 0, the offer's order", str(formats))


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
##= type=test
##% For example, if A generates an offer with G.711 assigned to dynamic
##% payload type number 46, payload type number 46 MUST refer to G.711
##% from that point forward in any offers or answers for that media
##% stream within the session.
@case(
    "rfc3264-payload-type-kept",
    roles=("uas",),
    level="MUST",
    timeout=10,
    preamble="a confirmed dialog (INVITE with an offer, 2xx, ACK)",
    no_control="the offerless re-INVITE in the preamble's dialog is the exchange under test",
)
def payload_type_kept(ctx: Context) -> None:
    """Our offer puts telephone-event on dynamic type 96: in the answer, and in the target's
    offer to a re-INVITE without SDP, 96 (where present) is still telephone-event."""
    link = ctx.link()
    first = "m=audio 49170 RTP/AVP 0 96\na=rtpmap:0 PCMU/8000\na=rtpmap:96 telephone-event/8000\n"
    invite, final, dialog = _confirmed(ctx, link, _sdp(first))
    answer = _answer(ctx, final, "the 2xx to the INVITE")
    again = _reinvite(ctx, link, invite, final, dialog, b"")
    got, _ = ctx.transaction(link, again, learn=False)
    got = ctx.require_final(got, "final response to the offerless re-INVITE")
    ack = ack_for(again, got, ctx.target)
    if 200 <= (got.status or 0) < 300 and got.body:
        ack.set("Content-Type", "application/sdp")
        ack.body = _echo_answer(got.body)
    if (got.status or 0) >= 200:
        link.send(bytes(ack), "ACK")
    if not 200 <= (got.status or 0) < 300:
        ctx.inconclusive(f"the offerless re-INVITE was not accepted ({describe(got)})")
    offer = _answer(ctx, got, "the 2xx to the offerless re-INVITE")
    for what, sdp in (("answer", answer), ("later offer", offer)):
        media = sdp.media[0] if sdp.media else None
        if media is not None and "96" in media.formats:
            ctx.check(
                (media.rtpmap("96") or "").lower().startswith("telephone-event/"),
                f"payload type 96 still telephone-event in the {what}",
                f"a=rtpmap:96 {media.rtpmap('96')}",
            )


##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% For each media type supported by the agent, there MUST be a
##% corresponding media description of that type.
##= https://www.rfc-editor.org/rfc/rfc3264#section-9
##= type=test
##% For each media format of that type supported by the agent, there SHOULD be a media
##% format listed in the "m=" line.
@case(
    "rfc3264-options-media-types",
    roles=("uas",),
    level="MUST",
    timeout=10,
)
def options_media_types(ctx: Context) -> None:
    """The media types and formats the target takes in a call (an offer of PCMU, PCMA and
    H.261 video) are each listed in the capability SDP of its 200 to OPTIONS."""
    link = ctx.link()
    options = ctx.request("OPTIONS", link, extra=[("Accept", "application/sdp")])
    got, _ = ctx.transaction(link, options)
    got = ctx.require_final(got, "response to OPTIONS")
    if not got.body or "sdp" not in (got.get("Content-Type") or "").lower():
        ctx.not_applicable("the 200 to OPTIONS carries no SDP (§9 applies to one that does)")
    capabilities = _parse(got.body)
    ctx.check(capabilities is not None, "a valid capability SDP", got.body[:120].decode())
    assert capabilities is not None
    offer = _sdp(
        "m=audio 49170 RTP/AVP 0 8\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n",
        "m=video 49172 RTP/AVP 31\na=rtpmap:31 H261/90000\n",
    )
    sdp, _ = _offer_answer(ctx, link, offer)
    names = {"0": "pcmu", "8": "pcma", "31": "h261"}
    for media in sdp.media:
        if media.port == 0:
            continue
        listed = [m for m in capabilities.media if m.media == media.media]
        ctx.check(
            bool(listed),
            f"an m={media.media} line in the capability SDP (the target takes {media.media})",
            "; ".join(_media_line(m) for m in capabilities.media) or "no m= line",
        )
        known = {
            (m.rtpmap(f) or names.get(f, f)).split("/")[0].lower()
            for m in listed
            for f in m.formats
        }
        taken = {(media.rtpmap(f) or names.get(f, f)).split("/")[0].lower() for f in media.formats}
        ctx.should(
            taken <= known,
            f"the {media.media} formats it takes ({sorted(taken)}) listed",
            "; ".join(_media_line(m) for m in listed),
        )


# === the UAC as the offerer (§4, §5, §5.1, §8, §8.4) ==========================================

UAC_ROLE = ("uac",)
#: the exchanges the RFC 3261 well-formedness battery makes: their INVITE carries the offer
GATHERED = "the INVITE of a call from the target (the well-formedness exchanges, [uac] bye)"


def _offers_in(ctx: Context) -> list[tuple[Message, _Sdp | None]]:
    """The offers in the INVITEs the target sent in the gathered exchanges."""
    out: list[tuple[Message, _Sdp | None]] = []
    for seen in gathered(ctx):
        msg = seen.msg
        if msg.method == "INVITE" and msg.body:
            out.append((msg, _parse(msg.body)))
    if not out:
        ctx.not_applicable("the target's INVITE carried no offer (an offer in the 2xx instead)")
    return out


##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The offer (and answer) MUST be a valid SDP message, as defined by RFC
##% 2327 [1], with one exception.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The numeric value of the session id and version in the o line MUST be
##% representable with a 64 bit signed integer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% The initial value of the version MUST be less than
##% (2**62)-1, to avoid rollovers.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% Although the SDP specification allows for multiple session descriptions to be
##% concatenated together into a large SDP message, an SDP message used in the
##% offer/answer model MUST contain exactly one session description.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% The ptime attribute MUST be greater than zero.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% For unicast sessions, it is RECOMMENDED that it consist of a
##% single space character (0x20) or a dash (-).
##= https://www.rfc-editor.org/rfc/rfc3264#section-5
##= type=test
##% In that case, the "t=" line SHOULD have a value of "0 0".
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% For a sendrecv stream, the offer SHOULD indicate those codecs that the offerer is
##% willing to send and receive with.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% For a recvonly stream, the offer SHOULD indicate those formats the offerer is willing
##% to receive for this stream.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% In the case of RTP streams, all media descriptions SHOULD contain
##% "a=rtpmap" mappings from RTP payload types to encodings.
@case(
    "rfc3264-uac-offer", roles=UAC_ROLE, timeout=20, preamble=GATHERED, no_control=RUNNER_ANSWERS
)
def uac_offer(ctx: Context) -> None:
    """The offer in the target's INVITE: valid SDP, one session description, o= numbers in
    64 bits with an initial version below 2**62-1, ptime above 0; s=- and t=0 0, formats
    and an rtpmap on every RTP stream (SHOULDs)."""
    for invite, sdp in _offers_in(ctx):
        ctx.check(
            sdp is not None and all(sdp.count(k) == 1 for k in "vos") and sdp.count("t") >= 1,
            "a valid SDP offer (v=0 first, one o=, one s=, a t=, m= lines of 4 fields)",
            invite.body[:160].decode("utf-8", "replace"),
        )
        assert sdp is not None
        origin = sdp.origin
        ctx.check(
            len(origin) == 6 and all(p.isdigit() and int(p) < 2**63 for p in origin[1:3]),
            "a session id and version that fit a 64 bit signed integer",
            f"o={sdp.first('o')}",
            1,
        )
        ctx.check(int(origin[2]) < 2**62 - 1, "an initial version below 2**62-1", origin[2], 2)
        ctx.check(
            sdp.count("v") == 1,
            "exactly one session description (one v=)",
            f"{sdp.count('v')} v= lines",
            3,
        )
        for media in sdp.media:
            for attr in media.attributes + sdp.session_attributes:
                if attr.startswith("ptime:"):
                    value = attr.split(":", 1)[1].strip()
                    ctx.check(
                        value.replace(".", "", 1).isdigit() and float(value) > 0,
                        "a ptime greater than zero",
                        f"a={attr}",
                        4,
                    )
        ctx.should(sdp.first("s") in ("-", ""), "s=- (or a single space)", f"s={sdp.first('s')}")
        ctx.should(sdp.first("t") == "0 0", "t=0 0 (a session of no set end)", f"{sdp.first('t')}")
        for media in sdp.media:
            if media.port and media.direction(sdp.direction) in ("sendrecv", "recvonly"):
                ctx.should(bool(media.formats), "formats on the stream", _media_line(media))
            if media.proto.startswith("RTP/"):
                missing = [f for f in media.formats if media.rtpmap(f) is None]
                ctx.should(
                    not missing, "an a=rtpmap for every payload type", f"none for {missing}"
                )


def _held_call(
    ctx: Context, kind: str
) -> tuple[_Call, Message, _Sdp, Message, _Sdp, tuple[str, int]]:
    """The target calls ([uac] ``kind``), the runner answers, the target re-INVITEs (hold):
    the call, the first INVITE and offer, the re-INVITE and its offer, its address."""
    call = _Call(ctx, kind)
    first = _parse(call.invite.body) if call.invite.body else None
    if first is None:
        ctx.not_applicable("the target's INVITE carries no (valid) offer")
    call.ack()
    again, addr = call.next("INVITE", 8.0)
    offer = _parse(again.body) if again.body else None
    if offer is None:
        call.peer.answer(again, addr, 200)
        ctx.not_applicable("the target's re-INVITE carries no offer (it asks for ours)")
    assert first is not None and offer is not None
    return call, call.invite, first, again, offer, addr


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% When issuing an offer that modifies the session,
##% the "o=" line of the new SDP MUST be identical to that in the
##% previous SDP, except that the version in the origin field MUST
##% increment by one from the previous SDP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% If the version in the origin line does not increment, the SDP MUST
##% be identical to the SDP with that version number.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% If an SDP is offered, which is different from the previous SDP, the
##% new SDP MUST have a matching media stream for each media stream in
##% the previous SDP.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% In other words, if the previous SDP had N "m=" lines, the new SDP MUST have at
##% least N "m=" lines.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##= type=test
##% Deleted media streams from a previous SDP MUST NOT be removed in a new
##% SDP; however, attributes for these streams need not be present.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.1
##= type=test
##% New media descriptions MUST appear below any existing media sections.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
##= type=test
##% However, in the case of RTP, the mapping from a
##% particular dynamic payload type number to a particular codec within
##% that media stream MUST NOT change for the duration of a session.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
##= type=test
##% For example, if A generates an offer with G.711 assigned to dynamic
##% payload type number 46, payload type number 46 MUST refer to G.711
##% from that point forward in any offers or answers for that media
##% stream within the session.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##= type=test
##% Of course, when used, the port number MUST NOT be zero, which would specify that the
##% stream has been disabled.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer wishes to only send media on a stream to its peer, it
##% MUST mark the stream as sendonly with the "a=sendonly" attribute.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% For a sendonly stream, the offer SHOULD indicate those formats the offerer is willing
##% to send for this stream.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.1
##= type=test
##% If only the port number is to be changed, the rest of the media stream description
##% SHOULD remain unchanged.
@case(
    "rfc3264-uac-hold-offer",
    roles=UAC_ROLE,
    timeout=20,
    preamble="a call from the target, answered 200, then its hold re-INVITE ([uac] reinvite)",
    no_control=RUNNER_ANSWERS,
)
def uac_hold_offer(ctx: Context) -> None:
    """The target puts the call on hold with a re-INVITE: its offer keeps the o= line but
    for a version one higher, every m= line in its place, a port not 0, the payload type
    numbers' codecs; the held stream sendonly (or inactive) with formats it would send."""
    call, _, first, again, offer, addr = _held_call(ctx, "reinvite")
    call.peer.answer(again, addr, 200)
    old, new = first.origin, offer.origin
    same = first.lines == offer.lines
    ctx.check(
        len(new) == 6 and new[:2] == old[:2] and new[3:] == old[3:],
        "the previous o= line but for the version",
        f"before o={first.first('o')}; now o={offer.first('o')}",
    )
    if new[2] == old[2]:
        ctx.check(same, "the same SDP under an unchanged version", "a different SDP", 1)
    else:
        ctx.check(
            new[2].isdigit() and old[2].isdigit() and int(new[2]) == int(old[2]) + 1,
            "the version one higher",
            f"before o={first.first('o')}; now o={offer.first('o')}",
        )
    kinds = [m.media for m in offer.media]
    before = [m.media for m in first.media]
    ctx.check(len(kinds) >= len(before), f"at least {len(before)} m= lines", str(kinds), 3)
    ctx.check(kinds[: len(before)] == before, f"{before} first, in order", str(kinds), 2)
    ctx.check(
        all(n.media == o.media for n, o in zip(offer.media, first.media, strict=False)),
        "no stream of the previous SDP removed",
        str(kinds),
        4,
    )
    ctx.check(kinds[: len(before)] == before, "new m= lines below the existing", str(kinds), 5)
    for was, now in zip(first.media, offer.media, strict=False):
        for fmt in was.formats:
            if fmt.isdigit() and int(fmt) >= 96 and fmt in now.formats and was.rtpmap(fmt):
                ctx.check(
                    (now.rtpmap(fmt) or "").lower() == (was.rtpmap(fmt) or "").lower(),
                    f"payload type {fmt} still {was.rtpmap(fmt)}",
                    f"a=rtpmap:{fmt} {now.rtpmap(fmt)}",
                    6,
                )
                ctx.check(
                    (now.rtpmap(fmt) or "").lower() == (was.rtpmap(fmt) or "").lower(),
                    f"payload type {fmt} the same codec from then on",
                    f"a=rtpmap:{fmt} {now.rtpmap(fmt)}",
                    7,
                )
    held = [m for m in offer.media if m.port]
    ctx.check(bool(held), "a held stream with a port not 0", str(kinds), 8)
    for media in held:
        direction = media.direction(offer.direction)
        ctx.check(
            direction in ("sendonly", "inactive"),
            "a=sendonly (or a=inactive) on the stream put on hold",
            f"{direction} ({_media_line(media)})",
            9,
        )
    for was, now in zip(first.media, offer.media, strict=False):
        if now.port and now.direction(offer.direction) == "sendonly":
            ctx.should(
                bool(now.formats) and set(now.formats) <= set(was.formats),
                "formats it would send (from those of the first offer)",
                f"{_media_line(was)} then {_media_line(now)}",
            )
        if now.port and was.port and now.port != was.port:
            ctx.should(
                now.formats == was.formats,
                "the rest of the stream unchanged when only the port changes",
                f"{_media_line(was)} then {_media_line(now)}",
            )


##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer wishes to communicate, but wishes to neither send nor receive media
##% at this time, it MUST mark the stream with an "a=inactive" attribute.
@case(
    "rfc3264-uac-offer-inactive",
    roles=UAC_ROLE,
    timeout=20,
    preamble="a call from the target, answered 200, then a re-INVITE ([uac] hold-inactive)",
    no_control=RUNNER_ANSWERS,
)
def uac_offer_inactive(ctx: Context) -> None:
    """The target re-INVITEs wishing to neither send nor receive: a=inactive on the stream
    (not merely c=0.0.0.0 or a port 0)."""
    call, _, _, again, offer, addr = _held_call(ctx, "hold-inactive")
    call.peer.answer(again, addr, 200)
    streams = [m for m in offer.media if m.port]
    ctx.check(bool(streams), "the stream kept (a port not 0)", str(offer.media))
    for media in streams:
        ctx.check(
            media.direction(offer.direction) == "inactive",
            "a=inactive on the stream",
            f"{media.direction(offer.direction)} ({_media_line(media)})",
        )


##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% If the offerer
##% wishes to only receive media from its peer, it MUST mark the stream as recvonly.
##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
##= type=test
##% For a recvonly stream, the offer SHOULD indicate those formats the offerer is willing
##% to receive for this stream.
@case(
    "rfc3264-uac-offer-recvonly",
    roles=UAC_ROLE,
    timeout=20,
    preamble="a call from the target, answered 200, then a re-INVITE ([uac] hold-recvonly)",
    no_control=RUNNER_ANSWERS,
)
def uac_offer_recvonly(ctx: Context) -> None:
    """The target re-INVITEs wishing to only receive: a=recvonly on the stream, with the
    formats it receives (those of its first offer: a SHOULD)."""
    call, _, first, again, offer, addr = _held_call(ctx, "hold-recvonly")
    call.peer.answer(again, addr, 200)
    streams = [m for m in offer.media if m.port]
    ctx.check(bool(streams), "the stream kept (a port not 0)", str(offer.media))
    for was, media in zip(first.media, offer.media, strict=False):
        if not media.port:
            continue
        ctx.check(
            media.direction(offer.direction) == "recvonly",
            "a=recvonly on the stream",
            f"{media.direction(offer.direction)} ({_media_line(media)})",
        )
        ctx.should(
            bool(media.formats) and set(media.formats) <= set(was.formats),
            "formats it receives (from its first offer's)",
            f"{_media_line(was)} then {_media_line(media)}",
        )


##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% Furthermore, it MUST NOT generate a new offer if it has generated a
##% prior offer for which it has not yet received an answer or a
##% rejection.
##= https://www.rfc-editor.org/rfc/rfc3264#section-4
##= type=test
##% However, it MUST NOT generate a new offer if it has received an offer which it has not
##% yet answered or rejected.
@case(
    "rfc3264-uac-offer-pending",
    roles=UAC_ROLE,
    timeout=25,
    preamble="a call from the target, answered 200, then its hold re-INVITE ([uac] hold-resume)",
    no_control=RUNNER_ANSWERS,
)
def uac_offer_pending(ctx: Context) -> None:
    """The hold re-INVITE (an offer) gets only a 100 for 1 s, while the target means to
    resume: no new offer meanwhile.  Answered, the resume comes after; the runner then
    offers in a re-INVITE of its own: answered before the target offers anything more."""
    call, _, _, again, _, addr = _held_call(ctx, "hold-resume")
    peer = call.peer
    peer.answer(again, addr, 100, contact=False)
    early = peer.expect(
        lambda m: (
            m.call_id == again.call_id
            and m.method in ("INVITE", "UPDATE")
            and m.branch != again.branch
        ),
        1.0,
    )
    ctx.check(
        early is None,
        "no new offer while the hold offer has no answer",
        describe(early[0] if early else None),
    )
    peer.answer(again, addr, 200)
    peer.request("ACK", 2.0, again.call_id)
    resume = peer.request("INVITE", 6.0, again.call_id)
    if resume is None:
        ctx.inconclusive("the target sent no resume re-INVITE")
    assert resume is not None
    peer.answer(resume[0], resume[1], 200)
    peer.request("ACK", 2.0, again.call_id)
    # the runner's own offer: the target answers it before offering anything of its own
    cseq = 100
    data, branch = in_dialog(call, "INVITE", cseq, _sdp(_PCMU, session_id=4243), "application/sdp")
    peer.send(data, contact_address(ctx, call), "re-INVITE with an offer")
    got = peer.expect(
        lambda m: (
            m.call_id == again.call_id
            and (
                (m.is_response and m.branch == branch and (m.status or 0) >= 200)
                or m.method in ("INVITE", "UPDATE")
            )
        ),
        3.0,
    )
    if got is None:
        ctx.inconclusive("no final response to the runner's re-INVITE")
    assert got is not None
    msg = got[0]
    ctx.check(
        msg.is_response,
        "the answer (a final response) before any offer of the target's",
        describe(msg),
        1,
    )
    if (msg.status or 0) >= 200:
        ack, _ = in_dialog(call, "ACK", cseq)
        peer.send(ack, contact_address(ctx, call), "ACK")
