"""What a proxy that demands credentials relays without them: ACK and CANCEL (issue 23).

ACK and CANCEL are never challenged (§22.1), so a proxy that authenticates every other
request would otherwise relay *anything* an outsider sends as an ACK (with any body) or
a CANCEL matching nothing, to any host:port its Request-URI or Route names.  With an
authenticator, this proxy forwards one only when it belongs to something the proxy
took part in:

- a CANCEL that matches a transaction of ours (§16.10) -- any other gets 481 (§9.2);
- an ACK for a 2xx whose topmost Route is this proxy's own Record-Route value, which
  carries a token (HMAC of the Call-ID under a secret of this proxy) that only an
  INVITE this proxy authenticated and record-routed can have produced;
- or a request whose next hop the local policy trusts (:meth:`RelayPolicy.relay_allowed`,
  e.g. the program's static routes).

Everything else is dropped (an ACK cannot be answered).  Without an authenticator the
proxy relays as RFC 3261 says, since it relays any request anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from ..message import Request
from ..uri import SipURI

if TYPE_CHECKING:  # pragma: no cover
    from ..digest_server import DigestAuthenticator
    from ..uri import AbsoluteURI
    from .model import NextHop

__all__ = ["TOKEN_PARAM", "RelayPolicy"]

# The Record-Route URI parameter carrying the token.
TOKEN_PARAM = "rrtoken"


class RelayPolicy:
    """The relay policy for unchallenged requests: a part of :class:`~rfc3261.proxy.Proxy`."""

    authenticator: DigestAuthenticator | None
    _relay_secret: bytes

    def is_own_uri(self, uri: SipURI | AbsoluteURI) -> bool: ...  # pragma: no cover

    def record_route_token(self, call_id: str) -> str:
        """The token this proxy puts into its Record-Route URI for a dialog's Call-ID."""
        mac = hmac.new(self._relay_secret, call_id.encode(), hashlib.sha256)
        return mac.hexdigest()[:20]

    def has_own_route(self, request: Request) -> bool:
        """Whether the topmost Route of ``request`` is a Record-Route value this proxy
        put into a request of the same Call-ID (its token checks out)."""
        routes = request.route
        if not routes or not isinstance(routes[0].uri, SipURI):
            return False
        uri = routes[0].uri
        token = uri.params.get(TOKEN_PARAM)
        return (
            self.is_own_uri(uri)
            and token is not None
            and hmac.compare_digest(token, self.record_route_token(request.call_id))
        )

    def relay_allowed(self, request: Request, hop: NextHop) -> bool:
        """Local policy: may ``request`` go to ``hop`` though nothing of ours matches it?
        None by default; a subclass may trust some next hops (e.g. static routes)."""
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Servers MUST NOT attempt to challenge an ACK.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
    ##% Similarly, attackers might use falsified Route header field values in
    ##% a request that identify the target host and then send such messages
    ##% to forking proxies that will amplify messaging sent to the target.
    def may_relay_unchallenged(self, request: Request, hop: NextHop | None = None) -> bool:
        """Whether an ACK or CANCEL, which is never challenged, may be relayed: always
        without an authenticator; with one, when it carries our Record-Route token or
        the policy trusts ``hop`` (the CANCEL matching a transaction never asks)."""
        if self.authenticator is None:
            return True
        if self.has_own_route(request):
            return True
        return hop is not None and self.relay_allowed(request, hop)
