"""The registration client (RFC 3261 §10.2): register, refresh, query, remove.

A :class:`Registration` binds one contact to one address-of-record at one
registrar.  It keeps one Call-ID and an increasing CSeq for all its REGISTER
requests, sends one at a time, refreshes the binding before it expires, and
retries once with the Min-Expires of a 423.  Events for the application are
:class:`RegistrationEvent` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .headers import NameAddr
from .message import Response
from .uri import SipURI, parse_uri, uri_equal

if TYPE_CHECKING:  # pragma: no cover
    from .extension import ClientRequest, UAEffect
    from .ua_core import UserAgent

__all__ = ["Registration", "RegistrationEvent"]


@dataclass
class RegistrationEvent:
    """The final response to a REGISTER; ``expires`` is the granted interval (0: none)."""

    registration: Registration
    response: Response
    expires: int
    bindings: list[UAEffect]


class Registration:
    """One contact bound to one address-of-record at one registrar.

    The Request-URI is always the domain of the address-of-record (§10.2:
    ``sip:example.com`` for ``sip:alice@example.com``).  ``registrar`` is the
    configured registrar address, where the REGISTER goes when that is not the
    domain itself (§10.2.6); it becomes a loose Route after the UA's own route set
    (an outbound proxy, §8.1.1.1), so that the request reaches it whatever the
    Request-URI names.
    """

    def __init__(
        self,
        ua: UserAgent,
        *,
        aor: str | None = None,
        registrar: str | None = None,
        expires: int = 3600,
    ) -> None:
        self.ua = ua
        self.aor = NameAddr.parse(aor) if aor else ua.aor
        aor_uri = self.aor.uri
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% This address-of-record MUST
        ##% be a SIP URI or SIPS URI.
        if not isinstance(aor_uri, SipURI):
            raise ValueError("To: the address-of-record must be a SIP or SIPS URI (§10.2)")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% Request-URI: The Request-URI names the domain of the location
        ##% service for which the registration is meant (for example,
        ##% "sip:chicago.com").
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% The "userinfo" and "@" components of the
        ##% SIP URI MUST NOT be present.
        self.request_uri = parse_uri(f"{aor_uri.scheme}:{aor_uri.host_port}")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.6
        ##% A UA can be configured, in ways beyond the scope of this
        ##% specification, with a registrar address.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.6
        ##% If there is no
        ##% configured registrar address, the UA SHOULD use the host part of the address-
        ##% of-record as the Request-URI and address the request there, using the
        ##% normal SIP server location mechanisms [4].
        self.registrar = parse_uri(registrar) if registrar else self.request_uri.copy()
        # A configured registrar the Request-URI does not lead to is reached by a Route.
        self.route: list[tuple[str, Any]] = []
        if registrar and not uri_equal(self.registrar, self.request_uri):
            hop = self.registrar.copy()
            if isinstance(hop, SipURI) and not hop.lr:
                hop.params.set("lr", None)
            self.route = [("Route", f"<{hop}>")]
        self.expires = expires
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% All registrations from a UAC SHOULD use the same Call-ID
        ##% header field value for registrations sent to a particular
        ##% registrar.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
        ##% A UA SHOULD use the same Call-ID for all registrations during a
        ##% single boot cycle.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
        ##% It SHOULD be the same
        ##% in each registration from a UA.
        self.call_id = ua.new_call_id()
        self.cseq = ua.initial_cseq() - 1
        self.in_flight: ClientRequest | None = None
        self.queued: tuple[str, int | None] | None = None
        self.expires_at: float | None = None
        self.refresh_timer: Any = None
        self.retried_423 = False
        self.pending_expires: int | None = None
        self.pending_kind = "register"
        self.events: list[RegistrationEvent] = []

    # -- application API -------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1
    ##% The REGISTER request sent to a registrar includes the contact
    ##% address(es) to which SIP requests for the address-of-record should be
    ##% forwarded.
    def register(self, now: float, expires: int | None = None) -> list[UAEffect]:
        """Add (or refresh) the UA's contact binding."""
        if expires is not None:
            self.expires = expires
        return self._send("register", self.expires, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.3
    ##% A success response to any REGISTER request contains the complete list
    ##% of existing bindings, regardless of whether the request contained a
    ##% Contact header field.
    def query(self, now: float) -> list[UAEffect]:
        """Fetch the bindings: a REGISTER without Contact."""
        return self._send("query", None, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% A UA requests the immediate removal of a binding by
    ##% specifying an expiration interval of "0" for that contact address in
    ##% a REGISTER request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% UAs SHOULD support this mechanism so that
    ##% bindings can be removed before their expiration interval has passed.
    def unregister(self, now: float) -> list[UAEffect]:
        """Remove this UA's binding (expires=0)."""
        return self._send("register", 0, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% The REGISTER-specific Contact header field value of "*" applies to
    ##% all registrations, but it MUST NOT be used unless the Expires header
    ##% field is present with a value of "0".
    def unregister_all(self, now: float) -> list[UAEffect]:
        """Remove every binding of the address-of-record: ``Contact: *`` with Expires 0."""
        return self._send("all", 0, now)

    # -- sending ---------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
    ##% UAs MUST NOT send a new registration (that is, containing new Contact
    ##% header field values, as opposed to a retransmission) until they have
    ##% received a final response from the registrar for the previous one or
    ##% the previous REGISTER request has timed out.
    def _send(self, kind: str, expires: int | None, now: float) -> list[UAEffect]:
        if self.in_flight is not None:
            self.queued = (kind, expires)
            return []
        if kind != "query" and self.refresh_timer is not None:
            self.refresh_timer.cancel()
            self.refresh_timer = None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% A UA MUST increment the CSeq value by one for each
        ##% REGISTER request with the same Call-ID.
        self.cseq += 1
        headers: list[tuple[str, Any]] = []
        contact = False
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% A Contact header field MAY be included:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% Contact: REGISTER requests MAY contain a Contact header field with
        ##% zero or more values containing address bindings.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1.1
        ##% When a client sends a REGISTER request, it MAY suggest an expiration
        ##% interval that indicates how long the client would like the
        ##% registration to be valid.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% UACs SHOULD NOT use the "action" parameter.
        if kind == "all":
            headers = [("Contact", "*"), ("Expires", "0")]
        elif kind == "register":
            contact = True
            headers = [("Expires", str(expires))]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% To: The To header field contains the address of record whose
        ##% registration is to be created, queried, or modified.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% The value is the
        ##% same as the To header field unless the request is a third-
        ##% party registration.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% The following header fields, except Contact, MUST be included in a
        ##% REGISTER request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
        ##% A UAC MAY include a
        ##% Route header field in a REGISTER request based on a pre-existing
        ##% route set as described in Section 8.1.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
        ##% Registration refreshes SHOULD be sent to the same
        ##% network address as the original registration, unless redirected.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1
        ##% If the address-of-record in the To header field of a REGISTER request
        ##% is a SIPS URI, then any Contact header field values in the request
        ##% SHOULD also be SIPS URIs.
        request = self.ua.build_request(
            "REGISTER",
            self.aor,
            request_uri=self.request_uri,
            call_id=self.call_id,
            cseq=self.cseq,
            contact=contact,
            headers=self.route + headers,
            from_=self.aor,
        )
        self.pending_expires = expires
        self.pending_kind = kind
        self.in_flight, effects = self.ua.send(request, now, owner=self)
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
    ##% The Record-Route header field
    ##% has no meaning in REGISTER requests or responses, and MUST be ignored
    ##% if present.  In particular, the UAC MUST NOT create a new route set
    ##% based on the presence or absence of a Record-Route header field in
    ##% any response to a REGISTER request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.7
    ##% If the transaction layer returns a timeout error because the REGISTER
    ##% yielded no response, the UAC SHOULD NOT immediately re-attempt a
    ##% registration to the same registrar.
    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """The final response to a REGISTER (a timeout arrives as 408: no retry, no refresh)."""
        if response.status < 200:
            return []
        self.in_flight = None
        # Auth retries consumed CSeq numbers: continue after the last one sent.
        self.cseq = max(self.cseq, client.request.cseq.number)
        effects: list[UAEffect] = []
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.8
        ##% If a UA receives a 423 (Interval Too Brief) response, it MAY retry
        ##% the registration after making the expiration interval of all contact
        ##% addresses in the REGISTER request equal to or greater than the
        ##% expiration interval within the Min-Expires header field of the 423
        ##% (Interval Too Brief) response.
        if response.status == 423 and not self.retried_423:
            minimum = response.header("Min-Expires")
            if minimum is not None and minimum > (self.pending_expires or 0):
                self.retried_423 = True
                return self.register(now, minimum)
        self.retried_423 = False
        granted = 0
        bindings: list[UAEffect] = []
        if 200 <= response.status < 300:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
            ##% Malformed values SHOULD be treated as equivalent to 3600.
            try:
                bindings = [c for c in response.contact if not c.is_star]
                granted = self._granted(response, bindings)
            except ValueError:
                # An unreadable Contact list: assume the default interval (§10.2).
                granted = 3600 if self.pending_expires else 0

            if self.pending_kind != "query":
                effects.extend(self._schedule_refresh(granted, now))
        event = RegistrationEvent(self, response, granted, bindings)
        self.events.append(event)
        effects.append(event)
        if self.queued is not None:
            kind, expires = self.queued
            self.queued = None
            effects.extend(self._send(kind, expires, now))
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
    ##% The UA compares each
    ##% contact address to see if it created the contact address, using
    ##% comparison rules in Section 19.1.4.  If so, it updates the expiration
    ##% time interval according to the expires parameter or, if absent, the
    ##% Expires field value.
    def _granted(self, response: Response, bindings: list[UAEffect]) -> int:
        if self.pending_expires in (None, 0):
            return 0
        mine = self.ua.contact_uri
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
        ##% A UA SHOULD NOT refresh bindings set up by
        ##% other UAs.
        for binding in bindings:
            if uri_equal(binding.uri, mine) or (
                isinstance(binding.uri, SipURI)
                and binding.uri.is_secure
                and uri_equal(binding.uri, self._secure(mine))
            ):
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
                ##% Malformed values SHOULD be treated as equivalent to 3600.
                try:
                    if binding.expires is not None:
                        return binding.expires
                except ValueError:
                    return 3600
                try:
                    expires = response.expires
                except ValueError:
                    return 3600
                return expires if expires is not None else self.expires
        return 0

    @staticmethod
    def _secure(uri: Any) -> Any:
        secure = uri.copy()
        secure.scheme = "sips"
        return secure

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
    ##% The UA then issues a REGISTER request for each
    ##% of its bindings before the expiration interval has elapsed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
    ##% Each UA is responsible for refreshing the bindings that it has
    ##% previously established.
    def _schedule_refresh(self, granted: int, now: float) -> list[UAEffect]:
        if granted <= 0:
            self.expires_at = None
            return []
        self.expires_at = now + granted
        # Half way for short intervals, a minute early for long ones: always before expiry.
        margin = min(granted / 2, 60.0)
        self.refresh_timer = self.ua.call_at(
            now + granted - margin, lambda t: self.register(t, self.expires)
        )
        return []
