"""§16.3 request validation and §16.4 route information preprocessing (RFC 3261).

Before a request is proxied it passes the six checks of §16.3, in order: reasonable
syntax, the URI scheme (416), Max-Forwards (483), loop detection (482, by the
"second part" of RFC 5393 §4.2), Proxy-Require (420, the one check of
:func:`~rfc3261.capabilities.require_check`) and Proxy-Authorization (407).  A
failing check raises :class:`~rfc3261.proxy.model._Answer`.  RFC 5393 §5.3.3 then
bounds the Incoming Max-Breadth of the new response context.  §16.4 undoes a strict
router's rewrite of the Request-URI, strips a maddr naming us and removes our own
Route value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..capabilities import require_check
from ..message import Request
from ..uri import SipURI
from .model import ProxyConfig, _Answer, _set_routes

if TYPE_CHECKING:  # pragma: no cover
    from ..digest_server import DigestAuthenticator

__all__ = ["RequestValidation", "RouteInformationPreprocessing"]


class RequestValidation:
    """§16.3 and RFC 5393 §5.3.3: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    authenticator: DigestAuthenticator | None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Before an element can proxy a request, it MUST verify the message's
    ##% validity.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If any of these checks fail, the element MUST behave as a user agent
    ##% server (see Section 8.2) and respond with an error code.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Notice that a proxy is not required to detect merged requests and
    ##% MUST NOT treat merged requests as an error condition.
    def validate(self, request: Request, now: float, loop_part: str | None = None) -> None:
        """§16.3: the six checks in order; a failing one raises :class:`_Answer`."""
        self.check_syntax(request)  # 1
        self.check_uri_scheme(request)  # 2
        self.check_max_forwards(request)  # 3
        self.check_loop(request, loop_part)  # 4
        self.check_proxy_require(request)  # 5
        self.check_proxy_authorization(request, now)  # 6

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% The request MUST be well-formed enough to be handled with a server
    ##% transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Any components involved in the remainder of these Request Validation
    ##% steps or the Request Forwarding section MUST be well-formed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Any other components, well-formed or not, SHOULD be ignored and remain
    ##% unchanged when the message is forwarded.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% An element MUST NOT refuse to proxy a request because it contains a
    ##% method or header field it does not know about.
    def check_syntax(self, request: Request) -> None:
        """Step 1: the header fields the proxy uses parse (ParseError gives a 400);
        unknown methods and header fields are not looked at."""
        request.max_forwards  # noqa: B018 -- parsing is the check
        request.route  # noqa: B018
        request.header("proxy-require")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the Request-URI has a URI whose scheme is not understood by the
    ##% proxy, the proxy SHOULD reject the request with a 416 (Unsupported URI
    ##% Scheme) response.
    def check_uri_scheme(self, request: Request) -> None:
        """Step 2: only sip: and sips: Request-URIs are routed here (else 416)."""
        if not isinstance(request.uri, SipURI):
            raise _Answer(416)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the request contains a Max-Forwards header field with a field value
    ##% of zero (0), the element MUST NOT forward the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Otherwise, the element MUST return a 483 (Too many hops) response.
    def check_max_forwards(self, request: Request) -> None:
        """Step 3: Max-Forwards 0 -> 483 (OPTIONS too: this proxy is no final recipient)."""
        if request.max_forwards == 0:
            raise _Answer(483)

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% Proxies required to perform loop detection by RFC 5393 MUST perform
    ##% the following loop-detection test before forwarding a request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% Each Via
    ##% header field value in the request whose sent-by value matches a value
    ##% placed into previous requests by this proxy MUST be inspected for the
    ##% "second part" defined in Section 4.2.1 of RFC 5393.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% If the second field is present, the proxy MUST perform the
    ##% second-part calculation described in Section 4.2.1 of RFC 5393 on
    ##% this request and compare the result to the value from the Via header
    ##% field.  If these values are equal, the request has looped and the
    ##% proxy MUST reject the request with a 482 (Loop Detected) response.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% When a SIP proxy forks a particular request to more than one
    ##% location, it MUST ensure that request is not looping through this
    ##% proxy.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% It is RECOMMENDED that proxies meet this requirement by performing
    ##% the loop-detection steps defined in this document.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% A SIP proxy forwarding a request to only one location MAY perform
    ##% loop detection but is not required to.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% An element MAY check for forwarding loops before forwarding a
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If a loop is detected, the element MAY return a 482 (Loop
    ##% Detected) response.
    def check_loop(self, request: Request, second: str | None = None) -> None:
        """Step 4: a Via of ours whose second part equals this request's: 482.

        A different second part means the request is spiralling (it came back with
        a different Request-URI or Route), which is legitimate.
        """
        for via in request.via:
            if not self.is_own_via(via):
                continue
            branch = via.branch or ""
            if "." not in branch:
                continue
            if second is None:
                second = self.loop_part(request)
            if branch.rsplit(".", 1)[1] == second:
                raise _Answer(482)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the request contains a Proxy-Require header field (Section 20.29)
    ##% with one or more option-tags this element does not understand, the
    ##% element MUST return a 420 (Bad Extension) response.  The response
    ##% MUST include an Unsupported (Section 20.40) header field listing those
    ##% option-tags the element did not understand.
    def check_proxy_require(self, request: Request) -> None:
        """Step 5: unknown Proxy-Require option-tags -> 420 with Unsupported."""
        if request.method in ("CANCEL", "ACK"):
            return  # §8.2.2.3: ignored in CANCEL and ACK
        refusal = require_check(request, self.config.supported, "Proxy-Require")
        if refusal is not None:
            raise _Answer(response=refusal)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If an element requires credentials before forwarding a request,
    ##% the request MUST be inspected as described in Section 22.3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Similarly, when a UAC sends a request to a proxy server, the proxy
    ##% server MAY authenticate the originator before the request is
    ##% processed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% but proxies MUST NOT
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% and instead MAY use the 407 (Proxy Authentication Required)
    ##% response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Servers MUST NOT attempt to challenge an ACK.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% For this reason, any credentials in the INVITE that were accepted by
    ##% a server MUST be accepted by that server for the ACK.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Proxies MUST NOT add values to the Proxy-Authorization header field.
    def check_proxy_authorization(self, request: Request, now: float) -> None:
        """Step 6: with an authenticator, valid Proxy-Authorization or 407."""
        if self.authenticator is None:
            return
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
        ##% Although the CANCEL method does take a response (a 2xx), servers MUST
        ##% NOT attempt to challenge CANCEL requests since these requests cannot
        ##% be resubmitted.
        if request.method in ("ACK", "CANCEL"):
            return  # relayed only when it proves it belongs here (relay.py)

        if self._for_registrar(request, before_routing=True):
            # Not forwarded: the registrar authenticates REGISTERs itself (401, §10.3
            # step 3).  Asked as if our Route were gone already (§16.4 comes after this
            # step): one challenge, not a 407 and then a 401.
            return
        _username, challenge = self.authenticator.authenticate(request, now)
        if challenge is not None:
            raise _Answer(response=challenge)

    # -- RFC 5393 §5.3.3: the Incoming Max-Breadth ---------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If a SIP proxy receives a request with no Max-Breadth header field
    ##% value, it MUST add one, with a value that is RECOMMENDED to be 60.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% Proxies MUST have a maximum allowable Incoming
    ##% Max-Breadth value, which is RECOMMENDED to be 60.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If this maximum is
    ##% exceeded in a received request, the proxy MUST overwrite it with a
    ##% value that SHOULD be no greater than its allowable maximum.
    def incoming_max_breadth(self, request: Request) -> int:
        """The Incoming Max-Breadth of a new response context (RFC 5393 §5.3.2)."""
        text = request.headers.get("Max-Breadth")
        try:
            value = int(text) if text is not None else self.config.max_breadth
        except ValueError:
            value = self.config.max_breadth
        return max(1, min(value, self.config.max_breadth))


class RouteInformationPreprocessing:
    """§16.4: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    _aliases: set[str]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% The proxy MUST inspect the Request-URI of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the
    ##% Request-URI of the request contains a value this proxy previously
    ##% placed into a Record-Route header field (see Section 16.6 item 4),
    ##% the proxy MUST replace the Request-URI in the request with the last
    ##% value from the Route header field, and remove that value from the
    ##% Route header field.  The proxy MUST then proceed as if it received
    ##% this modified request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the first value in the Route header field indicates this proxy,
    ##% the proxy MUST remove that value from the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the Request-URI contains a maddr parameter, the proxy MUST check to
    ##% see if its value is in the set of addresses or domains the proxy is
    ##% configured to be responsible for.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the Request-URI has a maddr
    ##% parameter with a value the proxy is responsible for, and the request
    ##% was received using the port and transport indicated (explicitly or by
    ##% default) in the Request-URI, the proxy MUST strip the maddr and any
    ##% non-default port or transport parameter and continue processing as if
    ##% those values had not been present in the request.
    def preprocess_routing(self, request: Request) -> Request:
        """§16.4: undo a strict router's rewrite, strip our maddr, pop our Route value."""
        uri = request.uri
        routes = request.route
        if isinstance(uri, SipURI) and routes and self.is_own_uri(uri) and uri.user is None:
            # A strict router upstream put our Record-Route URI in the Request-URI.
            request.uri = routes[-1].uri
            _set_routes(request, [str(r) for r in routes[:-1]])
            uri = request.uri
        if isinstance(uri, SipURI) and uri.maddr is not None:
            maddr = uri.maddr.lower()
            if maddr in self.config.domains or maddr in self._aliases:
                stripped = uri.copy()
                stripped.params.remove("maddr")
                stripped.params.remove("transport")
                stripped.port = None
                request.uri = stripped
        routes = request.route
        if routes and self.is_own_uri(routes[0].uri):
            request.headers.remove_first("Route")
        return request
