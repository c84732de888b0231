"""MESSAGE: instant messages in the pager model (RFC 3428 §4, §7, §8, §9, §11.4).

A UA with :class:`MessageExtension` installed sends an instant message with
``messages.send("sip:bob@example.com", "hello", now)`` -- outside any dialog, or inside
one with ``dialog=`` -- and is told the outcome as a :class:`MessageResult` (200: delivered,
202: accepted by a relay; neither means read, §4).  It answers every MESSAGE it receives
at once (§7): 200, or 202 when configured as a relay, with neither body nor Contact, and
hands the message to the application as a :class:`MessageReceived` event.  Refusals:
513 for a body above ``max_body`` (RFC 3261 §21.5.11), 400 for a Date far from the UA's
clock (§11.4); a MESSAGE without a body is a valid, empty message (§9).

The UAC side keeps the congestion rules of §8: a request outside a media session stays
within 1300 bytes (unless the application knows every hop is congestion-safe), and a new
MESSAGE to a URI (or within a dialog) waits until the previous one has its final response.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rfc3261.dialog import Dialog
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import NameAddr, SipDate
from rfc3261.message import Request, Response
from rfc3261.uri import SipURI

__all__ = [
    "PAGER_MODE_LIMIT",
    "MessageExtension",
    "MessageReceived",
    "MessageResult",
    "MessageTooLarge",
    "OutgoingMessage",
]

#: The largest MESSAGE request outside a media session, in bytes (§8).
PAGER_MODE_LIMIT = 1300
#: How far a received Date may be from the UA's clock, in seconds: "several minutes" (§11.4).
MAX_CLOCK_SKEW = 300.0


class MessageTooLarge(ValueError):
    """A MESSAGE above the 1300 bytes of §8 outside a media session."""


@dataclass
class MessageReceived(UAEvent):
    """An instant message received (and answered already, §7)."""

    server: ServerRequest
    request: Request
    sender: str
    text: str
    content_type: str
    #: Local policy for an expired message: it is still handed over, marked.
    expired: bool = False

    ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
    ##% If the message is displayed, the UAS SHOULD clearly indicate to the user that the
    ##% message has expired.
    def describe(self) -> str:
        """One line for a log or a terminal."""
        mark = " [expired]" if self.expired else ""
        return f"message from {self.sender}{mark}: {self.text}"


@dataclass
class MessageResult(UAEvent):
    """The final response to a MESSAGE this UA sent (or a 408/503 from the core, §8.1.3.1).

    It tells no more than the response does: a 200 means delivered to at least one
    recipient, not read, and a 202 not even delivered (§4).
    """

    message: OutgoingMessage
    response: Response

    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% It
    ##% MUST NOT assume that the recipient has actually read the instant
    ##% message.
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% In this case,
    ##% the UAC MUST NOT assume the message has been delivered to the final
    ##% destination.
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% Therefore the
    ##% UAC MUST NOT assume that a given final response represents the only
    ##% UAS that receives the request.
    def describe(self) -> str:
        """One line for a log or a terminal."""
        status = self.response.status
        what = {
            200: "delivered (not necessarily read; a fork may have delivered it more than once)",
            202: "accepted by a relay (delivery not confirmed)",
        }.get(status, "delivered" if 200 <= status < 300 else "not delivered")
        if status >= 600:
            what = "delivered but refused"
        return f"MESSAGE {self.message.target}: {status} {self.response.reason}: {what}"


@dataclass(eq=False)
class OutgoingMessage(Owner):
    """One MESSAGE to send: queued until the previous one to its target is answered (§8)."""

    extension: MessageExtension
    target: str
    request: Request
    dialog: Dialog | None = None
    client: ClientRequest | None = None
    response: Response | None = None

    @property
    def key(self) -> Any:
        return self.dialog.id if self.dialog is not None else self.target

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        if response.status < 200:
            return []
        self.response = response
        effects: list[UAEffect] = [MessageResult(self, response)]
        effects.extend(self.extension.next_message(self, now))
        return effects


class MessageExtension(UAExtension):
    """MESSAGE sent (§4, §8) and received (§7) by one user agent."""

    name = "message"
    methods = ("MESSAGE",)
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-2
    ##= verify=absence
    ##= reason=no dialog method is declared, so no MESSAGE ever creates a dialog
    ##% But implementations SHOULD NOT create dialogs for the primary purpose of
    ##% associating MESSAGE requests with one another.
    dialog_methods = ()
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
    ##% A UAS that supports the MESSAGE method MUST be prepared to receive
    ##% and render bodies of type "text/plain", and may support reception and
    ##% rendering of bodies of type "message/cpim" [7].
    accept = ("text/plain", "message/cpim")

    def __init__(
        self,
        *,
        max_body: int = 8192,
        relay: bool = False,
        congestion_safe: bool = False,
        max_clock_skew: float = MAX_CLOCK_SKEW,
    ) -> None:
        if max_body < 0:
            raise ValueError("max_body must be a number of bytes")
        #: The largest body this UA takes; above it, 513 (RFC 3261 §21.5.11).
        self.max_body = max_body
        #: A store-and-forward relay answers 202 instead of 200 (§7).
        self.relay = relay
        #: The application knows every hop is congestion-controlled (§8): no 1300-byte cap.
        self.congestion_safe = congestion_safe
        self.max_clock_skew = max_clock_skew
        # target (URI text, or the dialog) -> the message in flight and those waiting (§8).
        self._pending: dict[Any, deque[OutgoingMessage]] = {}

    # -- sending (§4, §8) ----------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% All UACs which support the MESSAGE method MUST be prepared to send
    ##% MESSAGE requests with a body of type text/plain.
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% A UAC MAY associate a MESSAGE request with an existing dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
    ##% The UAC MAY add an Expires header field to limit the validity of the
    ##% message content.
    def send(
        self,
        to: str,
        text: str | bytes,
        now: float,
        *,
        content_type: str = "text/plain;charset=UTF-8",
        dialog: Dialog | None = None,
        expires: int | None = None,
    ) -> tuple[OutgoingMessage, list[UAEffect]]:
        """Send an instant message to ``to`` (or within ``dialog``); queued behind a pending one.

        Raises :class:`MessageTooLarge` for a request over 1300 bytes outside a media
        session (§8) and ``ValueError`` for a target that is not a SIP or SIPS URI.
        """
        body = text.encode("utf-8") if isinstance(text, str) else text
        headers: list[tuple[str, Any]] = []
        if expires is not None:
            if expires < 0:
                raise ValueError("Expires must be a number of seconds (RFC 3261 §20.19)")
            headers.append(("Expires", str(expires)))
            ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
            ##% If the UAC adds an Expires header field with a
            ##% non-zero value, it SHOULD also add a Date header field containing the
            ##% time the message is sent.
            if expires:
                headers.append(("Date", str(SipDate(datetime.fromtimestamp(now, UTC)))))
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-4
        ##% User Agents MUST NOT insert Contact header fields into MESSAGE requests.
        if dialog is not None:
            request = dialog.create_request(
                "MESSAGE",
                self.ua.new_via(),
                1,  # renumbered when it is sent: a queued MESSAGE must not take a CSeq yet
                contact=None,
                headers=headers,
                body=body,
                content_type=content_type,
            )
            target = str(dialog.remote_target)
        else:
            ##= https://www.rfc-editor.org/rfc/rfc3428#section-5
            ##% These identifiers SHOULD contain SIP (or SIPS) URIs
            to_addr = NameAddr.parse(to if "<" in to else f"<{to}>")
            if not isinstance(to_addr.uri, SipURI):
                raise ValueError(f"MESSAGE to {to!r}: not a SIP or SIPS URI (RFC 3428 §5)")
            request = self.ua.build_request(
                "MESSAGE",
                to_addr,
                contact=False,
                headers=headers,
                body=body,
                content_type=content_type,
            )
            target = str(to_addr.uri)
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-5
        ##% Record-Route and Route header fields MUST NOT contain IM URIs.
        route_set = dialog.route_set if dialog is not None else self.ua.route_set
        if any(not isinstance(route.uri, SipURI) for route in route_set):
            raise ValueError("MESSAGE: a Route value is not a SIP or SIPS URI (RFC 3428 §5)")
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-8
        ##% The size of MESSAGE requests outside of a media session MUST NOT
        ##% exceed 1300 bytes, unless the UAC has positive knowledge that the
        ##% message will not traverse a congestion-unsafe link at any hop, or
        ##% that the message size is at least 200 bytes less than the lowest MTU
        ##% value found en route to the UAS.
        in_session = dialog is not None and dialog.usage("invite") is not None
        size = len(bytes(request))
        if size > PAGER_MODE_LIMIT and not (in_session or self.congestion_safe):
            raise MessageTooLarge(
                f"MESSAGE of about {size} bytes outside a media session: at most "
                f"{PAGER_MODE_LIMIT} (RFC 3428 §8); use a session or content indirection"
            )
        message = OutgoingMessage(self, target, request, dialog)
        queue = self._pending.setdefault(message.key, deque())
        queue.append(message)
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-8
        ##% A UAC MUST NOT initiate a new out-of-dialog MESSAGE transaction to a
        ##% given URI if there is a previous out-of-dialog transaction pending
        ##% for the same URI.
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-8
        ##% Similarly, A UAC SHOULD NOT initiate overlapping
        ##% MESSAGE transactions inside a dialog, and MUST NOT do so unless the
        ##% route set for that dialog uses a congestion-controlled transport at
        ##% every hop.
        if len(queue) > 1:
            return message, []  # sent when the one before it is answered
        return message, self._start(message, now)

    def pending(self, to: str) -> int:
        """How many MESSAGEs to ``to`` are in flight or waiting (0 or 1 in flight)."""
        return sum(len(q) for key, q in self._pending.items() if key == to)

    def _start(self, message: OutgoingMessage, now: float) -> list[UAEffect]:
        request = message.request
        if message.dialog is not None:
            cseq = message.dialog.next_local_seq(self.ua.initial_cseq())
            request.headers.set("CSeq", f"{cseq} MESSAGE")
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-11.1
        ##% When local proxies are used for transmission of outbound messages,
        ##% proxy authentication, as specified in RFC 3261, is RECOMMENDED.
        client, effects = self.ua.send(request, now, owner=message, dialog=message.dialog)
        message.client = client
        return effects

    def next_message(self, done: OutgoingMessage, now: float) -> list[UAEffect]:
        """``done`` has its final response: send the next MESSAGE to the same target."""
        queue = self._pending.get(done.key)
        if not queue or queue[0] is not done:
            return []
        queue.popleft()
        if not queue:
            del self._pending[done.key]
            return []
        return self._start(queue[0], now)

    # -- receiving (§7) ----------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
    ##% A UAS receiving a MESSAGE request SHOULD respond with a final
    ##% response immediately.
    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        if server.dialog is None and request.to.tag:
            return None  # a dialog this UA does not know: the core answers 481 (§12.2.2)
        ua = self.ua
        if len(request.body) > self.max_body:
            return ua.respond(server, 513, now)
        try:
            date = request.header("Date")
            expires = request.expires
        except ParseError:
            return ua.respond(server, 400, now, reason="Bad Date or Expires")
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-11.4
        ##% Any message with a date older than several minutes in the past, or
        ##% which is more than several minutes in the future, SHOULD be answered
        ##% with a 400 (Incorrect Date or Time) message
        sent = date.value.timestamp() if date is not None else None
        if sent is not None and abs(sent - now) > self.max_clock_skew:
            return ua.respond(server, 400, now, reason="Incorrect Date or Time")
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
        ##% If the MESSAGE request containing an Expires
        ##% header field also contains a Date header field, the UAS SHOULD
        ##% interpret the Expires header field value as delta time from the Date
        ##% header field value.
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
        ##% If the request does not contain a Date header
        ##% field, the UAS SHOULD interpret the Expires header value as delta
        ##% time from the time the UAS received the request.
        expired = expires is not None and now >= (sent if sent is not None else now) + expires
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
        ##% A 2xx response to a MESSAGE request MUST NOT contain a body.  A UAS
        ##% MUST NOT insert a Contact header field into a 2xx response.
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
        ##% A UAS which is, in fact, a message relay, storing the message and
        ##% forwarding it later on, or forwarding it into a non-SIP domain,
        ##% SHOULD return a 202 (Accepted) [5] response indicating that the
        ##% message was accepted, but end to end delivery has not been
        ##% guaranteed.
        effects = ua.respond(server, 202 if self.relay else 200, now)
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-9
        ##% A MESSAGE request MAY contain a body, using the standard MIME header
        ##% fields to identify the content.
        content_type = request.headers.get("Content-Type") or ""
        text = request.body.decode("utf-8", "replace")
        sender = str(request.from_.uri)
        ##= https://www.rfc-editor.org/rfc/rfc3428#section-7
        ##% If the MESSAGE expires before the UAS is able to present the message
        ##% to the user, the UAS SHOULD handle the message based on local policy.
        # The local policy: an expired message is still handed over, marked expired.
        effects.append(MessageReceived(server, request, sender, text, content_type, expired))
        return effects
