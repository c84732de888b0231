"""Double Record-Route on a change of transport (RFC 5658; RFC 3261 §16.6 step 4,
§16.7 step 9), sans-I/O: TransportCrossing on a Proxy fed with adapter sources."""

from __future__ import annotations

from rfc3261.asyncio.transport import Address, Source
from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.proxy import NextHop, Proxy, ProxyConfig, Send
from rfc3261.proxy.crossing import TransportCrossing
from rfc3261.tests.server_support import invite
from rfc3261.uri import SipURI

UDP = "127.0.0.1:5060"
TLS = "127.0.0.1:5061"
BOB = "sip:bob@example.com"


def crossing_proxy(**config) -> Proxy:
    proxy: Proxy
    crossing = TransportCrossing({"udp": UDP, "TLS": TLS}, lambda uri: proxy.is_own_uri(uri))
    proxy = Proxy(
        ProxyConfig(
            host="127.0.0.1",
            port=5060,
            domains=frozenset({"example.com"}),
            aliases=frozenset({UDP, TLS}),
            **config,
        ),
        SqliteLocationService(),
        extensions=[crossing],
    )
    return proxy


def bind(proxy: Proxy, contact: str) -> None:
    proxy.location.update(BOB, [Binding(BOB, contact, 1e9, "cid", 1)], [], 0.0)


def source(transport: str, port: int) -> Source:
    return Source(Address(transport, "127.0.0.1", port), None)


def forwarded(sends: list[Send]) -> tuple[Request, NextHop]:
    [send] = [s for s in sends if isinstance(s.message, Request)]
    assert isinstance(send.destination, NextHop)
    copy = parse(bytes(send.message))
    assert isinstance(copy, Request)
    return copy, send.destination


def record_routes(message: Request | Response) -> list[str]:
    return [str(r.uri) for r in message.record_route]


def in_dialog(method: str, uri: str, routes: list[str]) -> Request:
    request = invite(BOB, method=method, uri=uri, cseq=2)
    request.headers.set("Route", ", ".join(f"<{r}>" for r in routes))
    return request


##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Thus, if the transport protocol changed between
##% its incoming and outgoing sides, the proxy SHOULD use the double
##% Record-Route technique and SHOULD add a transport parameter to each
##% of the Record-Route URIs it inserts.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% In order to handle this situation, this document recommends that a
##% proxy SHOULD apply the double Record-Routing technique as soon as it
##% changes the transport protocol between its incoming and outgoing
##% sides.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% By extension, a proxy SHOULD also insert a Record-Route header for
##% any multi-homed situation (as the ones described in this document:
##% scheme changes, sigcomp, IPv4/IPv6, transport changes, etc.) that may
##% impact the processing of proxies being on the path of subsequent
##% requests.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Double Record-Routing is presented as the technique that SHOULD be
##% used, and is documented in Section 5.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Proxies SHOULD use
##% double Record-Routing for any multi-homed situation that MAY impact
##% the further processing, and they SHOULD put transport protocol
##% parameters on Record-Route URIs in some circumstances.
##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% The URI placed in the Record-Route header field value MUST be a
##% SIP or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% In a similar fashion, a proxy that receives a request over TLS, but
##% generates a request without a SIPS URI in the Request-URI or
##% topmost Route header field value (after the post processing of
##% bullet 6), MUST insert a Record-Route header field that is not a
##% SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy received the request over TLS, and sent it out over a
##% non-TLS connection, the proxy MUST rewrite the URI in the Record-Route
##% header field to be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% If the proxy received the request over Transport Layer Security
##% (TLS), and sent it out over a non-TLS connection, the proxy MUST
##% rewrite the URI in the Record-Route header field to be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% When TLS is used on the
##% transport on either side of the proxy, the URI placed in the Record-
##% Route header field MUST encode a next-hop that will be reached using
##% TLS.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Proxies compliant with this specification MUST
##% NOT use a "transport=tls" parameter on the URI placed in the Record-
##% Route because the "transport=tls" usage was deprecated by [RFC3261].
def test_tls_in_udp_out_records_one_uri_per_side() -> None:
    proxy = crossing_proxy()
    bind(proxy, "sip:bob@127.0.0.1:5070")
    copy, hop = forwarded(proxy.receive_request(invite(BOB), source("TLS", 40000), 0.0))
    assert (hop.transport, hop.port) == ("UDP", 5070)
    # Outgoing side first, then the incoming one (RFC 5658 §5): the UDP element gets a
    # SIP URI to come back by (§16.6 step 4), the TLS one a SIPS URI (§16.7 step 9).
    assert record_routes(copy) == [
        f"sip:{UDP};transport=udp;lr",
        f"sips:{TLS};transport=tcp;lr",
    ]
    # The 200 goes upstream with the same values: nothing is rewritten, and the caller's
    # route set (the reverse) starts with our SIPS side.
    answer = copy.make_response(200)
    answer.headers.set("Record-Route", ", ".join(f"<{r}>" for r in record_routes(copy)))
    upstream = proxy.receive_response(parse(bytes(answer)), "bob", 0.1)  # type: ignore[arg-type]
    [ok] = [s.message for s in upstream if isinstance(s.message, Response)]
    assert record_routes(ok)[::-1][0] == f"sips:{TLS};transport=tcp;lr"
    assert record_routes(ok) == record_routes(copy)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy received the request over a non-TLS connection, and sent
##% it out over TLS, the proxy MUST rewrite the URI in the Record-Route
##% header field to be a SIP URI.
def test_udp_in_tls_out_gives_the_upstream_a_sip_uri() -> None:
    proxy = crossing_proxy()
    bind(proxy, "sips:bob@127.0.0.1:5071")
    copy, hop = forwarded(proxy.receive_request(invite(BOB), source("UDP", 5080), 0.0))
    assert (hop.transport, hop.port) == ("TLS", 5071)
    downstream, upstream = copy.record_route
    assert isinstance(downstream.uri, SipURI) and isinstance(upstream.uri, SipURI)
    assert downstream.uri.is_secure  # the SIPS request's value (§16.6 step 4)
    assert str(upstream.uri) == f"sip:{UDP};transport=udp;lr"


def test_same_transport_keeps_a_single_record_route() -> None:
    proxy = crossing_proxy()
    bind(proxy, "sip:bob@127.0.0.1:5070")
    copy, _ = forwarded(proxy.receive_request(invite(BOB), source("UDP", 5080), 0.0))
    assert record_routes(copy) == ["sip:127.0.0.1:5060;lr"]
    # A source the adapter did not describe: no crossing known, nothing changed.
    copy, _ = forwarded(proxy.receive_request(invite(BOB), "alice-pc.example", 0.0))
    assert record_routes(copy) == ["sip:127.0.0.1:5060;lr"]


##= https://www.rfc-editor.org/rfc/rfc5658#section-5
##= type=test
##% So, this
##% means, in Section 16.4, "Route Information Preprocessing" [RFC3261],
##% implementors can choose that a proxy MAY remove two Route headers
##% instead of one when using the double Record-Routing.
def test_requests_coming_back_pop_both_values() -> None:
    proxy = crossing_proxy()
    udp_side, tls_side = f"sip:{UDP};transport=udp;lr", f"sips:{TLS};transport=tcp;lr"
    # The callee (UDP side) sends BYE to the caller, reached over TLS.
    bye = in_dialog("BYE", "sips:alice@127.0.0.1:40000", [udp_side, tls_side])
    copy, hop = forwarded(proxy.receive_request(bye, source("UDP", 5070), 0.0))
    assert copy.route == [] and (hop.transport, hop.port) == ("TLS", 40000)
    # The caller's BYE the other way, with a Route beyond us kept.
    bye = in_dialog("BYE", "sip:bob@127.0.0.1:5070", [tls_side, udp_side, "sip:p2.example;lr"])
    copy, hop = forwarded(proxy.receive_request(bye, source("TLS", 40000), 0.0))
    assert [str(r.uri) for r in copy.route] == ["sip:p2.example;lr"]
    assert hop.host == "p2.example"
    # The ACK for a 2xx (forwarded statelessly) takes the same route.
    ack = in_dialog("ACK", "sip:bob@127.0.0.1:5070", [tls_side, udp_side])
    copy, hop = forwarded(proxy.receive_request(ack, source("TLS", 40000), 0.0))
    assert copy.route == [] and (hop.transport, hop.port) == ("UDP", 5070)


def test_uri_per_side_keeps_the_parameters_of_our_value() -> None:
    crossing = TransportCrossing({"UDP": UDP, "TLS": TLS}, lambda uri: False)
    # relay.py's token (with --proxy-auth) must survive on both values.
    assert crossing._record_uri("UDP", None, False, ";rrt=abc") == (
        f"sip:{UDP};transport=udp;lr;rrt=abc"
    )
    # A SIPS request that came without TLS is given our TLS side to come back by.
    assert crossing._record_uri("UDP", None, True) == f"sips:{TLS};transport=tcp;lr"
    assert crossing._record_uri("WS", None, False) is None  # no such listening point


##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% By extension, a proxy SHOULD also insert a Record-Route header for
##% any multi-homed situation (as the ones described in this document:
##% scheme changes, sigcomp, IPv4/IPv6, transport changes, etc.) that may
##% impact the processing of proxies being on the path of subsequent
##% requests.
def test_ipv4_to_ipv6_on_one_transport_records_one_uri_per_family() -> None:
    proxy: Proxy
    crossing = TransportCrossing(
        {"UDP": UDP, "UDP/IPv4": UDP, "UDP/IPv6": "[::1]:5060"},
        lambda uri: proxy.is_own_uri(uri),
    )
    proxy = Proxy(
        ProxyConfig(
            host="127.0.0.1",
            domains=frozenset({"example.com"}),
            aliases=frozenset({UDP, "[::1]:5060"}),
        ),
        SqliteLocationService(),
        extensions=[crossing],
    )
    bind(proxy, "sip:bob@[::1]:5070")
    copy, hop = forwarded(proxy.receive_request(invite(BOB), source("UDP", 5080), 0.0))
    assert hop.host.strip("[]") == "::1"
    # RFC 5658 §5's example: the IPv6 side first, then the IPv4 one.
    assert record_routes(copy) == [
        "sip:[::1]:5060;transport=udp;lr",
        f"sip:{UDP};transport=udp;lr",
    ]
