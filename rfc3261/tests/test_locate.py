"""RFC 3263 §4 and §5 decisions (rfc3261.locate), answered from dicts: no DNS, no sockets."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from rfc3261.headers import Via
from rfc3261.locate import (
    MAX_HOST_LOOKUPS,
    MAX_SRV,
    Naptr,
    Query,
    Srv,
    Target,
    locate,
    locate_sent_by,
    run_with,
    srv_order,
)
from rfc3261.uri import parse_uri

ALL = {"UDP", "TCP", "TLS"}


def naptr(order: int, service: str, replacement: str, flags: str = "S") -> Naptr:
    return Naptr(order, 10, flags, service, "", replacement)


ZONE = {
    Query("example.test", "NAPTR"): [
        naptr(50, "SIPS+D2T", "_sips._tcp.example.test"),
        naptr(90, "SIP+D2T", "_sip._tcp.example.test"),
        naptr(100, "SIP+D2U", "_sip._udp.example.test"),
    ],
    Query("_sips._tcp.example.test", "SRV"): [Srv(0, 0, 5061, "tls.example.test")],
    Query("_sip._tcp.example.test", "SRV"): [Srv(0, 0, 5070, "tcp.example.test")],
    Query("_sip._udp.example.test", "SRV"): [Srv(0, 0, 5080, "udp.example.test")],
    Query("tls.example.test", "A"): ["127.0.0.3"],
    Query("tcp.example.test", "A"): ["127.0.0.2"],
    Query("tcp.example.test", "AAAA"): ["::1"],
    Query("udp.example.test", "A"): ["127.0.0.1"],
    Query("example.test", "A"): ["127.0.0.9"],
}


def resolve(uri: str, zone: dict[Query, list[object]] = ZONE, supported=ALL) -> list[Target]:  # type: ignore[no-untyped-def]
    return run_with(locate(parse_uri(uri), supported, random.Random(1)), zone)  # type: ignore[arg-type]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% We define TARGET as the value of the maddr parameter of the URI, if
##% present, otherwise, the host value of the hostport component of the
##% URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol is specified, but the TARGET is a
##% numeric IP address, the client SHOULD use UDP for a SIP URI, and TCP
##% for a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If TARGET is a numeric IP address, the client uses that address.  If
##% the URI also contains a port, it uses that port.  If no port is
##% specified, it uses the default port for the particular transport
##% protocol.
def test_numeric_targets_need_no_query() -> None:
    asked: list[Query] = []

    def answer(query: Query) -> list[object]:
        asked.append(query)
        return []

    assert run_with(locate(parse_uri("sip:bob@127.0.0.1"), ALL), answer) == [
        Target("UDP", "127.0.0.1", 5060)
    ]
    assert run_with(locate(parse_uri("sips:bob@[::1]:5071"), ALL), answer) == [
        Target("TLS", "::1", 5071)
    ]
    assert run_with(locate(parse_uri("sip:bob@example.test;maddr=127.0.0.5"), ALL), answer) == [
        Target("UDP", "127.0.0.5", 5060)
    ]
    assert asked == []


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If the URI specifies a transport protocol in the transport parameter,
##% that transport protocol SHOULD be used.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If it was not, because a transport was specified
##% explicitly, the client performs an SRV query for that specific
##% transport, using the service identifier "_sips" for SIPS URIs.
def test_transport_parameter_skips_naptr() -> None:
    assert resolve("sip:bob@example.test;transport=tcp") == [
        Target("TCP", "127.0.0.2", 5070),
        Target("TCP", "::1", 5070),
    ]
    assert resolve("sips:bob@example.test;transport=tcp") == [Target("TLS", "127.0.0.3", 5061)]
    with pytest.raises(ValueError, match="not supported"):
        resolve("sip:bob@example.test;transport=sctp")


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Similarly, if no transport protocol is specified,
##% and the TARGET is not numeric, but an explicit port is provided, the
##% client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If the TARGET was not a numeric IP address, but a port is present in
##% the URI, the client performs an A or AAAA record lookup of the domain
##% name.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% The result will be a list of IP addresses, each of which can
##% be contacted at the specific port from the URI and transport protocol
##% determined previously.
def test_explicit_port_uses_address_records() -> None:
    assert resolve("sip:bob@tcp.example.test:5099") == [
        Target("UDP", "127.0.0.2", 5099),
        Target("UDP", "::1", 5099),
    ]
    assert resolve("sips:bob@tcp.example.test:5099") == [
        Target("TLS", "127.0.0.2", 5099),
        Target("TLS", "::1", 5099),
    ]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol or port is specified, and the
##% target is not a numeric IP address, the client SHOULD perform a NAPTR
##% query for the domain in the URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% A client resolving a SIP URI SHOULD
##% retain records with "SIPS" as the protocol, if the client supports
##% TLS.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% The NAPTR
##% processing as described in RFC 2915 will result in the discovery of
##% the most preferred transport protocol of the server that is supported
##% by the client, as well as an SRV record for the server.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If the TARGET was not a numeric IP address, and no port was present
##% in the URI, the client performs an SRV query on the record returned
##% from the NAPTR processing of Section 4.1, if such processing was
##% performed.
def test_naptr_order_chooses_the_transport() -> None:
    # TLS preferred by the zone; TCP then UDP after it, as failover targets.
    assert resolve("sip:bob@example.test") == [
        Target("TLS", "127.0.0.3", 5061),
        Target("TCP", "127.0.0.2", 5070),
        Target("TCP", "::1", 5070),
        Target("UDP", "127.0.0.1", 5080),
    ]
    # Without TLS the SIPS record is skipped: TCP first.
    assert resolve("sip:bob@example.test", supported={"UDP", "TCP"})[0] == Target(
        "TCP", "127.0.0.2", 5070
    )


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% First, a client resolving a SIPS URI MUST discard any services that
##% do not contain "SIPS" as the protocol in the service field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% The local outbound proxy server at atlanta.com SHOULD therefore establish a TLS
##% connection with the remote proxy server at biloxi.com.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.3
##= type=test
##% When Carol wishes to send an INVITE to "bob@biloxi.com", her UA SHOULD initiate a
##% TLS connection with the biloxi proxy directly (using the mechanism described in [4]
##% to determine how to best to reach the given Request-URI).
def test_sips_uri_keeps_only_sips_services() -> None:
    assert resolve("sips:bob@example.test") == [Target("TLS", "127.0.0.3", 5061)]
    zone = dict(ZONE)
    zone[Query("example.test", "NAPTR")] = [naptr(10, "SIP+D2T", "_sip._tcp.example.test")]
    # Without a SIPS service the NAPTR records give nothing: SRV probing finds _sips.
    assert resolve("sips:bob@example.test", zone) == [Target("TLS", "127.0.0.3", 5061)]
    del zone[Query("_sips._tcp.example.test", "SRV")]
    # No SIPS service and no _sips SRV: the A records with TLS, never TCP.
    assert resolve("sips:bob@example.test", zone) == [Target("TLS", "127.0.0.9", 5061)]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Second, a client MUST discard any service fields that identify
##% a resolution service whose value is not "D2X", for values of X that
##% indicate transport protocols supported by the client.
def test_unsupported_and_unknown_services_are_discarded() -> None:
    zone = dict(ZONE)
    zone[Query("example.test", "NAPTR")] = [
        naptr(1, "SIP+D2S", "_sip._sctp.example.test"),
        naptr(2, "SIP+X2T", "_sip._tcp.example.test"),
        naptr(3, "E2U+sip", "_sip._tcp.example.test"),
        naptr(4, "SIP+D2U", "_sip._udp.example.test"),
    ]
    zone[Query("_sip._sctp.example.test", "SRV")] = [Srv(0, 0, 1, "tcp.example.test")]
    assert resolve("sip:bob@example.test", zone) == [Target("UDP", "127.0.0.1", 5080)]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If no NAPTR records are found, the client constructs SRV queries for
##% those transport protocols it supports, and does a query for each.
##% Queries are done using the service identifier "_sip" for SIP URIs and
##% "_sips" for SIPS URIs.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% A particular transport is supported if the
##% query is successful.  The client MAY use any transport protocol it
##% desires which is supported by the server.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If the NAPTR processing was not done because no NAPTR
##% records were found, but an SRV query for a supported transport
##% protocol was successful, those SRV records are selected.
def test_srv_probing_without_naptr() -> None:
    zone = {k: v for k, v in ZONE.items() if k.rdtype != "NAPTR"}
    del zone[Query("_sips._tcp.example.test", "SRV")]
    assert resolve("sip:bob@example.test", zone)[0] == Target("TCP", "127.0.0.2", 5070)
    del zone[Query("_sip._tcp.example.test", "SRV")]
    assert resolve("sip:bob@example.test", zone) == [Target("UDP", "127.0.0.1", 5080)]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If no SRV records are found, the client SHOULD use TCP for a SIPS
##% URI, and UDP for a SIP URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If no SRV records were found, the client performs an A or AAAA record
##% lookup of the domain name.  The result will be a list of IP
##% addresses, each of which can be contacted using the transport
##% protocol determined previously, at the default port for that
##% transport.
def test_no_srv_falls_back_to_address_records() -> None:
    zone = {Query("example.test", "A"): ["127.0.0.9"]}
    assert resolve("sip:bob@example.test", zone) == [Target("UDP", "127.0.0.9", 5060)]
    assert resolve("sips:bob@example.test", zone) == [Target("TLS", "127.0.0.9", 5061)]
    assert resolve("sip:bob@example.test;transport=tcp", zone) == [
        Target("TCP", "127.0.0.9", 5060)
    ]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% Irregardless
##% of how the SRV records were determined, the procedures of RFC 2782,
##% as described in the section titled "Usage rules" are followed,
##% augmented by the additional procedures of Section 4.3 of this
##% document.
def test_srv_priority_then_weight() -> None:
    records = [
        Srv(10, 0, 1, "backup.example.test"),
        Srv(0, 1, 2, "light.example.test"),
        Srv(0, 3, 3, "heavy.example.test"),
    ]
    firsts = Counter(srv_order(records, random.Random(seed))[0].target for seed in range(2000))
    # Priority 0 before 10, always; within priority 0, heavy more often: RFC 2782 draws
    # from 0..4, light takes 0 and 1, heavy 2, 3 and 4 (3:2).
    assert set(firsts) == {"light.example.test", "heavy.example.test"}
    assert 1.3 < firsts["heavy.example.test"] / firsts["light.example.test"] < 1.7
    assert all(srv_order(records, random.Random(s))[-1].port == 1 for s in range(50))
    # Weight 0 is chosen only rarely against weighted records, but still listed.
    zero = [Srv(0, 0, 1, "zero.example.test"), Srv(0, 100, 2, "w.example.test")]
    firsts = Counter(srv_order(zero, random.Random(s))[0].port for s in range(500))
    assert firsts[2] > 450
    assert len(srv_order(zero, random.Random(1))) == 2


def test_dot_target_means_no_service_and_self_reference_gives_nothing() -> None:
    zone = {
        Query("example.test", "NAPTR"): [naptr(1, "SIP+D2U", "_sip._udp.example.test")],
        Query("_sip._udp.example.test", "SRV"): [
            Srv(0, 0, 5060, "."),
            Srv(1, 0, 5060, "_sip._udp.example.test"),
        ],
    }
    # The self-referencing target has no address records: no target at all.
    assert resolve("sip:bob@example.test", zone) == []


def test_naptr_loops_and_chains_are_not_followed() -> None:
    asked: list[Query] = []
    zone = {
        Query("example.test", "NAPTR"): [
            naptr(1, "SIP+D2U", "example.test", flags=""),  # non-terminal: another NAPTR
            naptr(2, "SIP+D2U", "loop.example.test", flags="A"),
            naptr(3, "SIP+D2U", "_sip._udp.example.test"),
            naptr(4, "SIP+D2U", "_sip._udp.example.test"),  # duplicate: asked once
        ],
        Query("_sip._udp.example.test", "SRV"): [Srv(0, 0, 5080, "udp.example.test")],
        Query("udp.example.test", "A"): ["127.0.0.1"],
    }

    def answer(query: Query) -> list[object]:
        asked.append(query)
        return zone.get(query, [])  # type: ignore[return-value]

    targets = run_with(locate(parse_uri("sip:bob@example.test"), ALL), answer)
    assert targets == [Target("UDP", "127.0.0.1", 5080)]
    assert asked.count(Query("example.test", "NAPTR")) == 1
    assert asked.count(Query("_sip._udp.example.test", "SRV")) == 1


def test_ten_thousand_srv_records_cost_a_bounded_number_of_queries() -> None:
    records = [Srv(i % 7, i % 100, 5000 + i % 1000, f"h{i}.example.test") for i in range(10_000)]
    zone = {
        Query("example.test", "NAPTR"): [naptr(1, "SIP+D2U", "_sip._udp.example.test")],
        Query("_sip._udp.example.test", "SRV"): records,
    }
    asked: list[Query] = []

    def answer(query: Query) -> list[object]:
        asked.append(query)
        if query.rdtype == "A":
            return ["127.0.0.1"]
        return zone.get(query, [])  # type: ignore[return-value]

    targets = run_with(locate(parse_uri("sip:bob@example.test"), ALL, random.Random(3)), answer)
    assert 0 < len(targets) <= MAX_HOST_LOOKUPS
    assert len(asked) <= 2 + 2 * MAX_HOST_LOOKUPS
    assert len(srv_order(records, random.Random(1))) == MAX_SRV


##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If it contains a numeric IP
##% address, the server attempts to send the response to that address,
##% using the transport protocol from the Via header, and the port from
##% sent-by, if present, else the default for that transport protocol.
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% When this value is present, the server MUST
##% use TLS over TCP to send the response.
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If, however, the sent-by field contained a domain name and a port
##% number, the server queries for A or AAAA records with that name.
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If, however, the sent-by field contained a domain name and no port,
##% the server queries for SRV records at that domain name using the
##% service identifier "_sips" if the Via transport is "TLS", "_sip"
##% otherwise, and the transport from the topmost Via header ("TLS"
##% implies that the transport protocol in the SRV query is TCP).
def test_sent_by_for_responses() -> None:
    assert run_with(locate_sent_by(_via("SIP/2.0/TLS 127.0.0.4")), {}) == [
        Target("TLS", "127.0.0.4", 5061)
    ]
    assert run_with(locate_sent_by(_via("SIP/2.0/TCP tcp.example.test:5099")), ZONE) == [
        Target("TCP", "127.0.0.2", 5099),
        Target("TCP", "::1", 5099),
    ]
    assert run_with(locate_sent_by(_via("SIP/2.0/TLS example.test")), ZONE) == [
        Target("TLS", "127.0.0.3", 5061)
    ]
    assert run_with(locate_sent_by(_via("SIP/2.0/UDP example.test")), ZONE) == [
        Target("UDP", "127.0.0.1", 5080)
    ]


def _via(text: str) -> Via:
    from rfc3261.message import parse

    request = parse(
        f"OPTIONS sip:a@b SIP/2.0\r\nVia: {text};branch=z9hG4bKx\r\nCall-ID: c\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n".encode()
    )
    return request.top_via  # type: ignore[union-attr]


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% Failure also occurs if the transaction layer times out without ever
##% having received any response, provisional or final (i.e., timer B or
##% timer F in RFC 3261 [1] fires).
def test_failover_decides_what_a_failure_is() -> None:
    from rfc3261.extension import ClientRequest
    from rfc3261.locate import ServerFailover
    from rfc3261.message import Response
    from rfc3261.tests.transport_support import build_request

    asked: list[str] = []

    def next_target(request: object) -> bool:
        asked.append("asked")
        return True

    failover = ServerFailover(next_target)
    request = build_request("INVITE", "sip:bob@example.test")
    request.headers.prepend("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-f1")
    client = ClientRequest(request, "sip:bob@example.test")

    def response(status: int) -> Response:
        return request.make_response(status)

    retry = failover.retry(client, response(503), 0.0)
    assert retry is not None and retry.method == "INVITE" and retry is not request
    assert failover.retry(client, response(408), 0.0) is not None  # a timeout, no answer
    assert failover.retry(client, response(486), 0.0) is None
    client.provisional = True  # a 408 after a provisional is not a server failure
    assert failover.retry(client, response(408), 0.0) is None
    assert len(asked) == 2
    failover.next_target = lambda request: False  # no server left: the 503 stands
    assert failover.retry(client, response(503), 0.0) is None


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% If a failure occurs, the client
##% SHOULD create a new request, which is identical to the previous, but
##% has a different value of the Via branch ID than the previous (and
##% therefore constitutes a new SIP transaction).
def test_the_request_to_the_next_server_keeps_its_cseq() -> None:
    """After a 503 the UA core sends the same request again (the host has a next server):
    only the Via branch differs, the CSeq stays (not §8.1.3.5's next number)."""
    from rfc3261.locate import ServerFailover
    from rfc3261.message import Request, Response
    from rfc3261.tests.ua_support import Network, make_ua

    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    alice.ua.use(ServerFailover(lambda request: True))
    asked: list[Request] = []

    def busy_then_ok(request: Request) -> list[Response]:
        asked.append(request)
        return [request.make_response(503 if len(asked) == 1 else 200, to_tag="t")]

    net.add_script("busy.example.com", busy_then_ok)
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@busy.example.com", 0.0)
    net.call(alice, effects)
    net.run(2.0)
    first, second = asked
    assert second.top_via.branch != first.top_via.branch
    assert second.cseq == first.cseq
    assert second.call_id == first.call_id


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% Independent of which URI is used as input to the procedures of [4],
##% if the Request-URI specifies a SIPS resource, the UAC MUST follow
##% the procedures of [4] as if the input URI were a SIPS URI.
def test_a_sips_request_uri_makes_the_route_resolved_as_sips() -> None:
    from rfc3261.tests.transport_support import build_request
    from rfc3261.uac import UacBehaviour

    request = build_request("OPTIONS", "sips:bob@example.test")
    request.headers.add("Route", "<sip:proxy.example.test;lr>")
    destination = UacBehaviour.destination_for(request)
    assert str(destination) == "sips:proxy.example.test;lr"
    assert str(request.route[0].uri) == "sip:proxy.example.test;lr"  # the Route is unchanged
    plain = build_request("OPTIONS", "sip:bob@example.test")
    plain.headers.add("Route", "<sip:proxy.example.test;lr>")
    assert str(UacBehaviour.destination_for(plain)) == "sip:proxy.example.test;lr"
