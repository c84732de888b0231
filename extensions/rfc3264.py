"""The offer/answer model with SDP (RFC 3264), as the session describer of a UA.

RFC 3261 says in which messages an offer and its answer travel; the core keeps where
each INVITE usage stands in a :class:`~rfc3261.offer_answer.Negotiation` and asks the
session manager's :class:`~rfc3261.offer_answer.SessionDescriber` to write the
descriptions.  :class:`SdpDescriber` is that describer for SDP (RFC 8866):

- an initial offer (§5) has one audio stream with the configured codecs;
- an answer (§6) keeps the offer's m= lines, their number and order, rejects with port
  0 what it cannot take (a stream at port 0, another media type or transport, no codec
  in common), keeps the offer's payload type numbers and fmtp (§6.1), and mirrors the
  direction (sendonly -> recvonly...);
- a later offer (§8) keeps the o= line, its version one higher when anything changed,
  and every m= line of the previous one; streams are added at the end (§8.1) or
  removed with port 0 (§8.2); hold marks streams sendonly or inactive (§8.4);
- an offer it cannot read or accept is refused with a
  :class:`~rfc3261.offer_answer.Refusal` whose Warning names the line (488).

What an answer contains is decided by an :class:`AnswerPolicy` the application may
replace (its default takes every stream it has a codec for); the session manager
applies it to re-INVITEs as to INVITEs, before the application is told.  No media is
sent or received: the ports are written, never opened.

:class:`OfferAnswer` is the UA extension that installs the describer and gives the
application ``hold``/``resume``/``add_stream``/``remove_stream`` and the negotiated
session of a call (:meth:`SdpDescriber.negotiated`).
"""

from __future__ import annotations

import ipaddress
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfc3261.extension import UAEffect, UAExtension
from rfc3261.offer_answer import Refusal, SessionDescriber

from .rfc8866 import (
    Attribute,
    Connection,
    Media,
    Origin,
    RtpMap,
    SDPError,
    SessionDescription,
    Timing,
    parse,
    serialize,
)

if TYPE_CHECKING:  # pragma: no cover
    from rfc3261.extension import ServerRequest
    from rfc3261.message import Response
    from rfc3261.session import Call
    from rfc3261.ua_core import UserAgent

__all__ = [
    "CODECS",
    "AnswerPolicy",
    "Codec",
    "NegotiatedStream",
    "OfferAnswer",
    "SdpDescriber",
    "answer_problems",
    "codecs_from_names",
]

# The RTP/AVP profile (RFC 3551): the transports an audio stream is answered on.
RTP_PROTOS = ("RTP/AVP",)


@dataclass(frozen=True)
class Codec:
    """An audio format this UA offers: its name, clock rate, channels and usual PT."""

    name: str
    clock_rate: int
    payload_type: int
    channels: str | None = None
    fmtp: str | None = None

    def matches(self, rtpmap: RtpMap) -> bool:
        """Whether an offered encoding is this codec (names compare case-insensitively)."""
        return (
            rtpmap.encoding.lower() == self.name.lower()
            and rtpmap.clock_rate == self.clock_rate
            and (rtpmap.parameters or "1") == (self.channels or "1")
        )

    def rtpmap(self, payload_type: int | None = None) -> RtpMap:
        pt = self.payload_type if payload_type is None else payload_type
        return RtpMap(pt, self.name, self.clock_rate, self.channels)


# Static payload types of RFC 3551 §6 and the dynamic numbers most stacks use.
CODECS: dict[str, Codec] = {
    c.name.lower(): c
    for c in (
        Codec("PCMU", 8000, 0),
        Codec("GSM", 8000, 3),
        Codec("PCMA", 8000, 8),
        Codec("G722", 8000, 9),
        Codec("G729", 8000, 18),
        Codec("iLBC", 8000, 97, fmtp="mode=30"),
        Codec("speex", 8000, 98),
        Codec("telephone-event", 8000, 101, fmtp="0-16"),
        Codec("opus", 48000, 111, "2"),
    )
}


def codecs_from_names(names: str | list[str]) -> list[Codec]:
    """``"PCMU,PCMA,opus"`` as codecs, in that order of preference (ValueError if unknown)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n.lower() not in CODECS]
    if unknown or not names:
        known = ", ".join(c.name for c in CODECS.values())
        raise ValueError(f"unknown codec(s) {', '.join(unknown) or '(none)'}; known: {known}")
    return [CODECS[n.lower()] for n in names]


@dataclass(frozen=True)
class NegotiatedStream:
    """One stream as the last offer/answer left it, from this UA's point of view."""

    index: int
    media: str
    codec: str | None  # "PCMA/8000" -- the first format of the answer both have (§7)
    payload_type: str | None
    direction: str  # this UA's: sendrecv, sendonly, recvonly or inactive
    remote_address: str | None
    remote_port: int
    local_port: int

    def __str__(self) -> str:
        if self.remote_port == 0 or self.local_port == 0:
            return f"stream {self.index} {self.media}: rejected (port 0)"
        return (
            f"stream {self.index} {self.media}: {self.codec} (PT {self.payload_type}), "
            f"{self.direction}, remote {self.remote_address}:{self.remote_port}, "
            f"local port {self.local_port}"
        )


# What a direction becomes in the answer (§6.1), before this UA's own hold.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##% If a stream is offered as sendonly, the corresponding stream MUST be
##% marked as recvonly or inactive in the answer.  If a media stream is
##% listed as recvonly in the offer, the answer MUST be marked as
##% sendonly or inactive in the answer.
##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
##% If an offered media
##% stream is listed as inactive, it MUST be marked as inactive in the
##% answer.
_MIRROR = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
# A direction as (sends, receives), and back.
_FLOWS = {
    "sendrecv": (True, True),
    "sendonly": (True, False),
    "recvonly": (False, True),
    "inactive": (False, False),
}
_DIRECTION = {flows: name for name, flows in _FLOWS.items()}


def narrowed(direction: str, wanted: str) -> str:
    """``direction`` with only the flows ``wanted`` allows (hold narrows sendrecv)."""
    (a_send, a_recv), (w_send, w_recv) = _FLOWS[direction], _FLOWS[wanted]
    return _DIRECTION[(a_send and w_send, a_recv and w_recv)]


class AnswerPolicy:
    """Decides what to accept in an offer; the application may subclass it."""

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
    ##% An offered stream MAY be rejected in the answer, for any reason.
    def accept_stream(self, call: Any, index: int, media: Media) -> bool:
        """Whether to take offered stream ``index`` (default: every audio one)."""
        return media.media == "audio"

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
    ##% The
    ##% recipient of an offer for a stream on-hold SHOULD NOT automatically
    ##% return an answer with the corresponding stream on hold.
    def direction(self, call: Any, offered: str, wanted: str) -> str:
        """The answer's direction: the offer's mirrored, narrowed by what we want."""
        return narrowed(_MIRROR[offered], wanted)


@dataclass(eq=False)
class _CallMedia:
    """What the describer remembers of one call beyond its negotiation."""

    direction: str = "sendrecv"  # what this UA wants: sendonly when it holds (§8.4)
    ports: list[int] = field(default_factory=list)  # our port per stream (0: removed)
    added: list[str] = field(default_factory=list)  # streams to add in the next offer
    refusal: Refusal | None = None
    offered: bytes | None = None  # the last offer written for the call


class SdpDescriber(SessionDescriber):
    """Offers and answers SDP for the calls of one UA (RFC 3264)."""

    def __init__(
        self,
        codecs: list[Codec] | None = None,
        *,
        address: str = "127.0.0.1",
        first_port: int = 40000,
        username: str = "-",
        policy: AnswerPolicy | None = None,
    ) -> None:
        self.codecs = list(codecs) if codecs is not None else codecs_from_names("PCMU,PCMA")
        if not self.codecs:
            raise ValueError("an SDP describer needs at least one codec")
        if not 0 < first_port < 65535:
            raise ValueError(f"first_port must be a port number, got {first_port}")
        self.address = address
        self.username = username
        self.policy = policy or AnswerPolicy()
        self._next_port = first_port
        self._first_port = first_port
        self._calls: weakref.WeakKeyDictionary[Any, _CallMedia] = weakref.WeakKeyDictionary()
        self._session_ids = 0

    # -- per call -------------------------------------------------------------------

    def _media(self, call: Any) -> _CallMedia:
        state = self._calls.get(call)
        if state is None:
            state = self._calls[call] = _CallMedia()
        return state

    def _port(self) -> int:
        """A fresh even port for RTP (RTCP one higher, RFC 3550 §11); never opened."""
        port = self._next_port
        self._next_port += 2
        if self._next_port >= 65534:
            self._next_port = self._first_port
        return port

    @property
    def _addrtype(self) -> str:
        return "IP6" if ":" in self.address else "IP4"

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
    ##% If the offerer wishes to only send media on a stream to its peer, it
    ##% MUST mark the stream as sendonly with the "a=sendonly" attribute.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
    ##% If the offerer
    ##% wishes to only receive media from its peer, it MUST mark the stream as recvonly.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
    ##% If the offerer wishes to communicate, but wishes to neither send nor receive media
    ##% at this time, it MUST mark the stream with an "a=inactive" attribute.
    def want(self, call: Any, direction: str) -> None:
        """The direction this UA wants for the call's streams from the next offer on."""
        if direction not in _FLOWS:
            raise ValueError(f"not a direction (RFC 3264 §5.1): {direction!r}")
        self._media(call).direction = direction

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
    ##% If the stream to be placed on hold was previously a sendrecv media
    ##% stream, it is placed on hold by marking it as sendonly.  If the
    ##% stream to be placed on hold was previously a recvonly media stream,
    ##% it is placed on hold by marking it inactive.
    def hold(self, call: Any, held: bool = True) -> None:
        """Hold (or resume, ``held=False``) the call's streams in the next offer (§8.4)."""
        current = self._media(call).direction
        self.want(call, narrowed(current, "sendonly") if held else "sendrecv")

    def is_held(self, call: Any) -> bool:
        return not _FLOWS[self._media(call).direction][1]

    def add_stream(self, call: Any, media: str = "audio") -> None:
        """Add a stream of ``media`` type in the next offer (§8.1)."""
        self._media(call).added.append(media)

    def remove_stream(self, call: Any, index: int) -> None:
        """Remove stream ``index`` (from 0) in the next offer: port 0 (§8.2)."""
        state = self._media(call)
        if not 0 <= index < len(state.ports):
            raise ValueError(f"the call has no stream {index}")
        state.ports[index] = 0

    # -- offers (§5, §8) -----------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5
    ##% The numeric value of the session id
    ##% and version in the o line MUST be representable with a 64 bit signed
    ##% integer.  The initial value of the version MUST be less than
    ##% (2**62)-1, to avoid rollovers.
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
    ##% The
    ##% "s=" line MUST NOT be empty.
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
    ##% If a session has no meaningful name, then "s= " or "s=-" (i.e., a
    ##% single space or dash as the session name) is RECOMMENDED.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5
    ##% For
    ##% unicast sessions, it is RECOMMENDED that it consist of a single space
    ##% character (0x20) or a dash (-).
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5
    ##% In that case, the "t=" line
    ##% SHOULD have a value of "0 0".
    def _new_description(self) -> SessionDescription:
        self._session_ids += 1
        origin = Origin(
            self.username,
            str(self._session_ids),
            0,
            "IN",
            self._addrtype,
            self.address,
        )
        return SessionDescription(
            origin=origin,
            session_name="-",
            connection=Connection("IN", self._addrtype, self.address),
            times=[Timing(0, 0)],
        )

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
    ##% In the case of RTP streams, all media descriptions SHOULD contain
    ##% "a=rtpmap" mappings from RTP payload types to encodings.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
    ##% In all cases, the formats in the "m=" line MUST be listed in order of
    ##% preference, with the first format listed being preferred.
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
    ##% For dynamic payload type assignments, the "a=rtpmap:" attribute (see
    ##% Section 6.6) SHOULD be used to map from an RTP payload type number to
    ##% a media encoding name that identifies the payload format.
    ##= https://www.rfc-editor.org/rfc/rfc8866#section-8.2.3
    ##% If the payload type number is dynamically assigned by this session
    ##% description, an additional "a=rtpmap:" attribute MUST be included to
    ##% specify the format name and parameters as defined by the media type
    ##% registration for the payload format.
    def _offered_media(
        self, port: int, kind: str = "audio", used: list[Media] | None = None
    ) -> Media:
        media = Media(kind, port, None, "RTP/AVP")
        for codec, pt in self._payload_types(used or []).items():
            media.formats.append(pt)
            media.attributes.append(Attribute("rtpmap", str(codec.rtpmap(int(pt)))))
            if codec.fmtp is not None:
                media.attributes.append(Attribute("fmtp", f"{pt} {codec.fmtp}"))
        return media

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
    ##% However, in the
    ##% case of RTP, the mapping from a particular dynamic payload type
    ##% number to a particular codec within that media stream MUST NOT change
    ##% for the duration of a session.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.3.2
    ##% For example, if A generates an offer
    ##% with G.711 assigned to dynamic payload type number 46, payload type
    ##% number 46 MUST refer to G.711 from that point forward in any offers
    ##% or answers for that media stream within the session.
    def _payload_types(self, used: list[Media]) -> dict[Codec, str]:
        """A payload type per codec: the one the stream used before, else a free one."""
        taken: dict[str, RtpMap] = {}
        for media in used:
            for fmt in media.formats:
                rtpmap = media.rtpmap(fmt)
                if rtpmap is not None:
                    taken.setdefault(fmt, rtpmap)
        chosen: dict[Codec, str] = {}
        for codec in self.codecs:
            pt = next((f for f, r in taken.items() if codec.matches(r)), None)
            if pt is None:
                free = [str(codec.payload_type)] + [str(n) for n in range(96, 128)]
                pt = next((f for f in free if f not in taken and f not in chosen.values()), None)
            if pt is not None:
                chosen[codec] = pt
        return chosen

    def _previous(self, call: Any) -> SessionDescription | None:
        """Our last description in force (offer or answer), if we sent one."""
        local = call.negotiation.local
        if not local:
            return None
        try:
            return parse(local)
        except SDPError:
            return None  # a body the application wrote itself, not SDP

    def offer_for_new_call(self) -> bytes:
        """The offer of an INVITE not sent yet (no call exists): one audio stream (§5)."""
        sd = self._new_description()
        sd.media.append(self._offered_media(self._port()))
        return serialize(sd)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
    ##% A UAS providing an offer in a 2xx (because the INVITE did not contain
    ##% an offer) SHOULD construct the offer as if the UAS were making a brand
    ##% new call, subject to the constraints of sending an offer that updates
    ##% an existing session, as described in [13] in the case of SDP.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
    ##% Specifically, this means that it SHOULD include as many media formats
    ##% and media types that the UA is willing to support.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
    ##% The UAS MUST
    ##% ensure that the session description overlaps with its previous
    ##% session description in media formats, transports, or other parameters
    ##% that require support from the peer.
    # (Every offer lists all the configured codecs on RTP/AVP, with the payload types
    # the session already uses, so it overlaps the previous one.)
    def offer(self, call: Any) -> bytes:
        """A new offer: brand new (§5), or the next version of ours (§8)."""
        state = self._media(call)
        previous = self._previous(call)
        remote = _parse_or_none(call.negotiation.remote)
        if previous is not None and not state.ports:
            state.ports = [m.port for m in previous.media]  # (our INVITE's offer)
        if previous is None:
            sd = self._new_description()
            if not state.ports:
                state.ports.append(self._port())
        else:
            sd = previous.copy()
            sd.media = []
        kinds = [m.media for m in previous.media] if previous is not None else ["audio"]
        for kind in state.added:
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.1
            ##% New media descriptions MUST appear below
            ##% any existing media sections.
            kinds.append(kind)
            state.ports.append(self._port())
        state.added.clear()
        while len(state.ports) < len(kinds):
            state.ports.append(self._port())
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-8
        ##% If an SDP is offered, which is different from the previous SDP, the
        ##% new SDP MUST have a matching media stream for each media stream in
        ##% the previous SDP.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-8
        ##% Deleted media
        ##% streams from a previous SDP MUST NOT be removed in a new SDP;
        ##% however, attributes for these streams need not be present.
        for index, kind in enumerate(kinds):
            port = state.ports[index]
            if port == 0:
                ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.2
                ##% Existing media streams are removed by creating a new SDP with the
                ##% port number for that stream set to zero.
                old = previous.media[index] if previous and index < len(previous.media) else None
                sd.media.append(
                    Media(
                        kind,
                        0,
                        None,
                        old.proto if old else "RTP/AVP",
                        (old.formats[:1] if old else ["0"]),
                    )
                )
                continue
            used = [
                sd.media[index]
                for sd in (previous, remote)
                if sd is not None and index < len(sd.media)
            ]
            media = self._offered_media(port, kind, used)
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
            ##= verify=absence
            ##= reason=sendrecv offers leave the direction implicit (no attribute)
            ##% If the offerer wishes to both send and
            ##% receive media with its peer, it MAY include an "a=sendrecv"
            ##% attribute, or it MAY omit it, since sendrecv is the default.
            media.set_direction(state.direction)
            sd.media.append(media)
        offer = serialize(_next_version(previous, sd))
        state.offered = offer
        return offer

    def mismatch(self, call: Any) -> list[str]:
        """How the peer's answer to our last offer breaks §6 (empty: it does not)."""
        negotiation, offered = call.negotiation, self._media(call).offered
        if offered is None or negotiation.local != offered or not negotiation.remote:
            return []
        return answer_problems(offered, negotiation.remote)

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-9
    ##% It MUST be a valid SDP, except that it MAY omit both "e="
    ##% and "p=" lines.  The "t=" line MUST be equal to "0 0".  For each
    ##% media type supported by the agent, there MUST be a corresponding
    ##% media description of that type.  The session ID in the origin field
    ##% MUST be unique for each SDP constructed to indicate media
    ##% capabilities.  The port MUST be set to zero, but the connection
    ##% address is arbitrary.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-9
    ##% For each media format of that type supported by the
    ##% agent, there SHOULD be a media format listed in the "m=" line.  In
    ##% the case of RTP, if dynamic payload types are used, an rtpmap
    ##% attribute MUST be present to bind the type to a specific format.
    def capabilities(self) -> bytes:
        """SDP indicating this UA's media capabilities (for OPTIONS, §9): port 0."""
        sd = self._new_description()
        media = self._offered_media(0)
        sd.media.append(media)
        return serialize(sd)

    # -- answers (§6, §8) -----------------------------------------------------------

    def refusal(self, call: Any, offer: bytes) -> Refusal | None:
        """Why ``offer`` cannot be answered (a 488 with this Warning), or None."""
        _, refusal = self._answer(call, offer)
        return refusal

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-8
    ##% However, the answerer MUST generate a valid answer (which MAY be the same as
    ##% the previous SDP from the answerer, or MAY be different), according to the
    ##% procedures defined in Section 6.
    def answer(self, call: Any, offer: bytes) -> bytes | None:
        """The answer to ``offer``, or None (with :meth:`refusal` saying why)."""
        answer, refusal = self._answer(call, offer)
        self._media(call).refusal = refusal
        return answer

    def decline(self, call: Any, offer: bytes) -> bytes:
        """A valid answer refusing every stream of ``offer``: port 0 (§6)."""
        previous = self._previous(call)
        sd = self._new_description() if previous is None else previous.copy()
        parsed = _parse_or_none(offer)
        sd.media = [
            Media(m.media, 0, None, m.proto, m.formats[:1])
            for m in (parsed.media if parsed is not None else [])
        ]
        if parsed is not None:
            sd.times = [Timing(t.start, t.stop) for t in parsed.times]
        return serialize(_next_version(previous, sd))

    def last_refusal(self, call: Any) -> Refusal | None:
        return self._media(call).refusal

    def _answer(self, call: Any, body: bytes) -> tuple[bytes | None, Refusal | None]:
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-5
        ##% The offer (and answer) MUST be a valid SDP message, as defined by RFC
        ##% 2327 [1], with one exception.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-5
        ##% Although the SDP specification allows
        ##% for multiple session descriptions to be concatenated together into a
        ##% large SDP message, an SDP message used in the offer/answer model MUST
        ##% contain exactly one session description.
        # (The parser refuses a second v= line.)
        try:
            offer = parse(body)
        except SDPError as error:
            return None, Refusal(str(error), 399)
        state = self._media(call)
        negotiation = call.negotiation
        previous_remote = _parse_or_none(
            negotiation.before[1] if negotiation.remote == body else negotiation.remote
        )
        problem = _offer_problem(offer, previous_remote)
        if problem is not None:
            return None, Refusal(problem, 399)
        previous = self._previous(call)
        if previous is not None and not state.ports:
            state.ports = [m.port for m in previous.media]
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
        ##% If the answer is different from the offer in
        ##% any way (different IP addresses, ports, etc.), the origin line MUST
        ##% be different in the answer, since the answer is generated by a
        ##% different entity.
        # (Our own o= line: the first answer starts a description of ours.)
        sd = self._new_description() if previous is None else previous.copy()
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
        ##% This implies that if the offer contained zero "m=" lines, the answer MUST
        ##% contain zero "m=" lines.
        sd.media = []  # then one m= line per offered one, none for none
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
        ##% The "t=" line in the answer MUST equal that of the offer.
        sd.times = [Timing(t.start, t.stop) for t in offer.times]
        sd.attributes = []
        accepted = 0
        reasons: list[str] = []
        for index, offered in enumerate(offer.media):
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
            ##% For each "m=" line in the offer, there MUST be a corresponding "m="
            ##% line in the answer.  The answer MUST contain exactly the same number
            ##% of "m=" lines as the offer.
            while len(state.ports) <= index:
                state.ports.append(self._port())
            media = self._answer_stream(call, index, offer, offered, reasons)
            if media.port:
                accepted += 1
            sd.media.append(media)
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% If there are no media formats in common for all streams, the entire
        ##% offered session is rejected.
        if offer.media and not accepted and reasons:
            return None, Refusal("; ".join(reasons), 305)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% If a UA receives a re-INVITE for an existing dialog, it MUST check any
        ##% version identifiers in the session description or, if there are no
        ##% version identifiers, the content of the session description to see if
        ##% it has changed.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% If the session description has changed, the UAS MUST adjust the
        ##% session parameters accordingly, possibly after asking the user for
        ##% confirmation.
        # (The answer is written anew from the offer, the policy deciding; unchanged,
        # it is the previous answer again, o= version and all (RFC 3264 §8: a no-op).)
        return serialize(_next_version(previous, sd)), None

    def _answer_stream(
        self,
        call: Any,
        index: int,
        offer: SessionDescription,
        offered: Media,
        reasons: list[str],
    ) -> Media:
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% The media type of the stream
        ##% in the answer MUST match that of the offer.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6
        ##% To reject an offered
        ##% stream, the port number in the corresponding stream in the answer
        ##% MUST be set to zero.  Any media formats listed are ignored.  At least
        ##% one MUST be present, as specified by SDP.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-8.2
        ##% A stream that is offered with a port of zero MUST be marked with port
        ##% zero in the answer.
        rejected = Media(offered.media, 0, None, offered.proto, offered.formats[:1])
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
        ##% A port number of zero in the offer indicates that the
        ##% stream is offered but MUST NOT be used.
        if offered.port == 0:
            return rejected
        connection = offer.connection_of(offered)
        if offered.proto not in RTP_PROTOS or connection is None:
            reasons.append(f"m= line {index + 1}: transport {offered.proto} not supported")
            return rejected
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% If a stream is offered with a unicast address, the answer for that
        ##% stream MUST contain a unicast address.
        # (Multicast streams are rejected; the answer's c= is this UA's unicast address.)
        if _is_multicast(connection):
            reasons.append(f"m= line {index + 1}: multicast streams are not supported")
            return rejected
        if not self.policy.accept_stream(call, index, offered):
            reasons.append(f"m= line {index + 1}: {offered.media} streams are not accepted")
            return rejected
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% In the case of RTP, if a particular codec was referenced with a
        ##% specific payload type number in the offer, that same payload type
        ##% number SHOULD be used for that codec in the answer.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% Although the answerer MAY list the formats in their desired order of
        ##% preference, it is RECOMMENDED that unless there is a specific reason,
        ##% the answerer list formats in the same relative order they were
        ##% present in the offer.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% The
        ##% media formats in the "m=" line MUST be listed in order of preference,
        ##% with the first format listed being preferred.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% For streams marked as sendrecv in the answer,
        ##% the "m=" line MUST contain at least one codec the answerer is willing
        ##% to both send and receive, from amongst those listed in the offer.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% For streams marked as recvonly in the answer, the "m=" line MUST
        ##% contain at least one media format the answerer is willing to receive
        ##% with from amongst those listed in the offer.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% For streams
        ##% marked as sendonly in the answer, the "m=" line MUST contain at least
        ##% one media format the answerer is willing to send from amongst those
        ##% listed in the offer.
        # (This UA's codecs go both ways, so one list serves every direction.)
        chosen: list[tuple[str, RtpMap]] = []
        for fmt in offered.formats:
            rtpmap = offered.rtpmap(fmt)
            if rtpmap is not None and any(c.matches(rtpmap) for c in self.codecs):
                chosen.append((fmt, rtpmap))
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% If the answerer has no media formats in common for a particular
        ##% offered stream, the answerer MUST reject that media stream by setting
        ##% the port to zero.
        # (telephone-event alone carries no voice: a stream needs a real codec too.)
        if not any(r.encoding.lower() != "telephone-event" for _, r in chosen):
            offered_names = ", ".join(
                str(offered.rtpmap(f).encoding) if offered.rtpmap(f) else f
                for f in offered.formats
            )
            ours = ", ".join(c.name for c in self.codecs)
            reasons.append(
                f"m= line {index + 1}: no codec in common (offered {offered_names}; "
                f"we have {ours})"
            )
            return rejected
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% This address and port MUST be
        ##% present even for sendonly streams; in the case of RTP, the port one
        ##% higher is still used to receive RTCP.
        ports = self._media(call).ports
        ports[index] = ports[index] or self._port()  # (a slot reused, §8.1)
        media = Media(offered.media, ports[index], None, offered.proto)
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% Even if the same payload type number is used, the answer MUST contain rtpmap
        ##% attributes to define the payload type mappings for dynamic payload
        ##% types, and SHOULD contain mappings for static payload types.
        ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
        ##% This means that the same
        ##% fmtp parameters with the same values MUST be present in the answer if
        ##% the media format they describe is present in the answer.
        for fmt, rtpmap in chosen:
            media.formats.append(fmt)
            media.attributes.append(Attribute("rtpmap", f"{fmt} {str(rtpmap).split(' ', 1)[1]}"))
            fmtp = offered.fmtp(fmt)
            if fmtp is not None:
                media.attributes.append(Attribute("fmtp", f"{fmt} {fmtp}"))
        offered_direction = offer.direction(offered)
        wanted = self._media(call).direction
        media.set_direction(self.policy.direction(call, offered_direction, wanted))
        return media

    # -- what was negotiated (§6.1, §7) -----------------------------------------------

    def negotiated(self, call: Any) -> list[NegotiatedStream]:
        """The streams of the last completed exchange (empty before one completes)."""
        negotiation = call.negotiation
        local = _parse_or_none(negotiation.local)
        remote = _parse_or_none(negotiation.remote)
        if local is None or remote is None:
            return []
        streams = []
        for index, (mine, theirs) in enumerate(zip(local.media, remote.media, strict=False)):
            connection = remote.connection_of(theirs)
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-7
            ##% It MUST send using a media format listed in the answer,
            ##% and it SHOULD use the first media format listed in the answer when it
            ##% does send.
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-5.1
            ##% However, for sendonly and sendrecv streams, the answer might indicate
            ##% different payload type numbers for the same codecs, in which case,
            ##% the offerer MUST send with the payload type numbers from the answer.
            ##= https://www.rfc-editor.org/rfc/rfc3264#section-6.1
            ##% In the case of RTP, it MUST use the payload type numbers
            ##% from the offer, even if they differ from those in the answer.
            ##= https://www.rfc-editor.org/rfc/rfc8866#section-5.14
            ##% When multiple payload formats are listed, the first acceptable
            ##% payload format from the beginning of the list SHOULD be used for the
            ##% session.
            # (The peer's description holds the numbers to send with: the answer's when
            # we offered, the offer's when we answered.)
            common = [f for f in theirs.formats if _same_codec(theirs, f, mine)]
            codec = theirs.rtpmap(common[0]) if common else None
            streams.append(
                NegotiatedStream(
                    index,
                    mine.media,
                    None if codec is None else f"{codec.encoding}/{codec.clock_rate}",
                    common[0] if common else None,
                    _effective(
                        local.direction(mine),
                        remote.direction(theirs),
                        connection is not None and _unspecified(connection),
                    ),
                    None if connection is None else connection.host,
                    theirs.port,
                    mine.port,
                )
            )
        return streams


##= https://www.rfc-editor.org/rfc/rfc3264#section-8.4
##% An agent MUST be capable of receiving SDP with a
##% connection address of 0.0.0.0, in which case it means that neither
##% RTP nor RTCP should be sent to the peer.
def _effective(mine: str, theirs: str, unspecified: bool = False) -> str:
    """This UA's direction: what it said, narrowed by what the peer said (§6.1)."""
    sends = mine in ("sendrecv", "sendonly") and theirs in ("sendrecv", "recvonly")
    sends = sends and not unspecified
    receives = mine in ("sendrecv", "recvonly") and theirs in ("sendrecv", "sendonly")
    return {
        (True, True): "sendrecv",
        (True, False): "sendonly",
        (False, True): "recvonly",
        (False, False): "inactive",
    }[(sends, receives)]


def _same_codec(theirs: Media, fmt: str, mine: Media) -> bool:
    mapping = theirs.rtpmap(fmt)
    if mapping is None or mapping.encoding.lower() == "telephone-event":
        return False
    return any(
        (m := mine.rtpmap(f)) is not None
        and m.encoding.lower() == mapping.encoding.lower()
        and m.clock_rate == mapping.clock_rate
        for f in mine.formats
    )


def _parse_or_none(body: bytes | None) -> SessionDescription | None:
    if not body:
        return None
    try:
        return parse(body)
    except SDPError:
        return None


def _unspecified(connection: Connection) -> bool:
    try:
        return ipaddress.ip_address(connection.host).is_unspecified
    except ValueError:
        return False


def _is_multicast(connection: Connection) -> bool:
    try:
        return ipaddress.ip_address(connection.host).is_multicast
    except ValueError:
        return False


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##% When issuing an offer that modifies the session,
##% the "o=" line of the new SDP MUST be identical to that in the
##% previous SDP, except that the version in the origin field MUST
##% increment by one from the previous SDP.  If the version in the origin
##% line does not increment, the SDP MUST be identical to the SDP with
##% that version number.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##% If the session description format has the capability for version
##% numbers, the offerer SHOULD indicate that the version of the session
##% description has changed.
def _next_version(
    previous: SessionDescription | None, sd: SessionDescription
) -> SessionDescription:
    """``sd`` with the previous o= line: same version if nothing changed, else one more."""
    if previous is None:
        return sd
    sd.origin = Origin(**vars(previous.origin))
    if serialize(sd) != serialize(previous):
        sd.origin.sess_version = previous.origin.sess_version + 1
    return sd


##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##% In other words, if the previous SDP had N "m="
##% lines, the new SDP MUST have at least N "m=" lines.
##= https://www.rfc-editor.org/rfc/rfc3264#section-8
##% The answerer MUST be prepared to receive an
##% offer that contains SDP with a version that has not changed; this is
##% effectively a no-op.
def _offer_problem(offer: SessionDescription, previous: SessionDescription | None) -> str | None:
    """Why a new offer breaks the §8 rules against the peer's previous description."""
    if previous is None:
        return None
    same_origin = (offer.origin.username, offer.origin.sess_id) == (
        previous.origin.username,
        previous.origin.sess_id,
    )
    if not same_origin:
        return None  # a new session (e.g. after a transfer): judged on its own
    if len(offer.media) < len(previous.media):
        return (
            f"the offer has {len(offer.media)} m= lines, the previous one had "
            f"{len(previous.media)} (RFC 3264 §8: never fewer)"
        )
    return None


def answer_problems(offer: bytes, answer: bytes) -> list[str]:
    """How ``answer`` breaks RFC 3264 §6 against ``offer`` (empty: it does not)."""
    try:
        sent = parse(offer)
        got = parse(answer)
    except SDPError as error:
        return [str(error)]
    problems = []
    if len(got.media) != len(sent.media):
        problems.append(f"the answer has {len(got.media)} m= lines, the offer {len(sent.media)}")
    for index, (o, a) in enumerate(zip(sent.media, got.media, strict=False), 1):
        if a.media != o.media:
            problems.append(f"m= line {index}: media {a.media} answers {o.media}")
        if o.port == 0 and a.port != 0:
            problems.append(f"m= line {index}: a stream offered with port 0 is answered")
        if a.port and not any(_same_codec(a, f, o) for f in a.formats):
            problems.append(f"m= line {index}: no format of the answer was offered")
        od, ad = sent.direction(o), got.direction(a)
        allowed = {
            "sendonly": ("recvonly", "inactive"),
            "recvonly": ("sendonly", "inactive"),
            "inactive": ("inactive",),
        }.get(od)
        if a.port and allowed is not None and ad not in allowed:
            problems.append(f"m= line {index}: {ad} answers {od}")
    return problems


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##% The Session Description Protocol (SDP) (RFC 2327 [1]) MUST be
##% supported by all user agents as a means to describe sessions, and its
##% usage for constructing offers and answers MUST follow the procedures
##% defined in [13].
class OfferAnswer(UAExtension):
    """Installs an :class:`SdpDescriber` on the UA's session manager (RFC 3264)."""

    name = "sdp"

    def __init__(self, describer: SdpDescriber | None = None, **options: Any) -> None:
        self.describer = describer or SdpDescriber(**options)

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        ua.sessions.describer = self.describer

    def configure(self, *, codecs: str | None = None, address: str | None = None) -> None:
        """Set the codecs (``"PCMU,PCMA,opus"``) and the media address (the programs)."""
        if codecs is not None:
            self.describer.codecs = codecs_from_names(codecs)
        if address is not None:
            self.describer.address = address

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% If the types include one that can describe media capabilities, the UAS SHOULD include
    ##% a body in the response for that purpose.
    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        """A 200 to an OPTIONS whose Accept lists SDP describes our media (RFC 3264 §9)."""
        if server is None or server.request.method != "OPTIONS" or response.status != 200:
            return
        accept = ",".join(server.request.headers.get_all("Accept")).lower()
        types = {t.split(";")[0].strip() for t in accept.split(",")}
        if response.body or not types & {"application/sdp", "application/*", "*/*"}:
            return
        response.set_body(self.describer.capabilities(), "application/sdp")

    def session_text(self, call: Call) -> str:
        """The negotiated session of ``call``, one line per stream (for the programs)."""
        streams = self.describer.negotiated(call)
        return "; ".join(str(s) for s in streams) or "no session negotiated"

    def invite(self, to: str, now: float, **build: Any) -> tuple[Call, list[UAEffect]]:
        """Call ``to`` with an offer of the configured codecs (RFC 3261 §13.2.1)."""
        offer = self.describer.offer_for_new_call()
        call, effects = self.ua.sessions.invite(to, now, body=offer, **build)
        self.describer._media(call).offered = offer
        return call, effects

    def hold(self, call: Call, now: float, held: bool = True) -> list[UAEffect]:
        """Put the call on hold (or resume it) with a re-INVITE (§8.4)."""
        self.describer.hold(call, held)
        return self.ua.sessions.reinvite(call, now, self.describer.offer(call))

    def resume(self, call: Call, now: float) -> list[UAEffect]:
        return self.hold(call, now, held=False)
