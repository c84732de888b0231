"""A proxy in front of SIP WebSocket clients (RFC 7118 §5, Appendix B.2), sans-I/O.

Theory of operation
-------------------
A browser's SIP stack cannot learn its own address: its Via sent-by and its
Contact name a random ``.invalid`` host (RFC 7118 Appendix B.1), and it
listens on nothing.  Only the WebSocket connection it opened reaches it.  So
the proxy in front of it (the "SIP WebSocket Server" acting as an edge
proxy, B.2) must send everything meant for the browser on that connection:

- responses: the Via rules already do (§18.2.2: a reliable transport's
  response goes back on the connection the request came on);
- new requests to its address-of-record: the registrar remembers, with each
  binding made over WS or WSS, a *flow token* naming the connection (the far
  end's transport, address and port: the index the transport layer keeps its
  connections by, RFC 3261 §18); :class:`WebSocketEdge` sends the copy to that
  address instead of the ``.invalid`` Contact (as RFC 5626 §5.3 does with flows);
- requests inside a dialog, whose Request-URI is the ``.invalid`` Contact:
  the proxy record-routes (B.2: it "remains in the path of dialogs") and puts
  the flow token in the user part of its Record-Route URI on the WebSocket
  side.  When the request comes back with that URI in Route, the token says
  which connection to use.

When the request crosses from one transport to another (WS to UDP, say) the
proxy inserts two Record-Route values, one for each side, as RFC 5658 §4
describes ("double Record-Routing"): the downstream element's route set then
starts with our UDP address, the browser's with our WS address and its flow
token.  When a request comes back, §16.4 pops the first of our two values;
:meth:`WebSocketEdge.next_hop` pops the second and follows its token.

The flow token is opaque to everyone else: a hex encoding of "transport host
port", signed with a key of the process so that it cannot be forged.  When the
connection is gone, the send fails and the branch ends as a transport error
does (§16.9) -- RFC 5626 would answer 430 (Flow Failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .flow_token import flow_token, parse_flow_token
from .headers import Via
from .location import Binding
from .message import Request
from .proxy import Branch, NextHop, ProxyExtension
from .registrar import RegistrarExtension
from .uri import SipURI

__all__ = [
    "WEBSOCKET_TRANSPORTS",
    "WebSocketEdge",
    "WebSocketRegistrar",
    "flow_token",
    "parse_flow_token",
]

WEBSOCKET_TRANSPORTS = frozenset({"WS", "WSS"})
# Tokens are signed, so that a Route value made up by a peer cannot send requests
# to an address of its choosing (the way RFC 5626 §5.2 protects its flow tokens):
# see rfc3261.flow_token, shared with RFC 5626 outbound.


def _source_token(source: Any) -> str | None:
    """The flow token of the connection ``source`` (an edge Source) came on, for WS(S)."""
    remote = getattr(source, "remote", None)
    transport = getattr(remote, "transport", None)
    if transport not in WEBSOCKET_TRANSPORTS:
        return None
    return flow_token(transport, remote.host, remote.port)


class WebSocketRegistrar(RegistrarExtension):
    """Remembers, with a binding made over WS or WSS, the connection it came on."""

    ##= https://www.rfc-editor.org/rfc/rfc7118#appendix-B.1
    ##% The Contact URI provided by SIP UAs requesting (and receiving)
    ##% Outbound support is not used for routing requests to those UAs,
    ##% thus it is safe to set a random domain in the Contact URI
    ##% hostport.
    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        token = _source_token(source)
        if token is None:
            return binding
        return replace(binding, flow=token)


class WebSocketEdge(ProxyExtension):
    """Routes requests to WebSocket clients over their connection; double Record-Route.

    ``interfaces`` maps a transport (``"UDP"``, ``"WS"``, ...) to the
    ``host:port`` of our listening point for it: the Record-Route URI of that
    side.  ``is_own_uri`` tells whether a URI names this proxy (the proxy's
    method of that name).
    """

    def __init__(self, interfaces: Mapping[str, str], is_own_uri: Any) -> None:
        self.interfaces = {k.upper(): v for k, v in interfaces.items()}
        self.is_own_uri = is_own_uri

    # -- requests coming back along the Record-Route

    ##= https://www.rfc-editor.org/rfc/rfc7118#appendix-B.2
    ##% The proxy performs loose routing and remains in the path of dialogs
    ##% as specified in [RFC3261].
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-5
    ##% So, this
    ##% means, in Section 16.4, "Route Information Preprocessing" [RFC3261],
    ##% implementors can choose that a proxy MAY remove two Route headers
    ##% instead of one when using the double Record-Routing.
    def next_hop(self, copy: Request) -> NextHop | None:
        """Pop our own Route values left on top (the second of a double Record-Route);
        the connection the last one names, if it names one (None: route as usual)."""
        routes = copy.route
        hop = None
        popped = False
        while routes and isinstance(routes[0].uri, SipURI) and self.is_own_uri(routes[0].uri):
            hop = parse_flow_token(routes[0].uri.user)
            copy.headers.remove_first("Route")
            routes = copy.route
            popped = True
        return hop if popped else None

    # -- §16.6 after step 9

    def before_forward(self, branch: Branch) -> int | None:
        copy = branch.request
        hop = branch.hop
        flow = parse_flow_token(branch.target.flow) if branch.target.flow else None
        if flow is not None:
            # A binding made over a WebSocket: its Contact (".invalid") does not route.
            hop = flow
        if hop is not branch.hop:
            branch.hop = hop
            _set_via_transport(copy, hop.transport)
        self._double_record_route(branch, hop)
        return None

    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% Thus, if the transport protocol changed between
    ##% its incoming and outgoing sides, the proxy SHOULD use the double
    ##% Record-Route technique and SHOULD add a transport parameter to each
    ##% of the Record-Route URIs it inserts.
    def _double_record_route(self, branch: Branch, hop: NextHop) -> None:
        copy = branch.request
        records = copy.headers.get_all("Record-Route")
        if not records:
            return
        first = records[0]
        ours = first.strip().strip("<>").split(";")[0]
        if not any(ours.endswith(value) for value in self.interfaces.values()):
            return  # we did not record-route this copy
        source = branch.context.server.destination
        inbound = getattr(getattr(source, "remote", None), "transport", None)
        outbound = hop.transport.upper()
        if inbound is None or (inbound == outbound and outbound not in WEBSOCKET_TRANSPORTS):
            return
        secure = ours.startswith("sips:")
        inbound_uri = self._record_uri(inbound, _source_token(source), secure)
        outbound_token = (
            flow_token(outbound, hop.host, hop.port)
            if outbound in WEBSOCKET_TRANSPORTS and hop.port is not None
            else None
        )
        outbound_uri = self._record_uri(outbound, outbound_token, secure)
        if inbound_uri is None or outbound_uri is None:
            return
        rest = ", ".join(records[1:])
        values = [f"<{outbound_uri}>", f"<{inbound_uri}>"] + ([rest] if rest else [])
        copy.headers.set("Record-Route", ", ".join(values))

    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% When TLS is used on the
    ##% transport on either side of the proxy, the URI placed in the Record-
    ##% Route header field MUST encode a next-hop that will be reached using
    ##% TLS.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% Proxies compliant with this specification MUST
    ##% NOT use a "transport=tls" parameter on the URI placed in the Record-
    ##% Route because the "transport=tls" usage was deprecated by [RFC3261].
    def _record_uri(self, transport: str, token: str | None, secure: bool) -> str | None:
        transport = transport.upper()
        hostport = self.interfaces.get(transport)
        if hostport is None:
            return None
        scheme = "sips" if secure or transport in ("TLS", "WSS") else "sip"
        user = f"{token}@" if token else ""
        if transport in WEBSOCKET_TRANSPORTS:
            param = "ws"
        elif transport == "TLS":
            param = "tcp"  # with sips: reached over TLS (RFC 3261 §26.2.2)
        else:
            param = transport.lower()
        return f"{scheme}:{user}{hostport};transport={param};lr"


def _set_via_transport(copy: Request, transport: str) -> None:
    """Rewrite the transport of our (top) Via: the hop changed after step 8."""
    via = copy.top_via
    if via.transport.upper() == transport.upper():
        return
    new = Via(transport.upper(), via.host, via.port, via.params, via.protocol)
    copy.headers.remove_first("Via")
    copy.headers.prepend("Via", str(new))
