"""One §18.2.2 (with RFC 3581 §4) routing function, shared by the dispatcher and the proxy."""

from __future__ import annotations

import pytest

from rfc3261.asyncio.dispatcher import response_target
from rfc3261.asyncio.transport import Address, ListeningPoint, Source, is_ip_address
from rfc3261.headers import Via
from rfc3261.proxy import NextHop, via_destination
from rfc3261.transports import ResponseRoute, route_response

LOCAL = ListeningPoint(Address("UDP", "127.0.0.1", 5060))

# (top Via, connection the request came on still open, where the response goes)
CASES = [
    # Reliable, connection open: on that connection.
    (
        "SIP/2.0/TCP pc.example.com:5070;received=192.0.2.4",
        True,
        ResponseRoute("connection", "TCP"),
    ),
    # Reliable, connection gone: received (else sent-by host), sent-by port or the default.
    (
        "SIP/2.0/TCP pc.example.com:5070;received=192.0.2.4",
        False,
        ResponseRoute("reliable", "TCP", "192.0.2.4", 5070),
    ),
    (
        "SIP/2.0/TLS pc.example.com;received=192.0.2.4;rport=7000",
        False,
        ResponseRoute("reliable", "TLS", "192.0.2.4", 5061),
    ),
    ("SIP/2.0/SCTP [2001:db8::1]", False, ResponseRoute("reliable", "SCTP", "2001:db8::1", 5060)),
    # maddr comes before received (and before rport): the RFC's order.
    (
        "SIP/2.0/UDP pc.example.com:5080;maddr=192.0.2.9;received=192.0.2.4;rport=7000",
        False,
        ResponseRoute("maddr", "UDP", "192.0.2.9", 5080),
    ),
    (
        "SIP/2.0/UDP pc.example.com;maddr=239.255.255.1;ttl=3",
        False,
        ResponseRoute("maddr", "UDP", "239.255.255.1", 5060, ttl=3),
    ),
    (
        "SIP/2.0/UDP pc.example.com;maddr=239.255.255.1",
        False,
        ResponseRoute("maddr", "UDP", "239.255.255.1", 5060, ttl=1),
    ),
    # Unreliable unicast: received with rport (RFC 3581 §4), else received and sent-by port.
    (
        "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988",
        False,
        ResponseRoute("rport", "UDP", "192.0.2.1", 9988),
    ),
    (
        "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1",
        False,
        ResponseRoute("received", "UDP", "192.0.2.1", 4540),
    ),
    (
        "SIP/2.0/UDP pc.example.com;received=192.0.2.1",
        False,
        ResponseRoute("received", "UDP", "192.0.2.1", 5060),
    ),
    # Not receiver-tagged: sent-by, by RFC 3263 §5 (an IP: its port or the default).
    ("SIP/2.0/UDP 192.0.2.4:5080", False, ResponseRoute("sent-by", "UDP", "192.0.2.4", 5080)),
    ("SIP/2.0/UDP [::1]", False, ResponseRoute("sent-by", "UDP", "::1", 5060)),
    # A name: left to RFC 3263 §5 (SRV when it has no port).
    ("SIP/2.0/UDP pc.example.com", False, ResponseRoute("sent-by", "UDP", "pc.example.com", None)),
    (
        "SIP/2.0/UDP pc.example.com:5070",
        False,
        ResponseRoute("sent-by", "UDP", "pc.example.com", 5070),
    ),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% The server transport uses the value of the top Via header field in
##% order to determine where to send a response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the "sent-protocol" is a reliable transport protocol such as
##% TCP or SCTP, or TLS over those, the response MUST be sent using
##% the existing connection to the source of the original request
##% that created the transaction, if that connection is still open.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that
##% connection is no longer open, the server SHOULD open a
##% connection to the IP address in the "received" parameter, if
##% present, using the port in the "sent-by" value, or the default
##% port for that transport, if no port is specified.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if the Via header field value contains a "maddr"
##% parameter, the response MUST be forwarded to the address listed
##% there, using the port indicated in "sent-by", or port 5060 if
##% none is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the address is a multicast address, the
##% response SHOULD be sent using the TTL indicated in the "ttl"
##% parameter, or with a TTL of 1 if that parameter is not present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise (for unreliable unicast transports), if the top Via
##% has a "received" parameter, the response MUST be sent to the
##% address in the "received" parameter, using the port indicated
##% in the "sent-by" value, or using port 5060 if none is specified
##% explicitly.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if it is not receiver-tagged, the response MUST be
##% sent to the address indicated by the "sent-by" value, using the
##% procedures in Section 5 of [4].
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If the "sent-protocol"
##% component indicates an unreliable unicast transport protocol, such as
##% UDP, and there is no "maddr" parameter, but there is both a
##% "received" parameter and an "rport" parameter, the response MUST be
##% sent to the IP address listed in the "received" parameter, and the
##% port in the "rport" parameter.
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If it contains a numeric IP
##% address, the server attempts to send the response to that address,
##% using the transport protocol from the Via header, and the port from
##% sent-by, if present, else the default for that transport protocol.
def test_route_response_follows_the_rfc_order() -> None:
    for via, connection_open, expected in CASES:
        assert route_response(Via.parse(via), connection_open=connection_open) == expected, via


def test_the_transport_the_request_came_over_decides() -> None:
    # A Via that says UDP on a request that came over TCP: the connection's transport.
    via = Via.parse("SIP/2.0/UDP 192.0.2.4:5070;received=192.0.2.5")
    assert route_response(via, connection_open=True, arrival_transport="TCP") == ResponseRoute(
        "connection", "TCP"
    )
    assert route_response(via, arrival_transport="tcp") == ResponseRoute(
        "reliable", "TCP", "192.0.2.5", 5070
    )


def test_arrival_point_is_kept_for_unicast_replies() -> None:
    assert ResponseRoute("rport", "UDP", "192.0.2.1", 1).from_arrival_point
    assert ResponseRoute("received", "UDP", "192.0.2.1", 1).from_arrival_point
    assert ResponseRoute("sent-by", "UDP", "192.0.2.1", 1).from_arrival_point
    assert not ResponseRoute("maddr", "UDP", "239.0.0.1", 1).from_arrival_point
    assert not ResponseRoute("reliable", "TCP", "192.0.2.1", 1).from_arrival_point


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% It MUST follow the
##% following process:
def test_dispatcher_and_proxy_route_the_same_way() -> None:
    """Both call sites agree with route_response (the proxy once preferred received to maddr)."""
    for via_text, connection_open, expected in CASES:
        if connection_open:
            continue
        via = Via.parse(via_text)
        hop = via_destination(via)
        assert hop == NextHop(expected.transport, expected.host, expected.port), via_text  # type: ignore[arg-type]
        if expected.rule == "sent-by" and not is_ip_address(expected.host or ""):
            # A name: the dispatcher does not resolve it (RFC 3263 §5 is a resolver's).
            with pytest.raises(ValueError, match="RFC 3263"):
                response_target(via, None)
            continue
        source = Source(Address("UDP", "192.0.2.4", 4540), LOCAL)
        address, connection, local = response_target(via, source)
        assert address.transport == expected.transport, via_text
        assert (address.host, address.port) == (expected.host, expected.port), via_text
        assert connection is None
        assert (local is LOCAL) == expected.from_arrival_point, via_text
