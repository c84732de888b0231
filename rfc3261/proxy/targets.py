"""§16.5 determining request targets (RFC 3261), with the embedded registrar (§10.3).

A Request-URI with a maddr, a request with a Route, or one for a domain we are not
responsible for has the Request-URI as its only target.  A REGISTER for our domains
goes to the registrar instead.  Otherwise the location service's bindings become
:class:`~rfc3261.proxy.model.Target` values (:meth:`Target.from_binding
<rfc3261.proxy.model.Target.from_binding>`, highest q first), which each
:meth:`ProxyExtension.targets <rfc3261.proxy.model.ProxyExtension.targets>` hook may
reshape; duplicates are dropped, and an empty set is a 480.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..location import LocationError
from ..message import Request
from ..registrar import canonical_aor
from ..uri import SipURI, uri_equal
from .model import ProxyConfig, ProxyExtension, Send, Target, _Answer

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from ..location import LocationService
    from ..registrar import Registrar
    from ..transaction_server import ServerTransaction

__all__ = ["RequestTargets"]


class RequestTargets:
    """§16.5: a part of :class:`~rfc3261.proxy.core.Proxy`."""

    config: ProxyConfig
    location: LocationService
    registrar: Registrar | None
    users: Callable[[str], bool] | None
    extensions: tuple[ProxyExtension, ...]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the Request-URI of the request contains an maddr parameter, the
    ##% Request-URI MUST be placed into the target set as the only target
    ##% URI, and the proxy MUST proceed to Section 16.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the domain of the Request-URI indicates a domain this element is
    ##% not responsible for, the Request-URI MUST be placed into the target
    ##% set as the only target, and the element MUST proceed to the task of
    ##% Request Forwarding (Section 16.6).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the target set for the request has not been predetermined as
    ##% described above, this implies that the element is responsible for the
    ##% domain in the Request-URI, and the element MAY use whatever mechanism
    ##% it desires to determine where to send the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If a target URI is already present in the set (based on the
    ##% definition of equality for the URI type), it MUST NOT be added again.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% As above, any given URI MUST NOT be added to the set more than once.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the Request-URI indicates a resource at this proxy that does not
    ##% exist, the proxy MUST return a 404 (Not Found) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the target set remains empty after applying all of the above, the
    ##% proxy MUST return an error response, which SHOULD be the 480
    ##% (Temporarily Unavailable) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% A proxy MUST NOT add additional targets to the target set if the
    ##% Request-URI of the original request does not indicate a resource this
    ##% proxy is responsible for.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If not, and if the server also acts as a proxy server, the
    ##% server SHOULD forward the request to the addressed domain,
    ##% following the general behavior for proxying messages described
    ##% in Section 16.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
    ##% When the local outbound proxy server has validated the credentials presented by the
    ##% UA in the INVITE, it SHOULD inspect the Request-URI to determine how the message
    ##% should be routed (see [4]).
    def determine_targets(
        self, server: ServerTransaction, request: Request, now: float, out: list[Send]
    ) -> list[Target] | None:
        """§16.5: the target set; None when the request was answered here (REGISTER)."""
        uri = request.uri
        assert isinstance(uri, SipURI)
        if uri.maddr is not None:
            return [Target(uri)]
        if request.route:
            return [Target(uri)]  # loose routing: the next hop is the Route, the target unchanged
        if self._for_registrar(request):
            assert self.registrar is not None
            response = self.registrar.handle(request, now, source=server.destination)
            self._respond(server, response, now, out)
            return None
        if not self.is_in_domain(uri):
            if self.is_own_uri(uri):
                raise _Answer(200 if request.method == "OPTIONS" else 404)
            return [Target(uri)]
        aor = canonical_aor(uri)
        assert aor is not None
        if self.users is not None and not self.users(aor):
            raise _Answer(404)
        try:
            bindings = self.location.lookup(aor, now)
        except LocationError as error:
            # The shared store is unreachable (a database restarting): 503 + Retry-After
            # (§21.5.4), rather than no answer at all.
            raise _Answer(503, headers=[("Retry-After", 5)]) from error
        found: list[Target] = []
        for binding in bindings:
            try:
                found.append(Target.from_binding(binding))
            except ValueError:
                continue
        for extension in self.extensions:
            found = extension.targets(request, found)
        targets: list[Target] = []
        for target in found:
            if not isinstance(target, Target):
                raise TypeError(f"a ProxyExtension returned {target!r}, not a Target")
            if not any(uri_equal(target.uri, t.uri) for t in targets):
                targets.append(target)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
        ##% The reason phrase SHOULD indicate a more precise cause as to why the callee is
        ##% unavailable.
        if not targets:
            raise _Answer(480, response=request.make_response(480, "No Contact Registered"))
        return targets

    def _for_registrar(self, request: Request, *, before_routing: bool = False) -> bool:
        """Whether ``request`` is a REGISTER the embedded registrar answers (§10.3).

        ``before_routing``: asked before §16.4, as §16.3 step 6 is; the Route value
        naming us that §16.4 will remove does not count.
        """
        if request.method != "REGISTER" or self.registrar is None:
            return False
        routes = request.route
        if before_routing and routes and self.is_own_uri(routes[0].uri):
            routes = routes[1:]
        return (
            not routes
            and self.is_in_domain(request.uri)
            and self.registrar.is_responsible(request.uri)
        )
