"""The Reason header field in CANCEL and BYE (RFC 3326 §2, §4).

A UA with :class:`ReasonExtension` installed says why it cancels or ends a call:
``reasons.give(call_id, Reason("SIP", 200, "Call completed elsewhere"))`` (or the same as
text, ``'SIP;cause=200;text="Call completed elsewhere"'``) before the CANCEL or BYE.
The reasons a peer gave in the CANCEL or BYE it sent are kept per call
(:meth:`ReasonExtension.received_text`), readable or not: a garbled value is kept as
text, never raised.  Any message's values are read typed with ``message.header("Reason")``.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from rfc3261 import abnf
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, ServerRequest, UAExtension
from rfc3261.headers import quote, register_header, split_header_values, unquote
from rfc3261.message import Request, Response
from rfc3261.ua_core import UserAgent

__all__ = ["REASON_PROTOCOLS", "Reason", "ReasonExtension"]

# reason-value = protocol *(SEMI reason-params), each param a generic-param (§2).
_VALUE = re.compile(f"({abnf.token})((?:{abnf.SEMI}{abnf.generic_param})*+)")
_PARAM = re.compile(f"{abnf.SEMI}({abnf.token})(?:{abnf.EQUAL}({abnf.gen_value}))?")

##= https://www.rfc-editor.org/rfc/rfc3326#section-4
##% Reason protocols MUST refer to either an ITU-T
##% Recommendation number, an IETF protocol name or the recognized
##% protocol identifier from another standardization organization.
#: The IANA "Reason Protocols" registry as of §4: protocol value -> its cause.
REASON_PROTOCOLS = {"SIP": "Status code", "Q.850": "Cause value in decimal representation"}


@dataclass(frozen=True)
class Reason:
    """One reason-value: a protocol ("SIP", "Q.850"), its cause and a text."""

    protocol: str
    cause: int | None = None
    text: str | None = None

    @classmethod
    def parse(cls, value: str) -> Reason:
        match = _VALUE.fullmatch(value.strip())
        if match is None:
            raise ParseError(f"{value!r} is not a reason-value", "RFC 3326 §2", "Reason")
        params = {name.lower(): v for name, v in _PARAM.findall(match[2])}
        cause = params.get("cause")
        if cause is not None and not (cause.isascii() and cause.isdigit()):
            raise ParseError(f"cause={cause} is not a number", "RFC 3326 §2", "Reason")
        text = unquote(params.get("text") or None)
        return cls(match[1], int(cause) if cause is not None else None, text)

    def __str__(self) -> str:
        cause = "" if self.cause is None else f";cause={self.cause}"
        text = "" if self.text is None else f";text={quote(self.text)}"
        return f"{self.protocol}{cause}{text}"


class ReasonExtension(UAExtension):
    """Adds the reasons given for a call to its CANCEL and BYE; keeps those received."""

    name = "reason"

    def __init__(self) -> None:
        self.reasons: dict[str, tuple[Reason, ...]] = {}
        #: Call-ID -> the Reason values of the CANCEL or BYE received for it, as sent.
        self.received: dict[str, str] = {}

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_header("Reason", Reason.parse, rfc=3326, section="2", multi=True)

    ##= https://www.rfc-editor.org/rfc/rfc3326#section-2
    ##% A SIP message MAY contain more than one Reason value (i.e., multiple
    ##% Reason lines), but all of them MUST have different protocol values
    ##% (e.g., one SIP and another Q.850).
    ##= https://www.rfc-editor.org/rfc/rfc3326#section-2
    ##% Any SIP status code MAY appear in the Reason header field of a request.
    def give(self, call_id: str, *reasons: Reason | str) -> None:
        """Send ``reasons`` in the CANCEL or BYE of the call ``call_id``."""
        values = [r if isinstance(r, Reason) else Reason.parse(r) for r in reasons]
        protocols = [reason.protocol.upper() for reason in values]
        if len(set(protocols)) != len(protocols):
            raise ValueError("Reason values need different protocols (RFC 3326 §2)")
        for reason in values:
            if reason.protocol.upper() not in REASON_PROTOCOLS:
                raise ValueError(
                    f"Reason protocol {reason.protocol!r} is not registered (RFC 3326 §4): "
                    f"use one of {', '.join(REASON_PROTOCOLS)}"
                )
            if reason.protocol.upper() == "SIP" and not (
                reason.cause is None or 100 <= reason.cause <= 699
            ):
                raise ValueError(f"SIP;cause={reason.cause} is not a SIP status code")
        self.reasons[call_id] = tuple(values)

    ##= https://www.rfc-editor.org/rfc/rfc3326#section-2
    ##% The Reason header field MAY appear in any request within a dialog, in
    ##% any CANCEL request and in any response whose status code explicitly
    ##% allows the presence of this header field.
    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        reasons = self.reasons.get(request.call_id)
        if reasons and request.method in ("CANCEL", "BYE"):
            request.headers.set("Reason", ", ".join(str(reason) for reason in reasons))

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        """Keep the reasons of the CANCEL or BYE this response answers."""
        if server is None or server.request.method not in ("CANCEL", "BYE"):
            return
        values = server.request.headers.get_all("Reason")
        if values:
            self.received[server.request.call_id] = ", ".join(values)

    def received_reasons(self, call_id: str) -> list[Reason]:
        """The readable Reason values received for ``call_id`` (unreadable ones left out)."""
        out: list[Reason] = []
        for value in split_header_values(self.received.get(call_id, "")):
            with contextlib.suppress(ParseError):
                out.append(Reason.parse(value))
        return out

    def received_text(self, call_id: str) -> str | None:
        """What the peer gave as the reason for ending ``call_id``, for a log line."""
        raw = self.received.get(call_id)
        if raw is None:
            return None
        readable = self.received_reasons(call_id)
        if not readable:
            return f"unreadable Reason {raw!r}"
        return "; ".join(_describe(reason) for reason in readable)


def _describe(reason: Reason) -> str:
    cause = "" if reason.cause is None else f" cause {reason.cause}"
    text = "" if reason.text is None else f" ({reason.text})"
    return f"{reason.protocol}{cause}{text}"
