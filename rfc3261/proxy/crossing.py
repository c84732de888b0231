"""Double Record-Route when a request changes transport (RFC 5658), sans-I/O.

Theory of operation
-------------------
A proxy listening on several transports (UDP and TLS, say) may receive a request
on one and forward it on another.  A single Record-Route value then names one
listening point for both sides of the dialog: the downstream element would come
back over TLS to a UDP address, or the upstream one over UDP to a SIPS URI.
RFC 3261 patched this with a rewrite of the Record-Route value in the response
(§16.7 step 9: SIPS towards a TLS upstream, SIP towards a TLS downstream).
RFC 5658 §4 recommends against rewriting (the two ends then see different route
sets) and §5 describes the fix sipref uses: *double Record-Routing*.

:class:`TransportCrossing` runs after §16.6 step 9, when the next hop is known.
If the copy carries the Record-Route value this proxy just inserted (step 4) and
the transport it arrived on differs from the one it leaves by, that value is
replaced by two: first the URI of the outgoing side, then the URI of the
incoming side (RFC 5658 §5).  Each names our listening point for that side's
transport, carries a transport parameter (§6.2) and is a SIPS URI exactly when
that side is TLS (or WSS), or when the request itself is SIPS (RFC 3261 §16.6
step 4).  The downstream element's route set thus starts with our outgoing
side, the upstream element's with our incoming side; no response is rewritten,
and each element is already given what §16.7 step 9 would have rewritten to.

When a request comes back along the route set, §16.4 pops the first of our two
values; :meth:`TransportCrossing.next_hop` (the :class:`ProxyExtension` hook of
§16.6 step 7) pops the second, so the request does not spiral through this proxy
(RFC 5658 §5's MAY).

:class:`~rfc3261.websocket_edge.WebSocketEdge` is this class plus flow tokens: it
puts the token of a WebSocket connection in the user part of the URI of that side
(:meth:`TransportCrossing.record_user`) and follows it when the value comes back
(:meth:`TransportCrossing.route_hop`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from ..message import Request
from ..uri import SipURI
from .model import Branch, NextHop, ProxyExtension, _set_routes

__all__ = ["SECURE_TRANSPORTS", "TransportCrossing", "arrival", "ip_version"]

#: Transports reached with a SIPS URI (RFC 3261 §26.2.2; RFC 7118 §5.2 for WSS).
SECURE_TRANSPORTS = frozenset({"TLS", "WSS"})


def ip_version(host: str) -> int | None:
    """4 or 6 for an IP literal (bracketed or not), None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return None


def arrival(source: Any) -> tuple[str, str, int] | None:
    """(transport, host, port) of the far end a request came from, when the adapter's
    source says (an :class:`~rfc3261.asyncio.transport.Source`: ``source.remote``)."""
    remote = getattr(source, "remote", None)
    transport = getattr(remote, "transport", None)
    if not isinstance(transport, str):
        return None
    return transport.upper(), remote.host, remote.port


class TransportCrossing(ProxyExtension):
    """Double Record-Route whenever a request leaves by another transport (RFC 5658).

    ``interfaces`` maps a transport (``"UDP"``, ``"TLS"``, ``"WS"``, ...) to the
    ``host:port`` of our listening point for it: the Record-Route URI of that side.
    A key ``"UDP/IPv6"`` (``/IPv4``) names the listening point of that transport for
    the peers of that IP version: a request crossing from IPv4 to IPv6 on the same
    transport is double-record-routed too (RFC 5658 §5's example).
    ``is_own_uri`` tells whether a URI names this proxy (:meth:`Proxy.is_own_uri
    <rfc3261.proxy.core.Proxy.is_own_uri>`).
    """

    def __init__(self, interfaces: Mapping[str, str], is_own_uri: Callable[[Any], bool]) -> None:
        self.interfaces = {k.upper(): v for k, v in interfaces.items()}
        self.is_own_uri = is_own_uri

    # -- what a subclass may change

    def crosses(self, inbound: str, outbound: str) -> bool:
        """Whether a request received over ``inbound`` and sent over ``outbound`` needs a
        Record-Route value per side."""
        return inbound != outbound

    def record_user(self, transport: str, host: str, port: int | None) -> str | None:
        """The user part of our Record-Route URI on the side of the far end ``transport``
        ``host``:``port``; None here (WebSocketEdge: the connection's flow token)."""
        return None

    def route_hop(self, uri: SipURI) -> NextHop | None:
        """Where a request goes when it comes back with our Route value ``uri`` (popped
        last); None: the next hop is computed as usual (§16.6 step 7)."""
        return None

    # -- requests coming back along the route set (§16.6 step 7)

    ##= https://www.rfc-editor.org/rfc/rfc5658#section-5
    ##% So, this
    ##% means, in Section 16.4, "Route Information Preprocessing" [RFC3261],
    ##% implementors can choose that a proxy MAY remove two Route headers
    ##% instead of one when using the double Record-Routing.
    def next_hop(self, copy: Request) -> NextHop | None:
        """Pop our own Route values left on top (the second of a double Record-Route,
        §16.4 removed the first); :meth:`route_hop` of the last one popped."""
        routes = copy.route
        last: SipURI | None = None
        while routes and isinstance(routes[0].uri, SipURI) and self.is_own_uri(routes[0].uri):
            last = routes[0].uri
            routes = routes[1:]
        if last is None:
            return None
        _set_routes(copy, [str(r) for r in routes])
        return self.route_hop(last)

    # -- §16.6 after step 9

    def before_forward(self, branch: Branch) -> int | None:
        self.double_record_route(branch, branch.hop)
        return None

    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% Thus, if the transport protocol changed between
    ##% its incoming and outgoing sides, the proxy SHOULD use the double
    ##% Record-Route technique and SHOULD add a transport parameter to each
    ##% of the Record-Route URIs it inserts.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% In order to handle this situation, this document recommends that a
    ##% proxy SHOULD apply the double Record-Routing technique as soon as it
    ##% changes the transport protocol between its incoming and outgoing
    ##% sides.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% By extension, a proxy SHOULD also insert a Record-Route header for
    ##% any multi-homed situation (as the ones described in this document:
    ##% scheme changes, sigcomp, IPv4/IPv6, transport changes, etc.) that may
    ##% impact the processing of proxies being on the path of subsequent
    ##% requests.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-7
    ##% Double Record-Routing is presented as the technique that SHOULD be
    ##% used, and is documented in Section 5.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-7
    ##% Proxies SHOULD use
    ##% double Record-Routing for any multi-homed situation that MAY impact
    ##% the further processing, and they SHOULD put transport protocol
    ##% parameters on Record-Route URIs in some circumstances.
    def double_record_route(self, branch: Branch, hop: NextHop) -> None:
        """Replace the Record-Route value we inserted in step 4 by one per side:
        ``<outgoing side>, <incoming side>`` (RFC 5658 §5)."""
        copy = branch.request
        records = copy.record_route
        if len(records) != len(branch.context.request.record_route) + 1:
            return  # we did not record-route this copy (step 4)
        came = arrival(branch.context.server.destination)
        if came is None:
            return  # the adapter does not say how the request arrived
        inbound, outbound = came[0], hop.transport.upper()
        inbound_ip, outbound_ip = ip_version(came[1]), ip_version(hop.host)
        changes_ip = None not in (inbound_ip, outbound_ip) and inbound_ip != outbound_ip
        if not (self.crosses(inbound, outbound) or changes_ip):
            return
        ours = records[0].uri
        if not isinstance(ours, SipURI) or ours.user is not None:
            return  # not a URI of ours, or one naming a flow (RFC 5626 edge): keep it
        # Parameters of the step 4 value other than lr and transport (relay.py's token).
        extra = "".join(
            f";{name}" if value is None else f";{name}={value}"
            for name, value in ours.params
            if name.lower() not in ("lr", "transport")
        )
        outbound_user = self.record_user(outbound, hop.host, hop.port)
        # SIPS on a side: its transport is TLS, or the request on that side is SIPS (as
        # received upstream; as forwarded downstream, i.e. our step 4 value).
        received = branch.context.request.uri
        upstream_sips = isinstance(received, SipURI) and received.is_secure
        outbound_uri = self._record_uri(
            outbound, outbound_user, ours.is_secure, extra, ip=outbound_ip
        )
        inbound_uri = self._record_uri(
            inbound, self.record_user(*came), upstream_sips, extra, ip=inbound_ip
        )
        if inbound_uri is None or outbound_uri is None:
            return  # no listening point for one side: keep the single value
        rest = [str(r) for r in records[1:]]
        copy.headers.set(
            "Record-Route", ", ".join([f"<{outbound_uri}>", f"<{inbound_uri}>", *rest])
        )

    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% When TLS is used on the
    ##% transport on either side of the proxy, the URI placed in the Record-
    ##% Route header field MUST encode a next-hop that will be reached using
    ##% TLS.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
    ##% Proxies compliant with this specification MUST
    ##% NOT use a "transport=tls" parameter on the URI placed in the Record-
    ##% Route because the "transport=tls" usage was deprecated by [RFC3261].
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
    ##% The URI placed in the Record-Route header field value MUST be a
    ##% SIP or SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% In a similar fashion, a proxy that receives a request over TLS, but
    ##% generates a request without a SIPS URI in the Request-URI or
    ##% topmost Route header field value (after the post processing of
    ##% bullet 6), MUST insert a Record-Route header field that is not a
    ##% SIPS URI.
    # RFC 3261 §16.7 step 9's rewrite, done when the request is forwarded: the side
    # facing a TLS upstream gets a SIPS URI and the side facing a non-TLS downstream a
    # SIP one, so the response needs no rewriting (RFC 5658 §4, §5).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the proxy received the request over TLS, and sent it out over a
    ##% non-TLS connection, the proxy MUST rewrite the URI in the Record-Route
    ##% header field to be a SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
    ##% If the proxy received the request over Transport Layer Security
    ##% (TLS), and sent it out over a non-TLS connection, the proxy MUST
    ##% rewrite the URI in the Record-Route header field to be a SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the proxy received the request over a non-TLS connection, and sent
    ##% it out over TLS, the proxy MUST rewrite the URI in the Record-Route
    ##% header field to be a SIP URI.
    def _record_uri(
        self,
        transport: str,
        user: str | None,
        secure: bool,
        extra: str = "",
        *,
        ip: int | None = None,
    ) -> str | None:
        """Our Record-Route URI for the side using ``transport``: our listening point for
        it (for peers of IP version ``ip`` when there is one), SIPS when that side is
        secure or the request is (``secure``: then reached by TLS), a transport
        parameter, lr and ``extra`` (parameters of the step 4 value); None without such
        a listening point."""
        transport = transport.upper()
        secure = secure or transport in SECURE_TRANSPORTS
        if secure and transport not in SECURE_TRANSPORTS:
            transport = "TLS"  # a SIPS request that arrived without TLS: come back with it
        hostport = self.interfaces.get(f"{transport}/IPV{ip}") or self.interfaces.get(transport)
        if hostport is None:
            return None
        scheme = "sips" if secure else "sip"
        # SIPS over TCP is TLS (§26.2.2): never "transport=tls" (RFC 5658 §6.2).
        if transport in ("WS", "WSS"):
            param = "ws"
        elif transport == "TLS":
            param = "tcp"
        else:
            param = transport.lower()
        userinfo = f"{user}@" if user else ""
        return f"{scheme}:{userinfo}{hostport};transport={param};lr{extra}"
