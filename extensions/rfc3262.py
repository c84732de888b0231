"""Reliable provisional responses: 100rel, RSeq, RAck and PRACK (RFC 3262 §3-§5, §7).

Install :class:`ReliableProvisional` on a UA (``UserAgent(config, extensions=[...])``).
As UAS it sends every 101-199 response to an INVITE that supports or requires
``100rel`` reliably: with ``Require: 100rel`` and an ``RSeq``, retransmitted with T1
doubling until the PRACK, one at a time, and it holds the 2xx while a provisional
response that carried a session description waits for its PRACK (§3).  As UAC it
lists ``100rel`` in Supported (``require=True``: in Require) and acknowledges each
in-order reliable provisional response with a PRACK in its dialog (§4).  Offers and
answers in reliable provisional responses and in PRACK go through the call's
negotiation and the session manager's describer (§5).  Nothing here reads a clock:
the retransmissions run on ``ua.call_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rfc3261.dialog import Dialog, dialog_id_of
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import register_header
from rfc3261.message import Request, Response
from rfc3261.offer_answer import NegotiationState
from rfc3261.session import Call
from rfc3261.ua_core import UserAgent

__all__ = ["MAX_RSEQ", "TAG", "ProvisionalAcknowledged", "RAck", "ReliableProvisional"]

TAG = "100rel"
MAX_RSEQ = 2**32 - 1  # response-num = 1*DIGIT, a 32-bit number (§7.1)


def parse_rseq(value: str) -> int:
    """RSeq = "RSeq" HCOLON response-num (§7.1)."""
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_RSEQ:
        raise ParseError(f"{value!r} is not a response-num", "RFC 3262 §7.1", "RSeq")
    return int(text)


@dataclass(frozen=True)
class RAck:
    """RAck = response-num LWS CSeq-num LWS Method (§7.2): what a PRACK acknowledges."""

    rseq: int
    cseq: int
    method: str

    @classmethod
    def parse(cls, value: str) -> RAck:
        parts = value.split()
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ParseError(f"{value!r} is not an RAck value", "RFC 3262 §7.2", "RAck")
        return cls(int(parts[0]), int(parts[1]), parts[2])

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


@dataclass
class ProvisionalAcknowledged(UAEvent):
    """A PRACK acknowledged one of our reliable provisional responses (UAS)."""

    call: Call
    prack: Request


@dataclass(eq=False)
class _Reliable:
    """The reliable provisional responses of one INVITE server transaction (UAS, §3)."""

    server: ServerRequest
    call: Call
    rseq: int  # the RSeq of the next reliable provisional response
    unacked: Response | None = None  # sent, waiting for its PRACK
    queue: list[Response] = field(default_factory=list)  # waiting for unacked's PRACK
    held: Response | None = None  # the 2xx, waiting for unacked's PRACK
    interval: float = 0.0
    give_up_at: float = 0.0
    timer: Any = None
    final_sent: bool = False

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class ReliableProvisional(UAExtension):
    """RFC 3262 on one UA: reliable provisional responses as UAS and UAC, and PRACK."""

    name = "100rel"
    methods = ("PRACK",)
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
    ##% If the UAC does not wish to insist on usage of reliable provisional
    ##% responses, but merely indicate that it supports them if the UAS needs
    ##% to send one, a Supported header MUST be included in the request with
    ##% the option tag 100rel.  The UAC SHOULD include this in all INVITE
    ##% requests.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% If the UAS is unwilling to do so, it MUST reject the initial
    ##% request with a 420 (Bad Extension) and include an Unsupported header
    ##% field containing the option tag 100rel.
    # (The UA lists its option tags in the Supported of every request it builds, §8.1.1.9;
    # a UA without this extension refuses a Require of 100rel with 420, §8.2.2.3.)
    option_tags = (TAG,)

    def __init__(self, *, require: bool = False, when_supported: bool = True) -> None:
        #: UAC: insist on reliable provisional responses (Require: 100rel in INVITEs).
        self.require = require
        #: UAS: send reliably when the INVITE only supports 100rel (§3 allows it).
        self.when_supported = when_supported
        self._sending: dict[ServerRequest, _Reliable] = {}
        # UAC: the RSeq of the last in-order reliable response, per (INVITE, To tag).
        self._received: dict[tuple[ClientRequest, str], int] = {}
        self._to_acknowledge: dict[ClientRequest, Response] = {}

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_header("RSeq", parse_rseq, rfc=3262, section="7.1")
        register_header("RAck", RAck.parse, rfc=3262, section="7.2")

    # -- UAC: the INVITE (§4) ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
    ##% A Require header with the value 100rel MUST NOT be present
    ##% in any requests excepting INVITE, although extensions to SIP may
    ##% allow its usage with other request methods.
    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        tags = [str(tag) for tag in request.header("Require") or []]
        if request.method == "ACK":
            return  # an ACK copies the INVITE's Require (RFC 3261 §8.2.2.3)
        if request.method != "INVITE":
            if TAG in (tag.lower() for tag in tags):
                raise ValueError(f"Require: 100rel in a {request.method} (RFC 3262 §4)")
            return
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% If the UAC does not wish to insist on usage of reliable provisional
        ##% responses, but merely indicate that it supports them if the UAS needs
        ##% to send one, a Supported header MUST be included in the request with
        ##% the option tag 100rel.  The UAC SHOULD include this in all INVITE
        ##% requests.
        # (The core builds in-dialog requests, a re-INVITE too, without Supported; the
        # initial INVITE has it from option_tags already, §8.1.1.9.)
        supported = [str(tag) for tag in request.header("Supported") or []]
        if TAG not in map(str.lower, supported):
            request.headers.set("Supported", ", ".join([*supported, TAG]))
        wanted = self.require and request.to.tag is None and TAG not in map(str.lower, tags)
        if wanted and client is not None and not client.retried_420:
            request.headers.set("Require", ", ".join([*tags, TAG]))

    def _reliable_response(self, client: ClientRequest, response: Response) -> bool:
        if client.method != "INVITE" or client.dialog is not None:
            return False
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% If the response is
        ##% a 100 (Trying) (as opposed to 101 to 199), this option tag MUST be
        ##% ignored, and the procedures below MUST NOT be used.
        if response.status == 100:
            return False

        return TAG in (str(tag).lower() for tag in response.header("Require") or [])

    def inspect_response(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """Discard retransmitted and out-of-order reliable provisional responses (§4)."""
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% This sequence number MUST be maintained until a final
        ##% response is received for the initial request.
        if response.status >= 200:
            for key in [key for key in self._received if key[0] is client]:
                del self._received[key]
            return None
        if not self._reliable_response(client, response):
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% The UAC MAY acknowledge reliable provisional responses received after
        ##% the final response or MAY discard them.
        if client.final is not None:
            return self.ua.drop(response, "reliable provisional response after the final (§4)")
        rseq, tag = response.header("RSeq"), response.to.tag
        if rseq is None or tag is None:
            return self.ua.drop(response, "reliable provisional response without RSeq or To tag")
        key = (client, tag)
        last = self._received.get(key)
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% Once a reliable provisional response is received, retransmissions of
        ##% that response MUST be discarded.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% In particular, a UAC SHOULD NOT retransmit the PRACK request
        ##% when it receives a retransmission of the provisional response being
        ##% acknowledged, although doing so does not create a protocol error.
        if last is not None and rseq == last:
            return []
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% As a result, if the UAC receives another reliable provisional
        ##% response to the same request, and its RSeq value is not one higher
        ##% than the value of the sequence number, that response MUST NOT be
        ##% acknowledged with a PRACK, and MUST NOT be processed further by the
        ##% UAC.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% An implementation MAY discard the response, or MAY cache the
        ##% response in the hopes of receiving the missing responses.
        if last is not None and rseq != last + 1:
            return self.ua.drop(response, f"RSeq {rseq} out of order after {last} (§4)")
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% The UAC
        ##% MUST maintain a sequence number that indicates the most recently
        ##% received in-order reliable provisional response for the initial
        ##% request.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
        ##% Its value MUST be
        ##% initialized to the RSeq header field in the first reliable
        ##% provisional response received for the initial request.
        # (Kept per early dialog: the UASs a forked INVITE reached number independently.)
        self._received[key] = rseq
        self._to_acknowledge[client] = response
        return None  # the session creates the early dialog; after_provisional PRACKs

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
    ##% Assuming the response is to be transmitted reliably, the UAC MUST
    ##% create a new request with method PRACK.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
    ##% The provisional response MUST establish a dialog if one is not yet
    ##% created.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% If the UAC receives a reliable provisional response with an offer
    ##% (this would occur if the UAC sent an INVITE without an offer, in
    ##% which case the first reliable provisional response will contain the
    ##% offer), it MUST generate an answer in the PRACK.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% All user agents that support this extension MUST support all
    ##% offer/answer exchanges that are possible based on the rules in
    ##% Section 13.2 of RFC 3261, based on the existence of INVITE and PRACK
    ##% as requests, and 2xx and reliable 1xx as non-failure reliable
    ##% responses.
    def after_provisional(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect]:
        if self._to_acknowledge.get(client) is not response:
            return []
        del self._to_acknowledge[client]
        # The session manager made the early dialog from this response (RFC 3261 §12.1.2).
        dialog = self.ua.dialogs.get(dialog_id_of(response, uac=True))
        if dialog is None:
            return self.ua.drop(response, "no dialog for a reliable provisional response")
        call = client.owner if isinstance(client.owner, Call) else None
        body = b""
        if call is not None and response.body:
            negotiation = call.negotiation
            if negotiation.state is NegotiationState.IDLE and negotiation.local is None:
                negotiation.offer_received(response.body)
                body = self.ua.sessions.describer.answer(call, response.body) or call.local_body
                negotiation.answer_sent(body)
                call.local_body = body
        rack = RAck(response.header("RSeq"), response.cseq.number, response.cseq.method)
        _, effects = self.ua.in_dialog(
            dialog,
            "PRACK",
            now,
            owner=_Prack(call),
            headers=[("RAck", str(rack))],
            body=body,
            content_type=(call.content_type or "application/sdp") if body and call else None,
        )
        return effects

    # -- UAS: sending reliably (§3) -------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% A UAS MAY send any non-100 provisional response to INVITE reliably,
    ##% so long as the initial INVITE request (the request whose provisional
    ##% response is being sent reliably) contained a Supported header field
    ##% with the option tag 100rel.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% The UAS MUST send any non-100 provisional response reliably if the
    ##% initial request contained a Require header field with the option tag
    ##% 100rel.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-8.1
    ##% When present in a Require header in a request, it indicates that the
    ##% UAS MUST send all provisional responses reliably.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% If the request did not include either a Supported or Require header
    ##% field indicating this feature, the UAS MUST NOT send the provisional
    ##% response reliably.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% However, it MUST NOT attempt to do so for any request
    ##% that contains a tag in the To field.
    def _send_reliably(self, request: Request) -> bool:
        if request.method != "INVITE" or request.to.tag is not None:
            return False
        if TAG in (str(tag).lower() for tag in request.header("Require") or []):
            return True
        supported = (str(tag).lower() for tag in request.header("Supported") or [])
        return self.when_supported and TAG in supported

    def claim_response(
        self, server: ServerRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """Send 1xx reliably, one at a time; hold a 2xx behind a 1xx with a description."""
        state = self._sending.get(server)
        if response.status >= 200:
            if state is None:
                return None
            state.queue.clear()  # a final response supersedes provisional ones not sent
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% The UAS MAY send a final response to the initial request before
            ##% having received PRACKs for all unacknowledged reliable provisional
            ##% responses, unless the final response is 2xx and any of the
            ##% unacknowledged reliable provisional responses contained a session
            ##% description.
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% In that case, it MUST NOT send a final response until
            ##% those provisional responses are acknowledged.
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
            ##% If the UAS had placed a session description in any reliable
            ##% provisional response that is unacknowledged when the INVITE is
            ##% accepted, the UAS MUST delay sending the 2xx until the provisional
            ##% response is acknowledged.
            if response.status < 300 and state.unacked is not None and state.unacked.body:
                state.held = response
                return []

            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% If the UAS does send a final response when reliable responses are
            ##% still unacknowledged, it SHOULD NOT continue to retransmit the
            ##% unacknowledged reliable provisional responses
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% but it MUST be prepared to process PRACK
            ##% requests for those outstanding responses.
            # Retransmissions stop, but the state (and its unacknowledged response) stays,
            # so a PRACK arriving late still matches and gets its 2xx.
            state.stop()
            state.final_sent = True
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% A UAS MUST NOT attempt to send a 100 (Trying) response reliably.
        # (The server transaction's own 100 never reaches here; one the application
        # sends through the UA does.)
        if response.status == 100 or not self._send_reliably(server.request):
            return None

        if state is None:
            if not isinstance(server.owner, Call):
                return None
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% The value of the header field for the first reliable provisional
            ##% response in a transaction MUST be between 1 and 2**31 - 1.
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% It is RECOMMENDED that
            ##% it be chosen uniformly in this range.
            ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
            ##% This means that provisional responses
            ##% for different requests MAY use the same values for the RSeq number.
            rseq = self.ua.rng.randint(1, 2**31 - 1)
            state = self._sending[server] = _Reliable(server, server.owner, rseq)
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% A UAS MUST NOT send new reliable provisional responses (as opposed to
        ##% retransmissions of unacknowledged ones) after sending a final response
        ##% to a request.
        if state.final_sent or state.held is not None:
            return self.ua.drop(response, "a provisional response after the final (§3)")
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% The UAS MUST NOT send a second reliable provisional
        ##% response until the first is acknowledged.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% After the first, it is
        ##% RECOMMENDED that the UAS not send an additional reliable provisional
        ##% response until the previous is acknowledged.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% After the first reliable provisional response for a request has been
        ##% acknowledged, the UAS MAY send additional reliable provisional
        ##% responses.
        if state.unacked is not None:
            state.queue.append(response)
            return []
        return self._send(state, response, now)

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% In addition, it MUST contain a Require header field containing the
    ##% option tag 100rel, and MUST include an RSeq header field.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% The reliable provisional response MAY contain a body.
    def _send(self, state: _Reliable, response: Response, now: float) -> list[UAEffect]:
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% The value of the RSeq in each subsequent reliable provisional
        ##% response for the same request MUST be greater by exactly one.
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% RSeq
        ##% numbers MUST NOT wrap around.
        if state.rseq > MAX_RSEQ:
            return self.ua.drop(response, "RSeq numbers exhausted: they must not wrap (§3)")
        tags = [str(t) for t in response.header("Require") or [] if str(t).lower() != TAG]
        response.headers.set("Require", ", ".join([*tags, TAG]))
        response.headers.set("RSeq", str(state.rseq))
        state.rseq += 1
        self._describe(state, response)
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% The reliable provisional response is passed to the transaction layer
        ##% periodically with an interval that starts at T1 seconds and doubles
        ##% for each retransmission (T1 is defined in Section 17 of RFC 3261).
        timers = self.ua.timers
        state.unacked, state.interval = response, timers.T1
        state.give_up_at = now + 64 * timers.T1
        state.timer = self.ua.call_at(now + timers.T1, lambda t: self._retransmit(state, t))
        return self.ua.retransmit(state.server, response, now)

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% If the INVITE contained an offer, the UAS MAY generate an answer in a
    ##% reliable provisional response (assuming these are supported by the
    ##% UAC).
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% Similarly, if a reliable provisional
    ##% response is the first reliable message sent back to the UAC, and the
    ##% INVITE did not contain an offer, one MUST appear in that reliable
    ##% provisional response.
    def _describe(self, state: _Reliable, response: Response) -> None:
        """Record the description of a reliable 1xx in the call's negotiation (§5)."""
        call, negotiation = state.call, state.call.negotiation
        if negotiation.state is NegotiationState.OFFER_RECEIVED and response.body:
            negotiation.answer_sent(response.body)
            call.local_body = response.body
        elif negotiation.state is NegotiationState.IDLE and negotiation.local is None:
            offer = response.body or self.ua.sessions.describer.offer(call)
            if not offer:
                raise ValueError("the first reliable 1xx to an INVITE without an offer needs one")
            if not response.body:
                response.set_body(offer, call.content_type or "application/sdp")
            negotiation.offer_sent(offer)
            call.local_body = offer

    def _retransmit(self, state: _Reliable, now: float) -> list[UAEffect]:
        if state.unacked is None or state.final_sent:
            return []
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% If a reliable provisional response is retransmitted for 64*T1 seconds
        ##% without reception of a corresponding PRACK, the UAS SHOULD reject the
        ##% original request with a 5xx response.
        if now >= state.give_up_at:
            state.stop()
            state.held = None
            return self.ua.sessions.reject(state.call, now, 500)
        state.interval *= 2  # no cap at T2, unlike a 2xx (§3)
        next_time = min(now + state.interval, state.give_up_at)
        state.timer = self.ua.call_at(next_time, lambda t: self._retransmit(state, t))
        return self.ua.retransmit(state.server, state.unacked, now)

    # -- UAS: PRACK (§3, §5) ---------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% If a PRACK request is received by the UA core that does not match any
    ##% unacknowledged reliable provisional response, the UAS MUST respond to
    ##% the PRACK with a 481 response.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% If the PRACK does match an
    ##% unacknowledged reliable provisional response, it MUST be responded to
    ##% with a 2xx response.
    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """A PRACK inside a dialog (§12.2.2 applied: outside one the core answers 481)."""
        if server.dialog is None:
            return None
        state = self._matching(server.dialog, server.request.header("RAck"))
        if state is None or state.unacked is None:
            return self.ua.respond(server, 481, now)
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% It SHOULD cease
        ##% retransmissions of the reliable provisional response
        state.stop()
        ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
        ##% and MUST remove
        ##% it from the list of unacknowledged provisional responses.
        state.unacked = None

        effects = self._answer_prack(state.call, server, now)
        effects.append(ProvisionalAcknowledged(state.call, server.request))
        if state.queue:
            effects.extend(self._send(state, state.queue.pop(0), now))
        elif state.held is not None:
            held, state.held = state.held, None
            state.final_sent = True
            effects.extend(self.ua.retransmit(state.server, held, now))
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-3
    ##% A matching
    ##% PRACK is defined as one within the same dialog as the response, and
    ##% whose method, CSeq-num, and response-num in the RAck header field
    ##% match, respectively, the method from the CSeq, the sequence number
    ##% from the CSeq, and the sequence number from the RSeq of the reliable
    ##% provisional response.
    def _matching(self, dialog: Dialog, rack: RAck | None) -> _Reliable | None:
        for state in self._sending.values():
            sent = state.unacked
            if rack is None or sent is None or state.server.dialog is not dialog:
                continue
            if (rack.method, rack.cseq, rack.rseq) == (
                sent.cseq.method,
                sent.cseq.number,
                sent.header("RSeq"),
            ):
                return state
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% If the UAS receives a PRACK with an
    ##% offer, it MUST place the answer in the 2xx to the PRACK.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-4
    ##% PRACK requests
    ##% MAY contain bodies, which are interpreted according to their type and
    ##% disposition.
    ##= https://www.rfc-editor.org/rfc/rfc3262#section-5
    ##% Once an answer has been sent or received, the UA SHOULD establish the
    ##% session based on the parameters of the offer and answer, even if the
    ##% original INVITE itself has not been responded to.
    # (The negotiation holds the descriptions in force at once; the media is the
    # application's, told by ProvisionalAcknowledged.)
    def _answer_prack(self, call: Call, server: ServerRequest, now: float) -> list[UAEffect]:
        body, negotiation = server.request.body, call.negotiation
        if not body:
            return self.ua.respond(server, 200, now)
        if negotiation.state is NegotiationState.OFFER_SENT:
            negotiation.answer_received(body)  # the answer to the offer in our 1xx
            return self.ua.respond(server, 200, now)
        if negotiation.state is NegotiationState.OFFER_RECEIVED:
            return self.ua.respond(server, 491, now)  # an offer before ours is answered
        negotiation.offer_received(body)
        answer = self.ua.sessions.describer.answer(call, body)
        if answer is None:
            negotiation.rejected()
            return self.ua.respond(server, 488, now)
        negotiation.answer_sent(answer)
        call.local_body = answer
        content_type = call.content_type or "application/sdp"
        return self.ua.respond(server, 200, now, body=answer, content_type=content_type)


@dataclass(eq=False)
class _Prack(Owner):
    """The UAC's PRACK: an answer in its 2xx completes an offer the PRACK carried (§5)."""

    call: Call | None

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        negotiation = None if self.call is None else self.call.negotiation
        if negotiation is None or negotiation.state is not NegotiationState.OFFER_SENT:
            return []
        if response.status >= 300:
            negotiation.rejected()
        elif response.status >= 200 and response.body:
            negotiation.answer_received(response.body)
        return []
