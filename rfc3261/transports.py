"""What each transport is: one table of transport facts, sans-I/O (RFC 3261 §18, §18.2.2).

Theory of operation
-------------------
Several layers ask questions about a transport named by its Via token
("UDP", "TCP", "TLS", ...): the transaction layer whether it is reliable
(§17: reliable transports do not retransmit), the proxy whether it is a
stream (§16.6 step 9: Content-Length), everyone its default port (§18.1.1,
§19.1.2), the URI code which ``transport=`` value and scheme reach it.
:data:`TRANSPORTS` answers all of these from one :class:`TransportInfo` per
transport; :func:`register_transport_info` is the only way in.

The facts of the transports RFC 3261 and its companions name are known here
from the start (UDP, TCP, TLS, SCTP and TLS-SCTP of RFC 4168, WS and WSS of
RFC 7118), so that reliability is right whatever the Via says.  A transport
can be *used* only once it also has a ``driver``: the object the asyncio
edge (:mod:`rfc3261.asyncio.transport`) calls to open a listening point or a
connection.  UDP, TCP and TLS get theirs there, through the same
:func:`register_transport_info` (called by the edge's
``register_transport``); an extension adds a new transport, or a driver
for a known one (RFC 7118 for WS), the same way.

:func:`route_response` is §18.2.2 with RFC 3581 §4: where a response goes,
from its top Via and what is known of the connection its request came on.
Both the dispatcher and the proxy route responses with it.

No asyncio here: the transaction layer and the proxy import this module.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .headers import Via

__all__ = [
    "TRANSPORTS",
    "ResponseRoute",
    "TransportInfo",
    "default_port",
    "is_reliable",
    "is_stream",
    "register_transport_info",
    "route_response",
    "transport_for_uri",
    "transport_info",
]


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """The facts of one transport, keyed by its Via transport token (upper-case).

    ``reliable``: delivers in order without loss, so transactions do not
    retransmit (§17.1.1.2, §17.2.1).  ``stream``: a byte stream that needs
    framing by Content-Length (§18.3), rather than one message per datagram or
    per transport message.  ``secure``: TLS-protected, the transport of
    ``sips:`` URIs (§26.2.2).  ``uri_param``: the URI ``transport=`` value
    (§19.1.1), with the scheme given by ``secure``.  ``driver``: the asyncio
    edge's object that opens listening points and connections for it (None:
    the facts are known but the transport cannot be used yet).
    """

    name: str
    default_port: int
    reliable: bool
    stream: bool
    secure: bool = False
    uri_param: str | None = None
    driver: Any = None

    def same_facts(self, other: TransportInfo) -> bool:
        """True when ``other`` describes this transport the same way (drivers aside)."""
        return (
            self.name,
            self.default_port,
            self.reliable,
            self.stream,
            self.secure,
            self.uri_param,
        ) == (
            other.name,
            other.default_port,
            other.reliable,
            other.stream,
            other.secure,
            other.uri_param,
        )


# Every transport known, by Via token.  Read it through the functions below;
# change it only through register_transport_info.
TRANSPORTS: dict[str, TransportInfo] = {}


def register_transport_info(info: TransportInfo) -> TransportInfo:
    """Add a transport to :data:`TRANSPORTS`, or give a known one its driver.

    Registering facts that differ from those already known, or a second
    driver, raises ValueError; registering the very same entry again does
    nothing.  Returns the entry now in the table.
    """
    if not isinstance(info, TransportInfo):
        raise TypeError(
            f"register_transport_info takes a TransportInfo, not {type(info).__name__}"
        )
    name = info.name
    if not name or name != name.upper() or not all(c.isalnum() or c in "-.!%*_+`'~" for c in name):
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
        ##% other-transport   =  token
        raise ValueError(f"transport name {name!r} must be an upper-case token")
    if not 0 < info.default_port < 65536:
        raise ValueError(f"default port {info.default_port} of {name} is not a port number")
    if info.stream and not info.reliable:
        raise ValueError(f"{name}: a stream transport is reliable")
    if info.uri_param is not None and info.uri_param != info.uri_param.lower():
        raise ValueError(f"{name}: uri_param {info.uri_param!r} must be lower-case")
    known = TRANSPORTS.get(name)
    if known is not None:
        if known == info:
            return known
        if not known.same_facts(info):
            raise ValueError(f"transport {name} is already registered with other facts")
        if known.driver is not None:
            raise ValueError(f"transport {name} already has a driver")
    TRANSPORTS[name] = info
    return info


def transport_info(name: str) -> TransportInfo | None:
    """The facts of transport ``name`` (any case); None when it is unknown."""
    info = TRANSPORTS.get(name)
    if info is None:
        info = TRANSPORTS.get(name.upper())
    return info


def default_port(transport: str) -> int:
    """The port a sent-by or URI without one means (§18.1.1, §19.1.2); 5060 when unknown."""
    info = transport_info(transport)
    return 5060 if info is None else info.default_port


def is_reliable(transport: str) -> bool:
    """True when ``transport`` (a Via transport token such as "UDP", "tcp") is reliable."""
    info = transport_info(transport)
    return info is not None and info.reliable


def is_stream(transport: str) -> bool:
    """True when ``transport`` is stream-based, so messages are framed by Content-Length."""
    info = transport_info(transport)
    return info is not None and info.stream


def transport_for_uri(scheme: str, param: str | None) -> str:
    """The Via transport token a URI's scheme and ``transport=`` value select (§19.1.2).

    ``sips:`` selects the secure transport with that parameter (TLS when none
    is given, RFC 3261 §26.2.2); ``sip:`` the plain one (UDP when none is
    given).  An unknown parameter is taken as the token itself.
    """
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
    ##% Any implementation that supports TLS MUST support the SIPS URI scheme.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
    ##% All SIP elements that support TLS MUST also support the SIPS URI scheme.
    secure = scheme.lower() == "sips"
    if param is None:
        return "TLS" if secure else "UDP"

    param = param.lower()
    for info in TRANSPORTS.values():
        if info.uri_param == param and info.secure == secure:
            return info.name
    if secure:
        return "TLS"
    # "transport=tls" in a sip: URI (a use RFC 5630 deprecates), or a token we do not know.
    return param.upper()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##% If the port is absent, the default
##% value depends on the transport.  It is 5060 for UDP, TCP and SCTP,
##% 5061 for TLS.
for _info in (
    TransportInfo("UDP", 5060, reliable=False, stream=False, uri_param="udp"),
    TransportInfo("TCP", 5060, reliable=True, stream=True, uri_param="tcp"),
    TransportInfo("TLS", 5061, reliable=True, stream=True, secure=True, uri_param="tcp"),
    # SCTP and TLS over SCTP (RFC 4168) are reliable but message-oriented.
    TransportInfo("SCTP", 5060, reliable=True, stream=False, uri_param="sctp"),
    TransportInfo("TLS-SCTP", 5061, reliable=True, stream=False, secure=True, uri_param="sctp"),
    # WebSocket (RFC 7118 §5): reliable, one SIP message per WebSocket message.
    TransportInfo("WS", 80, reliable=True, stream=False, uri_param="ws"),
    TransportInfo("WSS", 443, reliable=True, stream=False, secure=True, uri_param="ws"),
):
    register_transport_info(_info)
del _info


# -- §18.2.2: where a response goes ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseRoute:
    """Where §18.2.2 (with RFC 3581 §4) sends a response.

    ``rule`` names the step that applied: "connection" (the request's
    connection, still open: send on it; no address here), "reliable" (open a
    connection to host:port), "maddr", "rport", "received", or "sent-by".
    ``host`` is without brackets; for "sent-by" it may be a domain name, and
    ``port`` is then None when the sent-by has none: the RFC 3263 §5
    procedures decide.  ``ttl`` is set for a multicast maddr.
    """

    rule: str
    transport: str
    host: str | None = None
    port: int | None = None
    ttl: int | None = None

    @property
    def from_arrival_point(self) -> bool:
        """True when the response leaves from where the request arrived (RFC 3581 §4)."""
        return self.rule in ("rport", "received", "sent-by")


def _unbracketed(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_unbracketed(host))
    except ValueError:
        return None


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##% The server transport uses the value of the top Via header field in
##% order to determine where to send a response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##% It MUST follow the
##% following process:
def route_response(
    via: Via,
    *,
    connection_open: bool = False,
    arrival_transport: str | None = None,
) -> ResponseRoute:
    """Where a response with top Via ``via`` goes (§18.2.2, RFC 3581 §4).

    ``connection_open``: the connection the request came on is still open.
    ``arrival_transport``: the transport the request came over, when known
    (it decides over the Via's when the two differ).
    """
    transport = (arrival_transport or via.transport).upper()
    if is_reliable(transport):
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
        ##% If the "sent-protocol" is a reliable transport protocol such as
        ##% TCP or SCTP, or TLS over those, the response MUST be sent using
        ##% the existing connection to the source of the original request
        ##% that created the transaction, if that connection is still open.
        if connection_open:
            return ResponseRoute("connection", transport)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
        ##% If that
        ##% connection is no longer open, the server SHOULD open a
        ##% connection to the IP address in the "received" parameter, if
        ##% present, using the port in the "sent-by" value, or the default
        ##% port for that transport, if no port is specified.
        host = via.received or via.host
        return ResponseRoute(
            "reliable", transport, _unbracketed(host), via.port or default_port(transport)
        )
    maddr = via.maddr
    if maddr is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
        ##% Otherwise, if the Via header field value contains a "maddr"
        ##% parameter, the response MUST be forwarded to the address listed
        ##% there, using the port indicated in "sent-by", or port 5060 if
        ##% none is present.
        address = _ip(maddr)
        ttl = None
        if address is not None and address.is_multicast:
            ttl = 1 if via.ttl is None else via.ttl
        return ResponseRoute("maddr", transport, _unbracketed(maddr), via.port or 5060, ttl)
    received = via.received
    rport = via.rport
    if received is not None and isinstance(rport, int):
        ##= https://www.rfc-editor.org/rfc/rfc3581#section-4
        ##% If the "sent-protocol"
        ##% component indicates an unreliable unicast transport protocol, such as
        ##% UDP, and there is no "maddr" parameter, but there is both a
        ##% "received" parameter and an "rport" parameter, the response MUST be
        ##% sent to the IP address listed in the "received" parameter, and the
        ##% port in the "rport" parameter.
        ##= https://www.rfc-editor.org/rfc/rfc3581#section-4
        ##% The response MUST be sent from the
        ##% same address and port that the corresponding request was received on.
        return ResponseRoute("rport", transport, _unbracketed(received), rport)
    if received is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
        ##% Otherwise (for unreliable unicast transports), if the top Via
        ##% has a "received" parameter, the response MUST be sent to the
        ##% address in the "received" parameter, using the port indicated
        ##% in the "sent-by" value, or using port 5060 if none is specified
        ##% explicitly.
        return ResponseRoute("received", transport, _unbracketed(received), via.port or 5060)
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
    ##% Otherwise, if it is not receiver-tagged, the response MUST be
    ##% sent to the address indicated by the "sent-by" value, using the
    ##% procedures in Section 5 of [4].
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
    ##% If it contains a numeric IP
    ##% address, the server attempts to send the response to that address,
    ##% using the transport protocol from the Via header, and the port from
    ##% sent-by, if present, else the default for that transport protocol.
    port = via.port
    if port is None and _ip(via.host) is not None:
        port = default_port(transport)
    return ResponseRoute("sent-by", transport, _unbracketed(via.host), port)
