"""Proxy validation and routing (RFC 3261 §16.3-§16.6, RFC 5393), and proxy authentication."""

from __future__ import annotations

from rfc3261.auth_headers import Challenge
from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials
from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, parse
from rfc3261.proxy import NextHop, Proxy, ProxyConfig
from rfc3261.tests.server_support import UA, Net, ProxyElement, invite, register
from rfc3261.tests.test_digest_server import answer

P1 = "p1.atlanta.example"
P2 = "p2.biloxi.example"


def proxy_at(net: Net, host: str, domain: str, **config) -> Proxy:
    proxy = Proxy(
        ProxyConfig(host=host, domains=frozenset({domain}), **config),
        SqliteLocationService(),
        authenticator=config.pop("authenticator", None) if "authenticator" in config else None,
    )
    net.add(ProxyElement(host, proxy), domain)
    return proxy


def bind(proxy: Proxy, aor: str, contact: str) -> None:
    proxy.location.update(aor, [Binding(aor, contact, 1e9, "cid", 1)], [], 0.0)


def responses_to(ua: UA, method: str = "INVITE") -> list[int]:
    return [s for s in ua.statuses(method) if s >= 200]


# -- Record-Route and loose routing through two proxies -------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If this proxy wishes to remain on the path of future requests in a
##% dialog created by this request (assuming the request creates a
##% dialog), it MUST insert a Record-Route header field value into the
##% copy before any existing Record-Route header field values, even if
##% a Route header field is already present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI placed in the Record-Route header field value MUST be a SIP
##% or SIPS URI.  This URI MUST contain an lr parameter (see Section
##% 19.1.1).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the first value in the Route header field indicates this proxy,
##% the proxy MUST remove that value from the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Otherwise, the proxy
##% MUST apply the procedures to the first value in the Route header
##% field, if present, else the Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the domain of the Request-URI indicates a domain this element is not
##% responsible for, the Request-URI MUST be placed into the target set as the
##% only target, and the element MUST proceed to the task of Request Forwarding
##% (Section 16.6).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% A proxy MUST NOT add additional targets to the target set if the Request-URI
##% of the original request does not indicate a resource this proxy is
##% responsible for.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy contains a Route header field, the proxy MUST inspect the URI in
##% its first value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI placed in the Record-Route header field MUST resolve to the element
##% inserting it (or a suitable stand-in) when the server location procedures of
##% [4] are applied to it, so that subsequent requests reach the same SIP
##% element.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has
##% knowledge (such as in a private network) that the next downstream element
##% that will be in the path of subsequent requests supports that transport.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% A proxy MUST NOT decrement Max-Breadth for each hop or otherwise use it to
##% restrict the "depth" of a request's propagation.
def test_record_route_and_loose_routing_through_two_proxies() -> None:
    net = Net()
    proxy_at(net, P1, "atlanta.example", local_route=())
    p2 = proxy_at(net, P2, "biloxi.example")
    alice = UA("alice-pc.example")
    bob = UA("bob-pc.example", {"INVITE": [(0, 180), (0.5, 200)], "BYE": [(0, 200)]})
    net.add(alice)
    net.add(bob)
    bind(p2, "sip:bob@biloxi.example", "sip:bob@bob-pc.example")
    request = invite("sip:bob@biloxi.example", from_="sip:alice@atlanta.example")
    # Alice's outbound proxy is P1: a Route to it, Request-URI unchanged.
    request.headers.add("Route", f"<sip:{P1};lr>")
    net.post(alice.host, alice.send(request, P1, 0.0))
    net.run(5.0)
    [received] = [r for r in bob.requests if r.method == "INVITE"]
    assert received.route == []  # P1 removed its own Route value
    assert [str(r.uri) for r in received.record_route] == [
        f"sip:{P2}:5060;lr",
        f"sip:{P1}:5060;lr",
    ]
    assert [v.host for v in received.via] == [P2, P1, "alice-pc.example"]
    assert responses_to(alice) == [200]
    # Alice's ACK used the route set (P1, P2) and reached Bob's Contact through both.
    acks = [t for t, s, d, line in net.wire if line.startswith("ACK")]
    assert [(s, d) for t, s, d, line in net.wire if line.startswith("ACK")] == [
        ("alice-pc.example", P1),
        (P1, P2),
        (P2, "bob-pc.example"),
    ]
    assert len(acks) == 3
    ack = next(r for r in bob.requests if r.method == "ACK")
    assert str(ack.uri) == "sip:ua@bob-pc.example" and ack.route == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If that URI does not
##% contain an lr parameter, the proxy MUST modify the copy as
##% follows:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST place the Request-URI into the Route header
##% field as the last value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST then place the first Route header field value
##% into the Request-URI and remove that value from the Route
##% header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the
##% Request-URI of the request contains a value this proxy previously
##% placed into a Record-Route header field (see Section 16.6 item 4),
##% the proxy MUST replace the Request-URI in the request with the last
##% value from the Route header field, and remove that value from the
##% Route header field.  The proxy MUST then proceed as if it received
##% this modified request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the proxy has reformatted the request to send to a strict-routing element
##% as described in step 6 above, the proxy MUST apply those procedures to the
##% Request-URI of the request.
def test_strict_router_next_hop_and_strict_router_upstream() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset({"atlanta.example"})), SqliteLocationService()
    )
    # Downstream strict router: the copy is reformatted and sent to it.
    request = invite(
        "sip:bob@biloxi.example",
        extra=(("Route", "<sip:strict.example>"), ("Route", "<sip:next.example;lr>")),
    )
    sends = proxy.receive_request(request, "alice", 0.0)
    forwarded = next(s for s in sends if isinstance(s.destination, NextHop))
    copy = forwarded.message
    assert isinstance(copy, Request)
    assert str(copy.uri) == "sip:strict.example"
    assert [str(r.uri) for r in copy.route] == ["sip:next.example;lr", "sip:bob@biloxi.example"]
    assert forwarded.destination == NextHop("UDP", "strict.example", None)
    # Upstream strict router put our Record-Route URI in the Request-URI.
    request = invite(
        "sip:bob@biloxi.example",
        uri=f"sip:{P1}:5060;lr",
        extra=(("Route", "<sip:bob@bob-pc.example>"),),
    )
    sends = proxy.receive_request(request, "strict", 1.0)
    forwarded = next(s for s in sends if isinstance(s.destination, NextHop))
    assert str(forwarded.message.uri) == "sip:bob@bob-pc.example"  # type: ignore[attr-defined]
    assert forwarded.message.route == []
    assert forwarded.destination.host == "bob-pc.example"


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% This set MUST be pushed into the Route header field
##% of the copy ahead of any existing values, if present.  If the
##% Route header field is absent, it MUST be added, containing that
##% list of URIs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the
##% Request-URI contains a SIPS URI, or the topmost Route header
##% field value (after the post processing of bullet 6) contains a
##% SIPS URI, the URI placed into the Record-Route header field MUST
##% be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A proxy MAY have a local policy that mandates that a request visit a
##% specific set of proxies before being delivered to the destination.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A proxy MUST ensure that all such proxies are loose routers.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Independently of which URI is being used as input to the procedures of [4],
##% if the Request-URI specifies a SIPS resource, the proxy MUST follow the
##% procedures of [4] as if the input URI were a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A proxy MAY insert a Record-Route header field value into any request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Furthermore, if the request was not received over TLS, the proxy MUST insert
##% a Record-Route header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% Before they forward the request, both proxy servers SHOULD add a Record-Route header
##% field to the request so that all future requests in this dialog will pass through
##% the proxy servers.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% When the local outbound proxy server has validated the credentials presented by the
##% UA in the INVITE, it SHOULD inspect the Request-URI to determine how the message
##% should be routed (see [4]).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% However, this mechanism for sending the request through a specific next hop is NOT
##% RECOMMENDED; instead a Route header field should be used for that purpose as
##% described above.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge
##% that the next upstream (as opposed to downstream) element that will be in the path
##% of subsequent requests supports that transport.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the Route header field is absent, it MUST be added, containing that list of
##% URIs.
def test_local_route_pushed_and_sips_record_route() -> None:
    proxy = Proxy(
        ProxyConfig(
            host=P1,
            domains=frozenset(),
            local_route=("sip:edge.example;lr",),
            record_route=False,  # a SIPS request is record-routed anyway
        ),
        SqliteLocationService(),
    )
    sends = proxy.receive_request(invite("sips:bob@biloxi.example"), "alice", 0.0)
    forwarded = next(s for s in sends if isinstance(s.destination, NextHop))
    copy = forwarded.message
    assert [str(r.uri) for r in copy.route] == ["sip:edge.example;lr"]
    assert copy.headers.get("Record-Route") == f"<sips:{P1}:5060;lr>"
    assert forwarded.destination == NextHop("TLS", "edge.example", None)
    assert copy.top_via.transport == "TLS"


# -- validation (§16.3) ----------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the request contains a Max-Forwards header field with a field value
##% of zero (0), the element MUST NOT forward the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Otherwise, the element MUST return a 483 (Too many hops) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy does not contain a Max-Forwards header field, the
##% proxy MUST add one with a field value, which SHOULD be 70.
def test_max_forwards_exhaustion_483_across_two_proxies() -> None:
    net = Net()
    proxy_at(net, P1, "atlanta.example")
    p2 = proxy_at(net, P2, "biloxi.example")
    bob = UA("bob-pc.example")
    alice = UA("alice-pc.example")
    net.add(bob)
    net.add(alice)
    bind(p2, "sip:bob@biloxi.example", "sip:bob@bob-pc.example")
    net.post(alice.host, alice.send(invite("sip:bob@biloxi.example", max_forwards=1), P1, 0))
    net.run(5.0)
    assert responses_to(alice) == [483]
    assert bob.requests == []
    assert "SIP/2.0 483 Too Many Hops" in net.lines(P2, P1)
    # Without Max-Forwards, 70 is added.
    request = invite("sip:bob@biloxi.example")
    request.headers.remove("Max-Forwards")
    net.post(alice.host, alice.send(request, P1, net.now))
    net.run(10.0)
    assert bob.requests[0].max_forwards == 69  # 70 added by P1, decremented by P2


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the Request-URI has a URI whose scheme is not understood by the
##% proxy, the proxy SHOULD reject the request with a 416 (Unsupported URI
##% Scheme) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the request contains a Proxy-Require header field (Section 20.29)
##% with one or more option-tags this element does not understand, the
##% element MUST return a 420 (Bad Extension) response.  The response
##% MUST include an Unsupported (Section 20.40) header field listing those
##% option-tags the element did not understand.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If any of these checks fail, the element MUST behave as a user agent
##% server (see Section 8.2) and respond with an error code.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% The request MUST be well-formed enough to be handled with a server
##% transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Any components involved in the remainder of these Request Validation steps
##% or the Request Forwarding section MUST be well-formed.
def test_validation_416_420_400() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset(), supported=frozenset({"sec-agree"})),
        SqliteLocationService(),
    )

    def final_of(request: Request):
        sends = proxy.receive_request(request, "alice", 0.0)
        return [s.message for s in sends if getattr(s.message, "status", 0) >= 200]

    [r416] = final_of(invite("sip:bob@biloxi.example", uri="tel:+15551234"))
    assert r416.status == 416
    [r420] = final_of(
        invite("sip:bob@biloxi.example", extra=(("Proxy-Require", "sec-agree, foo, bar"),))
    )
    assert r420.status == 420 and r420.headers.get("Unsupported") == "foo, bar"
    assert r420.to.tag is not None
    [r400] = final_of(invite("sip:bob@biloxi.example", extra=(("Route", "<<bad"),)))
    assert r400.status == 400


# -- spirals and loops (RFC 5393) ------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% If these values are equal, the request has looped and the
##% proxy MUST reject the request with a 482 (Loop Detected) response.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% Hence, the second part MUST depend at least on the received
##% Request-URI and any Route header field values used when processing
##% the received request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If a loop is detected, the element MAY return a 482 (Loop
##% Detected) response.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% Proxies required to perform loop detection by RFC 5393 MUST perform the
##% following loop-detection test before forwarding a request.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% If the second field is present, the proxy MUST perform the second-part
##% calculation described in Section 4.2.1 of RFC 5393 on this request and
##% compare the result to the value from the Via header field.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
##= type=test
##% It is RECOMMENDED that proxies meet this requirement by performing the loop-
##% detection steps defined in this document.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% An element MAY check for forwarding loops before forwarding a request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If a proxy wishes to detect loops, the "branch" parameter it supplies MUST
##% depend on all information affecting processing of a request, including the
##% incoming Request-URI and any header fields affecting the request's admission
##% or routing.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
##= type=test
##% A SIP proxy forwarding a request to only one location MAY perform loop
##% detection but is not required to.
def test_loop_between_two_proxies_482() -> None:
    net = Net()
    p1 = proxy_at(net, P1, "atlanta.example")
    p2 = proxy_at(net, P2, "biloxi.example")
    alice = UA("alice-pc.example")
    net.add(alice)
    # Misconfigured: each domain forwards bob to the other.
    bind(p2, "sip:bob@biloxi.example", "sip:bob@atlanta.example")
    bind(p1, "sip:bob@atlanta.example", "sip:bob@biloxi.example")
    net.post(alice.host, alice.send(invite("sip:bob@biloxi.example"), P1, 0))
    net.run(10.0)
    assert responses_to(alice) == [482]
    invites = [(s, d) for t, s, d, line in net.wire if line.startswith("INVITE")]
    # alice->P1->P2->P1->P2 (looped: P2 sees its own Via with the same second part).
    assert invites == [
        ("alice-pc.example", P1),
        (P1, "biloxi.example"),
        (P2, "atlanta.example"),
        (P1, "biloxi.example"),
    ]


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% Each Via
##% header field value in the request whose sent-by value matches a value
##% placed into previous requests by this proxy MUST be inspected for the
##% "second part" defined in Section 4.2.1 of RFC 5393.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% This second part MUST vary with any field used by the location
##% service logic in determining where to retarget or forward this
##% request.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% Such proxies SHOULD create a branch value separable into two parts in any
##% implementation-dependent way.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% The first part of the branch value MUST satisfy the constraints of Section
##% 8.1.1.7.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A proxy choosing to detect loops SHOULD create a branch parameter separable
##% into two parts by the implementation.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The first part MUST satisfy the constraints of Section 8.1.1.7 as described
##% above.
def test_spiral_is_not_a_loop() -> None:
    net = Net()
    p1 = proxy_at(net, P1, "atlanta.example")
    alice = UA("alice-pc.example")
    carol = UA("carol-pc.example")
    net.add(alice)
    net.add(carol)
    # The AOR is retargeted to another AOR of the same domain: the request comes back.
    bind(p1, "sip:sales@atlanta.example", "sip:carol@atlanta.example")
    bind(p1, "sip:carol@atlanta.example", "sip:carol@carol-pc.example")
    net.post(alice.host, alice.send(invite("sip:sales@atlanta.example"), P1, 0))
    net.run(5.0)
    assert responses_to(alice) == [200]
    [received] = [r for r in carol.requests if r.method == "INVITE"]
    assert [v.host for v in received.via] == [P1, P1, "alice-pc.example"]
    assert received.via[0].branch.split(".")[1] != received.via[1].branch.split(".")[1]


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% This second part MUST NOT vary with the request method.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The request method MUST NOT be included in the calculation of
##% the branch parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The value placed in this part of the branch parameter SHOULD reflect all of
##% those fields (including any Route, Proxy-Require and Proxy-Authorization
##% header fields).
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.4
##= type=test
##% When forming the second part using a hash, implementations SHOULD include at
##% least one field in the input to the hash that varies between different
##% transactions attempting to reach the same destination to avoid repeated
##% failure should the hash collide.
def test_loop_part_ignores_method_and_max_forwards() -> None:
    proxy = Proxy(ProxyConfig(host=P1), SqliteLocationService(), registrar=False)
    a = invite("sip:bob@biloxi.example", call_id="same", max_forwards=70)
    b = Request("OPTIONS", a.uri, a.headers.copy())
    b.headers.set("Max-Forwards", 12)
    b.headers.set("CSeq", "1 OPTIONS")
    assert proxy.loop_part(a) == proxy.loop_part(b)
    c = Request("INVITE", "sip:carol@biloxi.example", a.headers.copy())
    assert proxy.loop_part(a) != proxy.loop_part(c)


# -- Max-Breadth (RFC 5393 §5) -----------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% SIP proxies MUST NOT allow the Outgoing Max-Breadth to exceed the
##% Incoming Max-Breadth in a given response context.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% All proxied requests MUST contain a single Max-Breadth header field
##% value.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3.1
##= type=test
##% Proxies SHOULD be prepared to reuse this Max-Breadth in cases where
##% there may be elements left in the target-set.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% Proxies MUST have a maximum allowable Incoming Max-Breadth value, which is
##% RECOMMENDED to be 60.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If this maximum is exceeded in a received request, the proxy MUST overwrite
##% it with a value that SHOULD be no greater than its allowable maximum.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If a SIP proxy determines a response context has insufficient Incoming Max-
##% Breadth to carry out a desired parallel fork, and the proxy is
##% unwilling/unable to compensate by forking serially or sending a redirect,
##% that proxy MUST return a 440 (Max-Breadth Exceeded) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MAY add any other appropriate header fields to the copy at this
##% point.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% A proxy SHOULD NOT use a smaller amount of Max-Breadth than was present in
##% the original request unless the Incoming Max-Breadth exceeded the proxy's
##% maximum acceptable value.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% A SIP proxy MAY distribute Max-Breadth in an arbitrary fashion between
##% active branches.
def test_max_breadth_limits_concurrent_branches() -> None:
    net = Net()
    p1 = proxy_at(net, P1, "atlanta.example")
    alice = UA("alice-pc.example")
    net.add(alice)
    hosts = [f"t{i}.example" for i in range(3)]
    for host in hosts:
        net.add(UA(host, {"INVITE": [(1.0, 486)]}))
    p1.location.update(
        "sip:bob@atlanta.example",
        [Binding("sip:bob@atlanta.example", f"sip:bob@{h}", 1e9, "c", 1) for h in hosts],
        [],
        0.0,
    )
    request = invite("sip:bob@atlanta.example", extra=(("Max-Breadth", "2"),))
    net.post(alice.host, alice.send(request, P1, 0))
    net.run(0.5)
    assert len([1 for t, s, d, line in net.wire if line.startswith("INVITE") and s == P1]) == 2
    net.run(5.0)
    sent = [(t, d) for t, s, d, line in net.wire if line.startswith("INVITE") and s == P1]
    assert [d for _, d in sent] == hosts and sent[2][0] > 1.0
    assert responses_to(alice) == [486]
    # One target gets the whole Incoming Max-Breadth; over the maximum: 60.
    single = UA("single.example")
    net.add(single)
    p1.location.update(
        "sip:carol@atlanta.example",
        [Binding("sip:carol@atlanta.example", "sip:carol@single.example", 1e9, "c", 1)],
        [],
        0.0,
    )
    request = invite("sip:carol@atlanta.example", extra=(("Max-Breadth", "7"),))
    net.post(alice.host, alice.send(request, P1, net.now))
    net.run(10.0)
    assert single.requests[0].headers.get("Max-Breadth") == "7"
    proxy = Proxy(ProxyConfig(host=P1), SqliteLocationService(), registrar=False)
    assert proxy.incoming_max_breadth(invite(extra=(("Max-Breadth", "1000"),))) == 60
    assert proxy.incoming_max_breadth(invite()) == 60


# -- proxy authentication (§22.3) ------------------------------------------------------


def authenticating_proxy(**kwargs) -> tuple[Net, Proxy, UA, UA]:
    net = Net()
    creds = MemoryCredentials.from_passwords({"bob": "zanzibar"}, "biloxi.example.com")
    auth = DigestAuthenticator("biloxi.example.com", creds, proxy=True, secret=b"x" * 32, **kwargs)
    proxy = Proxy(
        ProxyConfig(host=P2, domains=frozenset({"biloxi.example.com"})),
        SqliteLocationService(),
        authenticator=auth,
    )
    net.add(ProxyElement(P2, proxy), "biloxi.example.com")
    caller = UA("bob-pc.example")
    callee = UA("carol-pc.example")
    net.add(caller)
    net.add(callee)
    bind(proxy, "sip:carol@biloxi.example.com", "sip:carol@carol-pc.example")
    return net, proxy, caller, callee


def request_from_bob(cseq: int) -> Request:
    return invite(
        "sip:carol@biloxi.example.com",
        from_="sip:bob@biloxi.example.com",
        via_host="bob-pc.example",
        call_id="auth-call",
        cseq=cseq,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If an element requires credentials before forwarding a request,
##% the request MUST be inspected as described in Section 22.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% but proxies MUST NOT
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Servers MUST NOT attempt to challenge an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Similarly, when a UAC sends a request to a proxy server, the proxy
##% server MAY authenticate the originator before the request is
##% processed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% and instead MAY use the 407 (Proxy Authentication Required) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% All 407 (Proxy Authentication Required) responses MUST be forwarded upstream
##% toward the UAC following the procedures for any other response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The proxy MUST populate the 407 (Proxy Authentication Required) message with
##% a Proxy-Authenticate header field value applicable to the proxy for the
##% requested resource.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Proxies MUST NOT add values to the Proxy-Authorization header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% For this reason, any credentials in the INVITE that were accepted by a
##% server MUST be accepted by that server for the ACK.
def test_proxy_407_then_authenticated_request_forwarded_replay_refused() -> None:
    net, _proxy, bob, carol = authenticating_proxy()
    net.post(bob.host, bob.send(request_from_bob(1), P2, 0))
    net.run(1.0)
    [challenged] = [r for r in bob.responses if r.status >= 200]
    assert challenged.status == 407 and "WWW-Authenticate" not in challenged.headers
    challenge = Challenge.parse(challenged.headers.get_all("Proxy-Authenticate")[0])
    assert carol.requests == []
    retry = answer(challenge, request_from_bob(2), header="Proxy-Authorization")
    net.post(bob.host, bob.send(retry, P2, net.now))
    net.run(3.0)
    assert [r.method for r in carol.requests] == ["INVITE", "ACK"]
    # Forwarded with the UAC's credentials untouched, none added.
    assert carol.requests[0].headers.get_all("Proxy-Authorization") == [
        retry.headers.get("Proxy-Authorization")
    ]
    # Replay of the same credentials (same nonce count) in a new transaction: 407.
    replay = request_from_bob(3)
    replay.headers.set("Proxy-Authorization", retry.headers.get("Proxy-Authorization"))
    net.post(bob.host, bob.send(replay, P2, net.now))
    net.run(5.0)
    assert responses_to(bob) == [407, 200, 407]
    assert len([r for r in carol.requests if r.method == "INVITE"]) == 1


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% The server SHOULD only set stale to true if it receives a request for
##% which the nonce is invalid.
def test_proxy_stale_nonce_gets_stale_challenge() -> None:
    net, _proxy, bob, carol = authenticating_proxy(nonce_lifetime=10.0)
    net.post(bob.host, bob.send(request_from_bob(1), P2, 0))
    net.run(1.0)
    challenge = Challenge.parse(bob.responses[-1].headers.get_all("Proxy-Authenticate")[0])
    net.run(60.0)
    late = answer(challenge, request_from_bob(2), header="Proxy-Authorization")
    net.post(bob.host, bob.send(late, P2, net.now))
    net.run(61.0)
    last = bob.responses[-1]
    assert last.status == 407
    assert all(Challenge.parse(v).stale for v in last.headers.get_all("Proxy-Authenticate"))
    assert carol.requests == []


def test_register_through_proxy_uses_registrar_401_not_407() -> None:
    net, proxy, bob, _carol = authenticating_proxy()
    registrar_auth = DigestAuthenticator(
        "biloxi.example.com",
        MemoryCredentials.from_passwords({"bob": "zanzibar"}, "biloxi.example.com"),
    )
    assert proxy.registrar is not None
    proxy.registrar.authenticator = registrar_auth
    reg = register("sip:bob@biloxi.example.com", contacts=("<sip:bob@bob-pc.example>",))
    net.post(bob.host, bob.send(reg, P2, 0.0))
    net.run(1.0)
    assert bob.statuses("REGISTER") == [401]


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If not, and if the server also acts as a proxy server, the
##% server SHOULD forward the request to the addressed domain,
##% following the general behavior for proxying messages described
##% in Section 16.
def test_register_for_other_domain_is_forwarded_and_flood_is_bounded() -> None:
    net = Net()
    p1 = proxy_at(net, P1, "atlanta.example")
    p2 = proxy_at(net, P2, "biloxi.example")
    ua = UA("bob-pc.example")
    net.add(ua)
    reg = register("sip:bob@biloxi.example", contacts=("<sip:bob@bob-pc.example>",))
    net.post(ua.host, ua.send(reg, P1, 0.0))
    net.run(1.0)
    assert ua.statuses("REGISTER") == [200]
    assert p1.location.count(1.0) == 0 and p2.location.count(1.0) == 1
    # A flood of REGISTERs with new Call-IDs for new contacts stays bounded (403).
    assert p2.registrar is not None
    p2.registrar.config.max_bindings_per_aor = 5
    for i in range(50):
        flood = register(
            "sip:bob@biloxi.example",
            contacts=(f"<sip:bob@198.51.100.{i}>",),
            call_id=f"flood{i}",
            uri="sip:biloxi.example",
        )
        net.post(ua.host, ua.send(flood, P2, net.now))
    net.run(5.0)
    assert p2.location.count(5.0) == 5
    assert ua.statuses("REGISTER").count(403) == 46


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the Request-URI contains a maddr parameter, the proxy MUST check to see
##% if its value is in the set of addresses or domains the proxy is configured
##% to be responsible for.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the Request-URI has a maddr parameter with a value the proxy is
##% responsible for, and the request was received using the port and transport
##% indicated (explicitly or by default) in the Request-URI, the proxy MUST
##% strip the maddr and any non-default port or transport parameter and continue
##% processing as if those values had not been present in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the Request-URI of the request contains an maddr parameter, the Request-
##% URI MUST be placed into the target set as the only target URI, and the proxy
##% MUST proceed to Section 16.6.
def test_maddr_of_ours_stripped_foreign_maddr_is_the_target() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset({"atlanta.example"})), SqliteLocationService()
    )
    bind(proxy, "sip:bob@atlanta.example", "sip:bob@bob-pc.example")
    ours = invite("sip:bob@atlanta.example", uri=f"sip:bob@atlanta.example;maddr={P1}")
    sends = proxy.receive_request(ours, "alice", 0.0)
    [forwarded] = [s for s in sends if isinstance(s.destination, NextHop)]
    assert str(forwarded.message.uri) == "sip:bob@bob-pc.example"  # type: ignore[attr-defined]
    foreign = invite("sip:bob@atlanta.example", uri="sip:bob@atlanta.example;maddr=192.0.2.99")
    sends = proxy.receive_request(foreign, "alice", 1.0)
    [forwarded] = [s for s in sends if isinstance(s.destination, NextHop)]
    assert str(forwarded.message.uri) == "sip:bob@atlanta.example;maddr=192.0.2.99"  # type: ignore[attr-defined]
    assert forwarded.destination == NextHop("UDP", "192.0.2.99", None)


def test_maddr_of_ours_with_our_non_default_port_stripped() -> None:
    """maddr names our address and the Request-URI our port (the one the request came in
    on): both are stripped and the AOR looked up (found by the conformance case
    proxy-maddr-self-stripped)."""
    proxy = Proxy(
        ProxyConfig(host=P1, port=5070, domains=frozenset({"atlanta.example"})),
        SqliteLocationService(),
    )
    bind(proxy, "sip:bob@atlanta.example", "sip:bob@bob-pc.example")
    ours = invite("sip:bob@atlanta.example", uri=f"sip:bob@atlanta.example:5070;maddr={P1}")
    sends = proxy.receive_request(ours, "alice", 0.0)
    [forwarded] = [s for s in sends if isinstance(s.destination, NextHop)]
    assert str(forwarded.message.uri) == "sip:bob@bob-pc.example"  # type: ignore[attr-defined]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the URI contains any parameters not allowed in a Request-URI, they MUST
##% be removed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the request will be sent to the next hop using a stream-based transport
##% and the copy contains no Content-Length header field, the proxy MUST insert
##% one with the correct value for the body of the request (see Section 20.14).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% Requests forwarded between different types of transports where the proxy's
##% TU must take an active role in ensuring reliable delivery on one of the
##% transports MUST be forwarded transaction statefully.
def test_request_uri_params_and_content_length_for_stream_transports() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset({"atlanta.example"})), SqliteLocationService()
    )
    bind(proxy, "sip:bob@atlanta.example", "sip:bob@bob-pc.example;transport=tcp;method=INVITE")
    request = invite("sip:bob@atlanta.example")
    request.headers.remove("Content-Length")
    sends = proxy.receive_request(request, "alice", 0.0)
    [forwarded] = [s for s in sends if isinstance(s.destination, NextHop)]
    copy = forwarded.message
    assert str(copy.uri) == "sip:bob@bob-pc.example;transport=tcp"  # type: ignore[attr-defined]
    assert forwarded.destination == NextHop("TCP", "bob-pc.example", None)
    assert copy.headers.get("Content-Length") == "0"
    assert copy.top_via.transport == "TCP"


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST choose one and only one target from the target set.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% This choice MUST only rely on fields in the message and time-invariant
##% properties of the server.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Thus for a stateless proxy, the branch parameter MUST be computed as a
##% combinatoric function of message parameters which are invariant on
##% retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Furthermore, when handling a request statelessly, an element MUST NOT
##% generate its own 100 (Trying) or any other provisional response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST validate a request as described in Section 16.3
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% In particular, a retransmitted request MUST be forwarded to the same
##% destination each time it is processed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Therefore, the component of the branch parameter that makes it unique MUST
##% be the same each time a retransmitted request is forwarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% All other message transformations specified in Section 16.6 MUST result in
##% the same transformation of a retransmitted request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST follow the request processing steps described in
##% Sections 16.4 through 16.5 with the following exception:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% In particular, if the proxy inserts a Record-Route value or pushes URIs into
##% the Route header field, it MUST place the same values in retransmissions of
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% As for the Via branch parameter, this implies that the transformations MUST
##% be based on time-invariant configuration or retransmission-invariant
##% properties of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% The proxy MUST NOT add to, modify, or remove the message body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% However, the following procedure is RECOMMENDED.
def test_stateless_ack_forwarding_is_deterministic() -> None:
    proxy = Proxy(
        ProxyConfig(
            host=P1, domains=frozenset({"atlanta.example"}), local_route=("sip:edge.example;lr",)
        ),
        SqliteLocationService(),
    )
    ack = invite(
        "sip:bob@bob-pc.example",
        method="ACK",
        extra=(("Route", f"<sip:{P1};lr>"),),
        body=b"v=0\r\n",
    )
    first = proxy.receive_request(ack, "alice", 0.0)
    again = proxy.receive_request(ack, "alice", 1.0)
    assert len(first) == len(again) == 1
    assert first[0].message.top_via.branch == again[0].message.top_via.branch
    assert first[0].message.top_via.branch.startswith("z9hG4bK")
    # Our own Via, with a branch of its own derived from the ACK's (not the ACK's itself).
    assert first[0].message.top_via.host == P1.split(":")[0]
    assert first[0].message.top_via.branch != ack.top_via.branch
    assert len(first[0].message.via) == len(ack.via) + 1
    assert first[0].destination == NextHop("UDP", "edge.example", None)
    assert first[0].message.headers.get_all("Route") == again[0].message.headers.get_all("Route")
    assert [str(r.uri) for r in first[0].message.route] == ["sip:edge.example;lr"]
    assert first[0].message.body == b"v=0\r\n"
    assert first[0].message.headers.get("Record-Route") is None
    assert proxy.contexts == {}
    # validated as §16.3 says before it goes anywhere: no Max-Forwards left, or not SIP
    spent = invite("sip:bob@bob-pc.example", method="ACK", extra=(("Route", f"<sip:{P1};lr>"),))
    spent.headers.set("Max-Forwards", "0")
    assert proxy.receive_request(spent, "alice", 2.0) == []
    tel = invite("tel:+15551234", method="ACK", extra=(("Route", f"<sip:{P1};lr>"),))
    assert proxy.receive_request(tel, "alice", 3.0) == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Although the CANCEL method does take a response (a 2xx), servers MUST NOT
##% attempt to challenge CANCEL requests since these requests cannot be
##% resubmitted.
def test_cancel_is_never_challenged() -> None:
    net, _proxy, bob, carol = authenticating_proxy()
    cancel = invite(
        "sip:carol@biloxi.example.com",
        from_="sip:bob@biloxi.example.com",
        via_host="bob-pc.example",
        method="CANCEL",
    )
    net.post(bob.host, bob.send(cancel, P2, 0))
    net.run(2.0)
    # No context matches: not challenged, and not relayed either (issue 23: a proxy
    # demanding credentials relays no CANCEL it cannot match; §9.2's 481).
    assert bob.statuses("CANCEL") == [481]
    assert carol.requests == []
    # One that shows it belongs to a dialog of ours (our Record-Route, with its token, in
    # its Route: a re-INVITE's CANCEL arriving after a restart) is relayed, unchallenged.
    token = _proxy.record_route_token("re-invite")
    ours = invite(
        "sip:carol@carol-pc.example",
        from_="sip:bob@biloxi.example.com",
        via_host="bob-pc.example",
        call_id="re-invite",
        method="CANCEL",
        extra=(("Route", f"<sip:{P2};lr;rrtoken={token}>"),),
    )
    net.post(bob.host, bob.send(ours, P2, net.now))
    net.run(4.0)
    assert 407 not in bob.statuses("CANCEL")
    assert [r.method for r in carol.requests] == ["CANCEL"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Notice that a proxy is not required to detect merged requests and
##% MUST NOT treat merged requests as an error condition.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT modify the To tag in any forwarded response to a
##% request that contains a To tag.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST NOT add to, modify, or remove the message body.
def test_merged_requests_both_forwarded_and_to_tag_kept() -> None:
    net = Net()
    p1 = proxy_at(net, P1, "atlanta.example")
    bob = UA("bob-pc.example", {"MESSAGE": [(0, 200)]})
    alice = UA("alice-pc.example")
    net.add(bob)
    net.add(alice)
    bind(p1, "sip:bob@atlanta.example", "sip:bob@bob-pc.example")
    first = invite("sip:bob@atlanta.example", method="MESSAGE", call_id="m1", body=b"hi")
    first.headers.set("To", "<sip:bob@atlanta.example>;tag=existing")
    # The same request reached us by a second path: another top Via branch.
    second = parse(bytes(first))
    assert isinstance(second, Request)
    second.headers.set("Via", "SIP/2.0/UDP alice-pc.example;branch=z9hG4bKsecondpath")
    net.post(alice.host, alice.send(first, P1, 0.0))
    net.post(alice.host, alice.send(second, P1, 0.0))
    net.run(2.0)
    assert [r.method for r in bob.requests] == ["MESSAGE", "MESSAGE"]
    assert all(r.body == b"hi" for r in bob.requests)
    assert alice.statuses("MESSAGE") == [200, 200]
    assert {r.to.tag for r in alice.responses} == {"existing"}


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If this request is already part of a dialog, the proxy SHOULD insert a Record-Route
##% header field value if it wishes to remain on the path of future requests in the
##% dialog.
def test_a_request_inside_a_dialog_is_record_routed_too() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset({"atlanta.example"})), SqliteLocationService()
    )
    bye = invite("sip:bob@bob-pc.example", method="BYE", extra=(("Route", f"<sip:{P1};lr>"),))
    bye.headers.set("To", "<sip:bob@biloxi.example>;tag=in-dialog")
    [copy] = [
        s.message for s in proxy.receive_request(bye, "alice", 0.0) if s.message.method == "BYE"
    ]  # type: ignore[union-attr]
    assert [str(r.uri) for r in copy.record_route] == [f"sip:{P1}:5060;lr"]  # type: ignore[union-attr]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% Proxies that did not add a "Record-Route" header field to the initial
##% SUBSCRIBE request MUST NOT add a "Record-Route" header field to any of
##% the associated NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% Note that "Allow-Events" header fields MUST NOT be inserted by
##% proxies.
def test_without_record_routing_neither_subscribe_nor_notify_gets_record_route() -> None:
    proxy = Proxy(
        ProxyConfig(host=P1, domains=frozenset({"atlanta.example"}), record_route=False),
        SqliteLocationService(),
    )
    for method in ("SUBSCRIBE", "NOTIFY"):
        request = invite("sip:bob@bob-pc.example", method=method, extra=(("Event", "presence"),))
        sent = proxy.receive_request(request, "alice", 0.0)
        [copy] = [s.message for s in sent if getattr(s.message, "method", None) == method]
        assert copy.headers.get("Record-Route") is None, method  # type: ignore[union-attr]
        assert copy.headers.get("Allow-Events") is None, method  # type: ignore[union-attr]
