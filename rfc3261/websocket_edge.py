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

from dataclasses import replace
from typing import Any

from .flow_token import flow_token, parse_flow_token
from .headers import Via
from .location import Binding
from .message import Request
from .proxy import Branch, NextHop
from .proxy.crossing import TransportCrossing
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


class WebSocketEdge(TransportCrossing):
    """Routes requests to WebSocket clients over their connection; double Record-Route.

    ``interfaces`` maps a transport (``"UDP"``, ``"WS"``, ...) to the
    ``host:port`` of our listening point for it: the Record-Route URI of that
    side.  ``is_own_uri`` tells whether a URI names this proxy (the proxy's
    method of that name).  The double Record-Route is :class:`~rfc3261.proxy.
    crossing.TransportCrossing`'s, with the flow token of a WebSocket side in
    its URI's user part.
    """

    # -- requests coming back along the Record-Route

    ##= https://www.rfc-editor.org/rfc/rfc7118#appendix-B.2
    ##% The proxy performs loose routing and remains in the path of dialogs
    ##% as specified in [RFC3261].
    def route_hop(self, uri: SipURI) -> NextHop | None:
        """The connection our popped Route value names, if it names one."""
        return parse_flow_token(uri.user)

    def crosses(self, inbound: str, outbound: str) -> bool:
        # WS to WS too: each side's value names its own connection.
        return inbound != outbound or outbound in WEBSOCKET_TRANSPORTS

    def record_user(self, transport: str, host: str, port: int | None) -> str | None:
        if transport.upper() not in WEBSOCKET_TRANSPORTS or port is None:
            return None
        return flow_token(transport, host, port)

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
        self.double_record_route(branch, hop)
        return None


def _set_via_transport(copy: Request, transport: str) -> None:
    """Rewrite the transport of our (top) Via: the hop changed after step 8."""
    via = copy.top_via
    if via.transport.upper() == transport.upper():
        return
    new = Via(transport.upper(), via.host, via.port, via.params, via.protocol)
    copy.headers.remove_first("Via")
    copy.headers.prepend("Via", str(new))
