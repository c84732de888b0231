"""Dialogs (RFC 3261 §12): creation, requests within a dialog, CSeq ordering.

A :class:`Dialog` holds the state §12 lists: the dialog ID (Call-ID, local tag,
remote tag), the local and remote sequence numbers, the local and remote URIs,
the remote target, the "secure" flag and the route set; plus whether it is
"early" or "confirmed".  It is plain data with the §12 rules as methods, no I/O
and no clock: the UA core (:mod:`rfc3261.ua_core`) keeps the dialogs and hands
requests and responses to them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .headers import NameAddr, RetryAfter, Via
from .message import Request, Response
from .params import Parameters
from .uri import AbsoluteURI, SipURI

__all__ = ["Dialog", "DialogId", "DialogState", "build_route", "dialog_id_of"]


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


##= https://www.rfc-editor.org/rfc/rfc3261#section-12
##% A dialog is identified at each UA with a dialog ID, which consists of
##% a Call-ID value, a local tag and a remote tag.
@dataclass(frozen=True, slots=True)
class DialogId:
    call_id: str
    local_tag: str | None
    remote_tag: str | None


##= https://www.rfc-editor.org/rfc/rfc3261#section-12
##% For a UAC, the Call-ID value of the dialog ID is set to the Call-ID of the message, the
##% remote tag is set to the tag in the To
##% field of the message, and the local tag is set to the tag in the From
##% field of the message (these rules apply to both requests and
##% responses).
##= https://www.rfc-editor.org/rfc/rfc3261#section-12
##% As one would expect for a UAS, the Call-ID value of the
##% dialog ID is set to the Call-ID of the message, the remote tag is set
##% to the tag in the From field of the message, and the local tag is set
##% to the tag in the To field of the message.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1
##% UAs MUST assign values to the dialog ID components as described
##% below.
def dialog_id_of(message: Request | Response, uac: bool) -> DialogId:
    """The dialog ID of ``message`` as seen by the UAC (``uac=True``) or the UAS."""
    if uac:
        return DialogId(message.call_id, message.from_.tag, message.to.tag)
    return DialogId(message.call_id, message.to.tag, message.from_.tag)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##% If the route set is empty, the UAC MUST place the remote target URI
##% into the Request-URI.  The UAC MUST NOT add a Route header field to
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##% If the route set is not empty, and the first URI in the route set
##% contains the lr parameter (see Section 19.1.1), the UAC MUST place
##% the remote target URI into the Request-URI and MUST include a Route
##% header field containing the route set values in order, including all
##% parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##% If the route set is not empty, and its first URI does not contain the
##% lr parameter, the UAC MUST place the first URI from the route set
##% into the Request-URI, stripping any parameters that are not allowed
##% in a Request-URI.  The UAC MUST add a Route header field containing
##% the remainder of the route set values in order, including all
##% parameters.  The UAC MUST then place the remote target URI into the
##% Route header field as the last value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##% When a pre-existing route set is present, the procedures for
##% populating the Request-URI and Route header field detailed in Section
##% 12.2.1.1 MUST be followed (even though there is no dialog), using the
##% desired Request-URI as the remote target URI.
def build_route(
    remote_target: SipURI | AbsoluteURI, route_set: list[NameAddr]
) -> tuple[SipURI | AbsoluteURI, list[NameAddr]]:
    """The Request-URI and Route values for ``remote_target`` through ``route_set``."""
    if not route_set:
        return remote_target, []
    first = route_set[0].uri
    if isinstance(first, SipURI) and first.lr:
        return remote_target, list(route_set)
    request_uri = first.copy()
    if isinstance(request_uri, SipURI):
        # §19.1.1 Table 1: method and headers are not allowed in a Request-URI.
        request_uri.params.remove("method")
        request_uri.headers = []
    return request_uri, [*route_set[1:], NameAddr(None, remote_target)]


@dataclass
class Dialog:
    """The state of one dialog at one UA (§12)."""

    id: DialogId
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: SipURI | AbsoluteURI
    route_set: list[NameAddr] = field(default_factory=list)
    local_seq: int | None = None
    remote_seq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY
    # True when this UA sent the request that created the dialog.
    is_uac: bool = True
    # The usages sharing this dialog (RFC 5057 §3): "invite" for the INVITE usage, one key
    # per subscription ("subscribe:<event>;id=<id>"), each mapped to its owner.
    usages: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- creation (§12.1) ---------------------------------------------------

    @classmethod
    def create_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 101-199 or 2xx response with a To tag creates at the UAC (§12.1.2)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% If the request was sent over TLS, and the Request-URI contained a
        ##% SIPS URI, the "secure" flag is set to TRUE.
        secure = (
            isinstance(request.uri, SipURI)
            and request.uri.is_secure
            and request.top_via.transport.upper() == "TLS"
        )
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% The route set MUST be set to the list of URIs in the Record-Route
        ##% header field from the response, taken in reverse order and preserving
        ##% all URI parameters.  If no Record-Route header field is present in
        ##% the response, the route set MUST be set to the empty set.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% The remote target MUST be set to the URI
        ##% from the Contact header field of the response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% The local sequence number MUST be set to the value of the sequence
        ##% number in the CSeq header field of the request.  The remote sequence
        ##% number MUST be empty (it is established when the remote UA sends a
        ##% request within the dialog).  The call identifier component of the
        ##% dialog ID MUST be set to the value of the Call-ID in the request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% The local tag component of the dialog ID MUST be set to the tag in
        ##% the From field in the request, and the remote tag component of the
        ##% dialog ID MUST be set to the tag in the To field of the response.  A
        ##% UAC MUST be prepared to receive a response without a tag in the To
        ##% field, in which case the tag is considered to have a value of null.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% The remote URI MUST be set to the URI in the To field, and the local
        ##% URI MUST be set to the URI in the From field.
        return cls(
            id=DialogId(request.call_id, request.from_.tag, response.to.tag),
            local_uri=_without_tag(request.from_),
            remote_uri=_without_tag(request.to),
            remote_target=_contact_uri(response) or request.uri,
            route_set=list(reversed(response.record_route)),
            local_seq=request.cseq.number,
            remote_seq=None,
            secure=secure,
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
            is_uac=True,
        )

    @classmethod
    def create_uas(cls, request: Request, response: Response, *, tls: bool = False) -> Dialog:
        """The dialog a 101-199 or 2xx response with a To tag creates at the UAS (§12.1.1)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% If the request arrived over TLS, and the Request-URI contained a SIPS
        ##% URI, the "secure" flag is set to TRUE.
        secure = tls and isinstance(request.uri, SipURI) and request.uri.is_secure
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The route set MUST be set to the list of URIs in the Record-Route
        ##% header field from the request, taken in order and preserving all URI
        ##% parameters.  If no Record-Route header field is present in the
        ##% request, the route set MUST be set to the empty set.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The remote target MUST be set to the URI
        ##% from the Contact header field of the request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The remote sequence number MUST be set to the value of the sequence
        ##% number in the CSeq header field of the request.  The local sequence
        ##% number MUST be empty.  The call identifier component of the dialog ID
        ##% MUST be set to the value of the Call-ID in the request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The local
        ##% tag component of the dialog ID MUST be set to the tag in the To field
        ##% in the response to the request (which always includes a tag), and the
        ##% remote tag component of the dialog ID MUST be set to the tag from the
        ##% From field in the request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% A UAS MUST be prepared to receive a
        ##% request without a tag in the From field, in which case the tag is
        ##% considered to have a value of null.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The remote URI MUST be set to the URI in the From field, and the
        ##% local URI MUST be set to the URI in the To field.
        return cls(
            id=DialogId(request.call_id, response.to.tag, request.from_.tag),
            local_uri=_without_tag(request.to),
            remote_uri=_without_tag(request.from_),
            remote_target=_contact_uri(request) or request.from_.uri,
            route_set=list(request.record_route),
            local_seq=None,
            remote_seq=request.cseq.number,
            secure=bool(secure),
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
            is_uac=False,
        )

    # -- UAC side (§12.2.1) -------------------------------------------------

    def next_local_seq(self, initial: int) -> int:
        """Advance the local sequence number (§12.2.1.1) and return it."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
        ##% Requests within a dialog MUST contain strictly monotonically
        ##% increasing and contiguous CSeq sequence numbers (increasing-by-one)
        ##% in each direction (excepting ACK and CANCEL of course, whose numbers
        ##% equal the requests being acknowledged or cancelled).
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
        ##% Therefore, if
        ##% the local sequence number is not empty, the value of the local
        ##% sequence number MUST be incremented by one, and this value MUST be
        ##% placed into the CSeq header field.  If the local sequence number is
        ##% empty, an initial value MUST be chosen using the guidelines of
        ##% Section 8.1.1.5.
        self.local_seq = initial if self.local_seq is None else self.local_seq + 1
        return self.local_seq

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
    ##% The URI in the To field of the request MUST be set to the remote URI
    ##% from the dialog state.  The tag in the To header field of the request
    ##% MUST be set to the remote tag of the dialog ID.  The From URI of the
    ##% request MUST be set to the local URI from the dialog state.  The tag
    ##% in the From header field of the request MUST be set to the local tag
    ##% of the dialog ID.  If the value of the remote or local tags is null,
    ##% the tag parameter MUST be omitted from the To or From header fields,
    ##% respectively.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
    ##% The Call-ID of the request MUST be set to the Call-ID of the dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
    ##% It MUST be the same for all requests
    ##% and responses sent by either UA in a dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
    ##% The method field in the CSeq header field value
    ##% MUST match the method of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
    ##% The UAC uses the remote target and route set to build the Request-URI
    ##% and Route header field of the request.
    def create_request(
        self,
        method: str,
        via: Via,
        cseq: int,
        *,
        contact: Any = None,
        headers: list[tuple[str, Any]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """A request within this dialog (§12.2.1.1); the caller chooses the CSeq number."""
        request_uri, route = build_route(self.remote_target, self.route_set)
        fields: list[tuple[str, Any]] = [("Route", str(r)) for r in route]
        fields.extend(headers or [])
        return Request.build(
            method,
            request_uri.copy(),
            via=via,
            from_=_with_tag(self.local_uri, self.id.local_tag),
            to=_with_tag(self.remote_uri, self.id.remote_tag),
            call_id=self.id.call_id,
            cseq=cseq,
            contact=contact,
            headers=fields,
            body=body,
            content_type=content_type,
        )

    def confirm(self, response: Response) -> None:
        """A 2xx for the dialog's INVITE arrived at the UAC (§13.2.2.4)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
        ##% If the dialog identifier in the 2xx response matches the dialog
        ##% identifier of an existing dialog, the dialog MUST be transitioned to
        ##% the "confirmed" state, and the route set for the dialog MUST be
        ##% recomputed based on the 2xx response using the procedures of Section
        ##% 12.2.1.2.
        self.state = DialogState.CONFIRMED
        self.route_set = list(reversed(response.record_route))
        self.update_target_from(response)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
    ##% When a UAC receives a 2xx response to a target refresh request, it
    ##% MUST replace the dialog's remote target URI with the URI from the
    ##% Contact header field in that response, if present.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% When a UAS receives a target refresh request, it MUST replace the
    ##% dialog's remote target URI with the URI from the Contact header field
    ##% in that request, if present.
    def update_target_from(self, message: Request | Response) -> None:
        """Replace the remote target with the message's Contact URI, if it has one."""
        uri = _contact_uri(message)
        if uri is not None:
            self.remote_target = uri

    # -- UAS side (§12.2.2) ---------------------------------------------------

    def check_remote_cseq(self, request: Request, retry_after: int = 0) -> Response | None:
        """Apply §12.2.2's CSeq rule; a 500 for an out-of-order request, else None.

        ACK and CANCEL carry the CSeq number of the request they belong to and are
        not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return None
        number = request.cseq.number
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
        ##% If the remote sequence number is empty, it MUST be set to the value
        ##% of the sequence number in the CSeq header field value in the request.
        if self.remote_seq is None:
            self.remote_seq = number
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
        ##% If the remote sequence number was not empty, but the sequence number
        ##% of the request is lower than the remote sequence number, the request
        ##% is out of order and MUST be rejected with a 500 (Server Internal
        ##% Error) response.
        if number < self.remote_seq:
            response = request.make_response(500, "Out of Order CSeq")
            response.headers.add("Retry-After", str(RetryAfter(retry_after)))
            return response
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
        ##% This is not an error condition, and a UAS SHOULD be
        ##% prepared to receive and process requests with CSeq values more than
        ##% one higher than the previous received request.  The UAS MUST then set
        ##% the remote sequence number to the value of the sequence number in the
        ##% CSeq header field value in the request.
        self.remote_seq = number
        return None

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    # -- usages (RFC 5057) ----------------------------------------------------------

    def add_usage(self, key: str, owner: Any) -> None:
        """Let ``owner`` use this dialog under ``key`` ("invite", "subscribe:...")."""
        if self.terminated:
            raise ValueError(f"dialog {self.id} is terminated: no usage can be added")
        current = self.usages.get(key)
        if current is not None and current is not owner:
            raise ValueError(f"dialog {self.id} already has a {key!r} usage")
        self.usages[key] = owner

    def usage(self, key: str) -> Any:
        """The owner of the ``key`` usage, or None."""
        return self.usages.get(key)

    ##= https://www.rfc-editor.org/rfc/rfc5057#section-2
    ##% A dialog comes into existence with the creation of the first usage,
    ##% and continues to exist until the last usage is terminated (reference
    ##% counting).
    def remove_usage(self, key: str) -> bool:
        """End the ``key`` usage; the dialog ends with its last usage (True when it did)."""
        self.usages.pop(key, None)
        if not self.usages:
            self.terminate()
        return self.terminated


def _without_tag(address: NameAddr) -> NameAddr:
    params = Parameters([(n, v) for n, v in address.params if n.lower() != "tag"])
    return NameAddr(address.display_name, address.uri, params)


def _with_tag(address: NameAddr, tag: str | None) -> NameAddr:
    params = address.params.copy()
    if tag is not None:
        params.set("tag", tag)
    return NameAddr(address.display_name, address.uri, params)


def _contact_uri(message: Request | Response) -> SipURI | AbsoluteURI | None:
    contacts = message.contact
    if not contacts or contacts[0].is_star:
        return None
    return contacts[0].uri
