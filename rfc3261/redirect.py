"""A redirect server's transaction user (RFC 3261 §8.3, §21.3).

:meth:`RedirectServer.respond` answers every request at once, so each server transaction
ends with the one final response it gets: REGISTER goes to the :class:`~rfc3261.registrar.
Registrar` sharing the same location service; CANCEL gets 200; ACK is absorbed (None); any
other request for a user of our domains gets a 3xx listing the user's bindings as Contact
values (with their q-values and the seconds they have left), 404 when the user is unknown
and 480 when known but not registered.  The server never sends a request of its own.

The logic is sans-I/O like the registrar's: ``now`` is passed in (seconds since the epoch,
the clock of the bindings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .location import Binding, LocationError, LocationService
from .message import Request, Response
from .registrar import Registrar, canonical_aor
from .uri import SipURI, parse_uri, unescape, uri_equal

__all__ = ["RedirectConfig", "RedirectServer"]


@dataclass
class RedirectConfig:
    """Local policy of a redirect server."""

    #: the domains whose users it redirects (those the registrar keeps bindings for)
    domains: frozenset[str]
    #: the 3xx it answers with: 302 (Moved Temporarily) suits bindings that expire
    status: int = 302
    #: the Allow of its own OPTIONS responses
    allow: tuple[str, ...] = ("INVITE", "ACK", "CANCEL", "OPTIONS", "REGISTER")
    #: Retry-After of a 500 when the location service failed
    location_retry_after: int = 5

    def __post_init__(self) -> None:
        if not 300 <= self.status < 400:
            raise ValueError(f"a redirect server answers with a 3xx, not {self.status}")
        self.domains = frozenset(d.lower() for d in self.domains)


class RedirectServer:
    """The transaction user of a redirect server (§8.3) beside a registrar (§10.3).

    ``users``, when given, tells whether a canonical address-of-record exists even
    without bindings (a directory): such a user without bindings gets 480, a user it does
    not know 404.  Without it the server cannot tell the two apart, and answers 404.
    ``static`` maps canonical addresses-of-record to contacts configured for good (listed
    after the registered ones, without expires: they do not expire).
    """

    def __init__(
        self,
        location: LocationService,
        config: RedirectConfig,
        registrar: Registrar | None = None,
        users: Callable[[str], bool] | None = None,
        static: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.location = location
        self.config = config
        self.registrar = registrar
        self.users = users
        self.static = dict(static or {})

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
    ##% A redirect server does not issue any SIP requests of its own.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
    ##% After
    ##% receiving a request other than CANCEL, the server either refuses the
    ##% request or gathers the list of alternative locations from the
    ##% location service and returns a final response of class 3xx.
    def respond(self, request: Request, now: float, *, source: object = None) -> Response | None:
        """The final response to ``request`` (None for an ACK, which needs none)."""
        method = request.method
        if method == "ACK":
            # the ACK of a 3xx-6xx: the server transaction absorbs it (§17.2.1)
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
        ##% For
        ##% well-formed CANCEL requests, it SHOULD return a 2xx response.
        if method == "CANCEL":
            # Every request is answered at once: nothing is left to cancel (§9.2 "no
            # effect on the processing of the original request").
            return request.make_response(200)
        if method == "REGISTER" and self.registrar is not None:
            return self.registrar.handle(request, now, source=source)
        uri = request.uri
        if not isinstance(uri, SipURI):
            return request.make_response(416)
        if uri.host_lower not in self.config.domains:
            return request.make_response(404, "Domain Not Served")
        if uri.user is None:
            # the server itself, not one of its users
            if method == "OPTIONS":
                response = request.make_response(200)
                response.headers.add("Allow", ", ".join(self.config.allow))
                return response
            return request.make_response(404)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
        ##% Redirect servers MUST ignore features that are not understood
        ##% (including unrecognized header fields, any unknown option tags in
        ##% Require, or even method names) and proceed with the redirection of
        ##% the request in question.
        # Neither the method nor Require nor any other header field is looked at from here.
        try:
            bindings = self.lookup(uri, now)
        except LocationError:
            response = request.make_response(500, "Server Internal Error (location)")
            response.headers.add("Retry-After", str(self.config.location_retry_after))
            return response
        return self.redirection(request, bindings, now)

    def lookup(self, uri: SipURI, now: float) -> list[Binding]:
        """The current bindings of the user ``uri`` names, most preferred first.

        The address-of-record is canonical (§10.3); a port in the Request-URI names this
        server's listening address, so the AOR without it is looked up first.
        """
        aor = canonical_aor(uri)
        assert aor is not None
        bare = _aor(uri)
        bindings = self.location.lookup(bare, now)
        if not bindings and aor != bare:
            bindings = self.location.lookup(aor, now)
        return bindings

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
    ##% When a redirect server returns a 3xx response to a request, it
    ##% populates the list of (one or more) alternative locations into the
    ##% Contact header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
    ##% However, redirect servers MUST NOT redirect a request to a URI equal
    ##% to the one in the Request-URI; instead, provided that the URI does
    ##% not point to itself, the server MAY proxy the request to the
    ##% destination URI, or MAY reject it with a 404.
    def redirection(self, request: Request, bindings: list[Binding], now: float) -> Response:
        """The 3xx listing ``bindings`` (404 or 480 when none is left)."""
        contacts = [b for b in bindings if not _same_uri(b.contact, request.uri)]
        uri = request.uri
        assert isinstance(uri, SipURI)
        configured = self.static.get(_aor(uri), ())
        fixed = [c for c in configured if not _same_uri(c, uri)]
        if not contacts and not fixed:
            return self.not_found(request, bool(bindings) or bool(configured))
        response = request.make_response(self.config.status)
        for binding in contacts:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
            ##% An "expires" parameter to the Contact header
            ##% field values may also be supplied to indicate the lifetime of the
            ##% Contact data.
            value = f"<{binding.contact}>;expires={binding.expires_in(now)}"
            if binding.q is not None:
                value += f";q={binding.q:g}"
            response.headers.add("Contact", value)
        for contact in fixed:
            response.headers.add("Contact", f"<{contact}>")
        return response

    def not_found(self, request: Request, only_itself: bool) -> Response:
        """404 for a user without a usable binding that the server does not know; 480 for one
        it knows (from ``users``) but who is not registered."""
        uri = request.uri
        assert isinstance(uri, SipURI)
        aor = _aor(uri)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
        ##% The callee's end system was contacted successfully but the callee is
        ##% currently unavailable (for example, is not logged in, logged in but
        ##% in a state that precludes communication with the callee, or has
        ##% activated the "do not disturb" feature).
        if not only_itself and self.users is not None and self.users(aor):
            return request.make_response(480, "Temporarily Unavailable (not registered)")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.10
        ##% If the server does not know, or has no facility to determine,
        ##% whether or not the condition is permanent, the status code 404
        ##% (Not Found) SHOULD be used instead.
        return request.make_response(404)


def _aor(uri: SipURI) -> str:
    """The canonical address-of-record without the port (that names this server)."""
    return f"sip:{unescape(uri.user or '')}@{uri.host_lower}"


def _same_uri(contact: str, uri: object) -> bool:
    try:
        return uri_equal(parse_uri(contact), uri)  # type: ignore[arg-type]
    except ValueError:
        return False
