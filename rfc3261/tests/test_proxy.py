"""The stateful proxy (RFC 3261 §16): forking, responses, CANCEL, Timer C, in memory."""

from __future__ import annotations

from rfc3261.auth_headers import Challenge
from rfc3261.cancel import build_cancel
from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials
from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.proxy import NextHop, Proxy, ProxyConfig, best_response, via_destination
from rfc3261.tests.server_support import UA, Net, ProxyElement, invite, register
from rfc3261.timers import TimerValues

PROXY = "proxy.example.com"
BOB = "sip:bob@example.com"


def setup(**config) -> tuple[Net, Proxy, UA]:
    config.setdefault("domains", frozenset({"example.com"}))
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, **config), location)
    net = Net()
    net.add(ProxyElement(PROXY, proxy), "example.com")
    alice = UA("alice-pc.example")
    net.add(alice)
    return net, proxy, alice


def bind(proxy: Proxy, aor: str, *contacts: tuple[str, float | None]) -> None:
    proxy.location.update(aor, [Binding(aor, c, 1e9, "cid", 1, q) for c, q in contacts], [], 0.0)


def phone(net: Net, host: str, script: dict | None = None, **kw) -> UA:
    ua = UA(host, script or {}, **kw)
    net.add(ua)
    return ua


def call(net: Net, alice: UA, request: Request, to: str = PROXY) -> Request:
    net.post(alice.host, alice.send(request, to, net.now))
    return request


def final(ua: UA, method: str = "INVITE") -> list[int]:
    return [s for s in ua.statuses(method) if s >= 200]


# -- basic forwarding ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% The proxy core MUST behave as a UAS with respect to sending an
##% immediate provisional on that server transaction (such as 100 Trying)
##% as described in Section 8.2.6.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy contains a Max-Forwards header field, the proxy MUST
##% decrement its value by one (1).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The Request-URI in the copy's start line MUST be replaced with
##% the URI for this target.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST insert a Via header field value into the copy
##% before the existing Via header field values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST NOT add to,
##% modify, or remove the message body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% In particular, a stateful proxy MUST NOT forward any 100 (Trying)
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% For all new requests, including any with unknown methods, an element
##% intending to proxy the request MUST:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Before an element can proxy a request, it MUST verify the message's
##% validity.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% The proxy MUST inspect the Request-URI of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the target set for the request has not been predetermined as described
##% above, this implies that the element is responsible for the domain in the
##% Request-URI, and the element MAY use whatever mechanism it desires to
##% determine where to send the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% When accessing the location service constructed by a registrar, the Request-
##% URI MUST first be canonicalized as described in Section 10.3 before being
##% used as an index.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% As soon as the target set is non-empty, a proxy MAY begin forwarding the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A stateful proxy MUST create a new client transaction for this request as
##% described in Section 17.1 and instructs the transaction to send the request
##% using the address, port and transport determined in step 7.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% As client transactions pass responses to the proxy layer, the following
##% processing MUST take place:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST pass the response to the server transaction associated with
##% the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Until a final response has been sent on the server transaction, the
##% following responses MUST be forwarded immediately:
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If a SIP proxy receives a request with no Max-Breadth header field value, it
##% MUST add one, with a value that is RECOMMENDED to be 60.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% The proxy MUST insert a Via header field value into the copy before the
##% existing Via header field values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% When responding directly to a request, the element is playing the role of a
##% UAS and MUST behave as described in Section 8.2.
def test_register_then_invite_reaches_contact_and_2xx_is_acked_end_to_end() -> None:
    net, _proxy, alice = setup()
    bob = phone(net, "bob-phone.example", {"INVITE": [(0, 180), (1.0, 200)]})
    reg = register(BOB, contacts=("<sip:bob@bob-phone.example>",), call_id="r1")
    net.post("bob-phone.example", bob.send(reg, PROXY, 0.0))
    net.run(1.0)
    assert bob.statuses("REGISTER") == [200]
    body = b"v=0\r\n"
    call(net, alice, invite(BOB, body=body))
    net.run(5.0)
    [received] = [r for r in bob.requests if r.method == "INVITE"]
    assert str(received.uri) == "sip:bob@bob-phone.example"
    assert received.max_forwards == 69
    assert received.via[0].host == PROXY and received.via[1].host == "alice-pc.example"
    assert received.body == body
    assert received.headers.get("Max-Breadth") == "60"
    # 100 from the proxy's own server transaction; bob's 100 is not forwarded.
    assert net.lines(PROXY, "alice-pc.example") == [
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
    ]
    assert alice.statuses("INVITE") == [100, 180, 200]
    # The ACK for the 2xx went along the Record-Route through the proxy (stateless).
    assert [r.method for r in bob.requests] == ["INVITE", "ACK"]
    ack = bob.requests[1]
    assert ack.route == [] and str(ack.uri) == "sip:ua@bob-phone.example"


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% Thus, a stateful proxy SHOULD NOT generate 100
##% (Trying) responses to non-INVITE requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% An element MUST NOT refuse to proxy a request because it contains a
##% method or header field it does not know about.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If a proxy needs to be in the path of any type of dialog (such as one
##% straddling a firewall), it SHOULD add a Record-Route header field value to
##% every request with a method it does not understand since that method may
##% have dialog semantics.
def test_unknown_method_forwarded_without_100() -> None:
    net, proxy, alice = setup()
    bob = phone(net, "bob-phone.example")
    bind(proxy, BOB, ("sip:bob@bob-phone.example", None))
    call(net, alice, invite(BOB, method="FROBNICATE", extra=(("X-Odd", "1"),)))
    net.run(2.0)
    assert net.lines(PROXY, "alice-pc.example") == ["SIP/2.0 200 OK"]
    assert bob.requests[0].headers.get("X-Odd") == "1"


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the target set remains empty after applying all of the above, the
##% proxy MUST return an error response, which SHOULD be the 480
##% (Temporarily Unavailable) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the Request-URI indicates a resource at this proxy that does not
##% exist, the proxy MUST return a 404 (Not Found) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If a target URI is already present in the set (based on the definition of
##% equality for the URI type), it MUST NOT be added again.
def test_no_bindings_480_unknown_user_404() -> None:
    net, proxy, alice = setup()
    call(net, alice, invite(BOB))
    net.run(1.0)
    assert final(alice) == [480]
    proxy.users = lambda aor: aor == "sip:carol@example.com"
    call(net, alice, invite(BOB))
    net.run(2.0)
    assert final(alice) == [480, 404]


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
##= type=test
##% The reason phrase SHOULD indicate a more precise cause as to why the callee is
##% unavailable.
def test_480_reason_phrase_names_the_cause() -> None:
    net, _proxy, alice = setup()
    call(net, alice, invite(BOB))
    net.run(1.0)
    assert "SIP/2.0 480 No Contact Registered" in net.lines(PROXY, "alice-pc.example")


# -- forking ---------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the forwarded response was a final response, the proxy MUST
##% generate a CANCEL request for all pending client transactions
##% associated with this response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% It MAY start client transactions with every target in parallel.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Thus, the branch parameter provided
##% with the Via header field inserted in step 8 MUST be different for
##% each attempt.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% In particular, CANCEL and ACK requests (for non-2xx responses) MUST
##% have the same branch value as the corresponding request they cancel
##% or acknowledge.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% A stateful proxy MAY choose to "fork" a request, routing it to multiple
##% destinations.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% Any request that is forwarded to more than one location MUST be handled
##% statefully.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A stateful proxy MUST NOT immediately forward any other responses.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% CANCEL and non-200 ACK requests MUST have the same branch parameter value as
##% the corresponding request they cancel or acknowledge.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
##= type=test
##% When a SIP proxy forks a particular request to more than one location, it
##% MUST ensure that request is not looping through this proxy.
def test_parallel_fork_486_and_200_forwards_200_and_cancels_the_rest() -> None:
    net, proxy, alice = setup()
    busy = phone(net, "busy.example", {"INVITE": [(0, 486)]})
    answering = phone(net, "answer.example", {"INVITE": [(0, 180), (2.0, 200)]})
    ringing = phone(net, "ring.example", {"INVITE": [(0, 180)]})
    bind(
        proxy,
        BOB,
        ("sip:bob@busy.example", None),
        ("sip:bob@answer.example", None),
        ("sip:bob@ring.example", None),
    )
    call(net, alice, invite(BOB))
    net.run(10.0)
    assert final(alice) == [200]
    assert 486 not in alice.statuses() and 487 not in alice.statuses()
    branches = {ua.host: ua.requests[0].top_via.branch for ua in (busy, answering, ringing)}
    assert len(set(branches.values())) == 3
    # The ringing branch got a CANCEL with the INVITE's branch, and answered 487.
    cancel = next(r for r in ringing.requests if r.method == "CANCEL")
    assert cancel.top_via.branch == branches["ring.example"]
    assert str(cancel.uri) == "sip:bob@ring.example"
    assert ringing.statuses() == []  # (UAS) nothing received as responses
    assert "SIP/2.0 487 Request Terminated" in net.lines("ring.example", PROXY)
    # The busy branch got the hop-by-hop ACK from the proxy's client transaction.
    # (It is absorbed by busy's server transaction, so check the wire.)
    assert [line.split()[0] for line in net.lines(PROXY, "busy.example")] == ["INVITE", "ACK"]
    assert not any(r.method == "CANCEL" for r in busy.requests + answering.requests)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% It MAY process multiple targets serially, allowing each client
##% transaction to complete before starting the next.
def test_sequential_fork_by_q() -> None:
    net, proxy, alice = setup(forking="sequential")
    phone(net, "low.example", {"INVITE": [(0, 200)]})
    phone(net, "high.example", {"INVITE": [(0, 480)]})
    bind(proxy, BOB, ("sip:bob@low.example", 0.1), ("sip:bob@high.example", 0.9))
    call(net, alice, invite(BOB))
    net.run(1.0)
    assert final(alice) == [200]
    t_high = next(t for t, s, d, line in net.wire if d == "high.example")
    t_low = next(t for t, s, d, line in net.wire if d == "low.example")
    assert t_high < t_low


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% It MUST choose from the 6xx class responses if any exist in the
##% context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% and it MUST NOT create any new branches in this context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy SHOULD also generate a CANCEL request for all pending
##% client transactions associated with this response context when it
##% receives a 6xx response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If a 6xx response is received, it is not immediately forwarded, but the
##% stateful proxy SHOULD cancel all client pending transactions as described in
##% Section 10
def test_6xx_ends_the_search() -> None:
    # Sequential: no new branch after the 603.
    net, proxy, alice = setup(forking="sequential")
    decline = phone(net, "decline.example", {"INVITE": [(0, 603)]})
    later = phone(net, "later.example", {"INVITE": [(0, 200)]})
    bind(proxy, BOB, ("sip:bob@decline.example", 0.9), ("sip:bob@later.example", 0.5))
    call(net, alice, invite(BOB))
    net.run(5.0)
    assert final(alice) == [603]
    assert later.requests == [] and decline.requests[0].method == "INVITE"
    # Parallel: the ringing branch is CANCELled; the 6xx wins over its 487.
    net, proxy, alice = setup()
    phone(net, "decline.example", {"INVITE": [(0.5, 600)]})
    ringing = phone(net, "ring.example", {"INVITE": [(0, 180)]})
    bind(proxy, BOB, ("sip:bob@decline.example", None), ("sip:bob@ring.example", None))
    call(net, alice, invite(BOB))
    net.run(5.0)
    assert final(alice) == [600]
    assert any(r.method == "CANCEL" for r in ringing.requests)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The stateful proxy MUST choose the "best" final response among those
##% received and stored in the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If no 6xx class responses are present, the proxy SHOULD choose from the
##% lowest response class stored in the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MAY select any response within that chosen class.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy SHOULD give preference to responses that provide information
##% affecting resubmission of this request, such as 401, 407, 415, 420, and 484
##% if the 4xx class is chosen.
def test_best_response_rules() -> None:
    req = invite(BOB)

    def resp(status: int) -> Response:
        return req.make_response(status)

    assert best_response([]) is None
    assert best_response([resp(486), resp(302), resp(500)]).status == 302  # type: ignore[union-attr]
    assert best_response([resp(404), resp(407), resp(486)]).status == 407  # type: ignore[union-attr]
    assert best_response([resp(486), resp(603), resp(302)]).status == 603  # type: ignore[union-attr]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the only response that was received is a 503, the proxy SHOULD
##% generate a 500 response and forward that upstream.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the selected response is a 401 (Unauthorized) or 407 (Proxy
##% Authentication Required), the proxy MUST collect any WWW-Authenticate
##% and Proxy-Authenticate header field values from all other 401
##% (Unauthorized) and 407 (Proxy Authentication Required) responses
##% received so far in this response context and add them to this
##% response without modification before forwarding.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
##= type=test
##% When the forking proxy places multiple WWW-Authenticate and
##% Proxy-Authenticate header fields received from one downstream proxy
##% into a single response, it MUST maintain the order of these header
##% fields.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy which receives a 503 (Service Unavailable) response SHOULD NOT
##% forward it upstream unless it can determine that any subsequent requests it
##% might proxy will also generate a 503.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Each WWW-Authenticate and Proxy-Authenticate value received in responses to
##% the forked request MUST be placed into the single response that is sent by
##% the forking proxy to the UA; the ordering of these header field values is
##% not significant.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
##= type=test
##% Each WWW-Authenticate and Proxy-Authenticate value received in response to
##% the forked request MUST be placed into the single response that is sent by
##% the forking proxy to the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The forwarded response MUST be processed as described in steps "Aggregate
##% Authorization Header Field Values" through "Record-Route".
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A stateful proxy MUST send a final response to a response context's server
##% transaction if no final responses have been immediately forwarded by the
##% above rules and all client transactions in this response context have been
##% terminated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Otherwise, the proxy MUST forward a response from the responses stored in
##% the response context.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% That is, they MUST forward the WWW-Authenticate, Authentication-Info, and
##% Authorization header fields untouched.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Proxies MUST be completely transparent in the Digest access authentication
##% scheme.
def test_503_becomes_500_and_challenges_are_aggregated() -> None:
    net, proxy, alice = setup()
    phone(net, "down.example", {"INVITE": [(0, 503)]})
    bind(proxy, BOB, ("sip:bob@down.example", None))
    call(net, alice, invite(BOB))
    net.run(2.0)
    assert final(alice) == [500]

    net, proxy, alice = setup()
    uas = []
    for host, realm in (("a.example", "a.example"), ("b.example", "b.example")):
        creds = MemoryCredentials.from_passwords({"alice": "pw"}, realm)
        uas.append((phone(net, host), DigestAuthenticator(realm, creds)))
    bind(proxy, BOB, ("sip:bob@a.example", None), ("sip:bob@b.example", None))

    # Script the UAs to answer with challenges (each value order: SHA-256, MD5).
    for ua, auth in uas:
        ua._respond = _challenger(ua, auth)  # type: ignore[method-assign]
        ua.script = {"INVITE": [(0, 401)]}
    call(net, alice, invite(BOB))
    net.run(2.0)
    [response] = [r for r in alice.responses if r.status >= 200]
    assert response.status == 401
    values = [Challenge.parse(v) for v in response.headers.get_all("WWW-Authenticate")]
    assert sorted((v.realm, v.algorithm) for v in values) == [
        ("a.example", "MD5"),
        ("a.example", "SHA-256"),
        ("b.example", "MD5"),
        ("b.example", "SHA-256"),
    ]
    for realm in ("a.example", "b.example"):
        assert [v.algorithm for v in values if v.realm == realm] == ["SHA-256", "MD5"]


def _challenger(ua: UA, auth: DigestAuthenticator):
    original = UA._respond

    def respond(tx, status, now):
        if status != 401:
            return original(ua, tx, status, now)
        ua._final.add(id(tx))
        response = auth.challenge(tx.request, now, to_tag=ua.to_tag)
        return ua._run(ua.layer.send_response(tx, response, now), now)

    return respond


# -- CANCEL ----------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% If a matching response context is found, the element MUST
##% immediately return a 200 (OK) response to the CANCEL request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% A proxy MUST cancel any pending client transactions associated with a
##% response context when it receives a matching CANCEL request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% Furthermore, the element MUST generate CANCEL requests for all
##% pending client transactions in the context as described in Section
##% 16.7 step 10.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If no Via header field values remain in the response, the response was meant
##% for this element and MUST NOT be forwarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% The proxy SHOULD NOT initiate a CANCEL request.
def test_cancel_fans_out_to_every_branch() -> None:
    net, proxy, alice = setup()
    phones = [phone(net, f"p{i}.example", {"INVITE": [(0, 180)]}) for i in range(3)]
    bind(proxy, BOB, *((f"sip:bob@p{i}.example", None) for i in range(3)))
    request = call(net, alice, invite(BOB))
    net.run(1.0)
    cancel = Request(
        "CANCEL",
        request.uri,
        [
            ("Via", str(request.top_via)),
            ("Max-Forwards", "70"),
            ("To", request.headers.get("To")),
            ("From", request.headers.get("From")),
            ("Call-ID", request.call_id),
            ("CSeq", f"{request.cseq.number} CANCEL"),
            ("Content-Length", "0"),
        ],
    )
    net.post(alice.host, alice.send(parse(bytes(cancel)), PROXY, net.now))  # type: ignore[arg-type]
    net.run(5.0)
    assert alice.statuses("CANCEL") == [200]
    for ua in phones:
        assert [r.method for r in ua.requests] == ["INVITE", "CANCEL"]
        assert [line.split()[0] for line in net.lines(PROXY, ua.host)] == [
            "INVITE",
            "CANCEL",
            "ACK",
        ]
    # One final response upstream: the 487 (all three 487s came back).
    assert final(alice) == [487]


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% Proxies generating a CANCEL request upon reception of a CANCEL from the
##% previous hop that contains a Reason header field SHOULD copy it into the new
##% CANCEL request.
def test_cancel_reason_copied_to_every_branch() -> None:
    net, proxy, alice = setup()
    phones = [phone(net, f"p{i}.example", {"INVITE": [(0, 180)]}) for i in range(2)]
    bind(proxy, BOB, *((f"sip:bob@p{i}.example", None) for i in range(2)))
    request = call(net, alice, invite(BOB))
    net.run(1.0)
    # the UAC's CANCEL (§9.1), with the Reason the proxy is to copy
    cancel = build_cancel(request)
    cancel.headers.add("Reason", 'SIP ;cause=600 ;text="Busy Everywhere"')
    net.post(alice.host, alice.send(parse(bytes(cancel)), PROXY, net.now))  # type: ignore[arg-type]
    net.run(5.0)
    for ua in phones:
        copy = next(r for r in ua.requests if r.method == "CANCEL")
        assert [str(v) for v in copy.headers.get_all("Reason")] == [
            'SIP ;cause=600 ;text="Busy Everywhere"'
        ]


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If no provisional response has been received, the CANCEL request MUST
##% NOT be sent; rather, the client MUST wait for the arrival of a
##% provisional response before sending the request.
def test_cancel_waits_for_a_provisional_response() -> None:
    net, proxy, alice = setup()
    quiet = phone(net, "slow.example", {"INVITE": [(3.0, 180)]})
    quiet.layer.send_100 = False
    phone(net, "fast.example", {"INVITE": [(0.5, 200)]})
    bind(proxy, BOB, ("sip:bob@slow.example", None), ("sip:bob@fast.example", None))
    call(net, alice, invite(BOB))
    net.run(2.0)
    assert final(alice) == [200]
    assert [r.method for r in quiet.requests] == ["INVITE"]  # no CANCEL yet
    net.run(10.0)
    assert [r.method for r in quiet.requests] == ["INVITE", "CANCEL"]


# -- Timer C ---------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Timer C MUST be set for each client transaction when an INVITE
##% request is proxied.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If the client transaction has received a provisional response, the proxy
##% MUST generate a CANCEL request matching that transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If there are no final responses in the context, the proxy MUST send a
##% 408 (Request Timeout) response to the server transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% For an INVITE transaction, if the response is a provisional response
##% with status codes 101 to 199 inclusive (i.e., anything but 100), the
##% proxy MUST reset timer C for that client transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If timer C should fire, the proxy MUST either reset the timer with any value
##% it chooses, or terminate the client transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% but this value MUST be greater than 3 minutes.
def test_downstream_that_never_answers_ends_with_timer_c_408() -> None:
    net, proxy, alice = setup()
    mute = phone(net, "mute.example", {"INVITE": [(0, 180), (100.0, 183)]}, ignore_cancel=True)
    bind(proxy, BOB, ("sip:bob@mute.example", None))
    call(net, alice, invite(BOB))
    net.run(250.0)
    # Timer C was reset by the 183 at t=100: no CANCEL before 100 + 181.
    assert not any(r.method == "CANCEL" for r in mute.requests)
    assert final(alice) == []
    net.run(282.0)
    cancels = [
        t for t, s, d, line in net.wire if line.startswith("CANCEL") and d == "mute.example"
    ]
    assert cancels and 281.0 <= cancels[0] < 281.1
    net.run(400.0)
    assert final(alice) == [408]


def test_no_response_at_all_times_out_408() -> None:
    net, proxy, alice = setup()
    bind(proxy, BOB, ("sip:bob@nowhere.example", None))  # nobody at that host
    call(net, alice, invite(BOB))
    net.run(60.0)
    assert final(alice) == [408]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If the client
##% transaction has not received a provisional response, the proxy MUST
##% behave as if the transaction received a 408 (Request Timeout)
##% response.
def test_timer_c_before_any_provisional_is_a_408() -> None:
    # With T1 = 4 s, Timer B (64*T1 = 256 s) outlasts Timer C (181 s): the 408 at 181 s
    # can only come from Timer C.
    net, _, alice = setup()
    slow = Proxy(
        ProxyConfig(host=PROXY, domains=frozenset({"example.com"})),
        SqliteLocationService(),
        timers=TimerValues(T1=4.0, T2=4.0),
    )
    net.add(ProxyElement(PROXY, slow), "example.com")
    bind(slow, BOB, ("sip:bob@nowhere.example", None))
    call(net, alice, invite(BOB))
    net.run(200.0)
    assert final(alice) == [408]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
##= type=test
##% If the transport layer notifies a proxy of an error when it tries to
##% forward a request (see Section 18.4), the proxy MUST behave as if the
##% forwarded request received a 503 (Service Unavailable) response.
def test_transport_error_counts_as_503() -> None:
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, domains=frozenset({"example.com"})), location)
    bind(proxy, BOB, ("sip:bob@gone.example", None))
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 0.0)
    forwarded = next(s for s in sends if isinstance(s.destination, NextHop))
    upstream = proxy.transport_error(forwarded, 0.1)
    assert [s.message.status for s in upstream] == [500]  # type: ignore[union-attr]


# -- stray responses: dropped (RFC 6026 §8.2, replacing §16.7's stateless forwarding) ---


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.2
##= type=test
##% If none is found, the element MUST NOT forward the response.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% When receiving any SIP response, a transaction-stateful proxy MUST
##% compare the transaction identifier in that response against its
##% existing transaction state machines.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% The proxy MUST NOT forward the
##% response if there is no matching transaction state machine.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
##= type=test
##% When receiving any SIP response,
##% a transaction-stateful proxy MUST compare the transaction identifier
##% in that response against its existing transaction state machines.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
##= type=test
##% The proxy MUST NOT forward the response if there is no matching
##% transaction state machine.
def test_response_without_transaction_dropped() -> None:
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, domains=frozenset({"example.com"})), location)
    bind(proxy, BOB, ("sip:bob@here.example", None))
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 0.0)
    [down] = [s for s in sends if isinstance(s.message, Request)]
    forwarded = parse(bytes(down.message))
    assert isinstance(forwarded, Request)
    # A 200 with our Via on top, the next Via routable, a body: everything stateless
    # forwarding (RFC 3261 §16.11) would have relayed -- but for no transaction of ours.
    stray = forwarded.make_response(200)
    stray.headers.remove_first("Via")
    stray.headers.prepend("Via", f"SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKlate")
    stray.headers.set("Content-Type", "application/sdp")
    stray.body = b"v=0\r\n"
    before = proxy.layer.stray_responses
    assert proxy.receive_response(parse(bytes(stray)), "bob", 0.1) == []  # type: ignore[arg-type]
    assert proxy.layer.stray_responses == before + 1
    # The same response on the branch's own transaction is the one that goes upstream.
    ok = forwarded.make_response(200)
    upstream = proxy.receive_response(parse(bytes(ok)), "bob", 0.2)  # type: ignore[arg-type]
    assert [s.message.status for s in upstream] == [200]  # type: ignore[union-attr]
    assert upstream[0].destination == "alice-pc.example"
    assert proxy.layer.stray_responses == before + 1


def test_via_destination() -> None:
    from rfc3261.headers import Via

    assert via_destination(Via.parse("SIP/2.0/TCP h.example:5070;branch=z9hG4bK1")) == NextHop(
        "TCP", "h.example", 5070
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% After a final response has been sent on the server transaction, the
##% following responses MUST be forwarded immediately:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Any response chosen for immediate forwarding MUST be processed as described
##% in steps "Aggregate Authorization Header Field Values" through "Record-
##% Route".
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The following processing MUST be performed on each response that is
##% forwarded.
def test_two_2xx_from_a_fork_are_both_forwarded() -> None:
    net, proxy, alice = setup()
    phone(net, "one.example", {"INVITE": [(0.2, 200)]})
    phone(net, "two.example", {"INVITE": [(0.2, 200)]})
    bind(proxy, BOB, ("sip:bob@one.example", None), ("sip:bob@two.example", None))
    call(net, alice, invite(BOB))
    net.run(3.0)
    twos = [r for r in alice.responses if r.status == 200]
    assert len({r.to.tag for r in twos}) == 2  # both dialogs reach the caller
    assert final(alice) == [200, 200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The copy MUST initially contain all of the header fields from the received
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Fields not detailed in the processing described below MUST NOT be removed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The copy SHOULD maintain the ordering of the header fields as in the
##% received request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST NOT reorder field values with a common field name (See
##% Section 7.3.1).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Any other components, well-formed or not, SHOULD be ignored and remain
##% unchanged when the message is forwarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT insert a tag into the To header field of a 1xx or 2xx
##% response if the request did not contain one.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT modify the tag in the To header field of a 1xx or 2xx
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Unless otherwise specified, the proxy MUST NOT remove any header field
##% values other than the Via header field value discussed in Section 16.7 Item
##% 3.
def test_header_fields_kept_in_order_and_to_tags_untouched() -> None:
    net, proxy, alice = setup()
    bob = phone(net, "bob-phone.example", {"INVITE": [(0, 180), (0.1, 200)]})
    bind(proxy, BOB, ("sip:bob@bob-phone.example", None))
    request = invite(
        BOB,
        extra=(("X-First", "1"), ("Supported", "b, a"), ("X-Last", "z"), ("Supported", "c")),
    )
    call(net, alice, request)
    net.run(2.0)
    received = bob.requests[0]
    names = [name for name, _ in received.headers if name not in ("Record-Route", "Max-Breadth")]
    assert names == ["Via", "Via", *[name for name, _ in request.headers if name != "Via"]]
    assert received.headers.get_all("Supported") == ["b", "a", "c"]
    assert received.headers.get("X-Last") == "z"
    # 180 and 200 carry bob's To tag unchanged; the request had none.
    assert {r.to.tag for r in alice.responses if r.status in (180, 200)} == {bob.to_tag}


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST maintain the response context until all of its associated
##% transactions have been terminated, even after forwarding a final response.
def test_response_context_kept_until_transactions_end() -> None:
    net, proxy, alice = setup()
    phone(net, "busy.example", {"INVITE": [(0, 486)]})
    bind(proxy, BOB, ("sip:bob@busy.example", None))
    call(net, alice, invite(BOB))
    net.run(1.0)
    assert final(alice) == [486]
    assert len(proxy.contexts) == 1  # server transaction still Completed (Timer H)
    net.run(100.0)
    assert proxy.contexts == {} and len(proxy.layer) == 0


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The timer MUST be larger than 3 minutes.
def test_timer_c_must_exceed_three_minutes() -> None:
    import pytest

    with pytest.raises(ValueError):
        ProxyConfig(host=PROXY, timer_c=180.0)
    assert ProxyConfig(host=PROXY, timer_c=180.5).timer_c == 180.5


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% As above, any given URI MUST NOT be added to the set more than once.
def test_equal_contacts_give_one_branch() -> None:
    net, proxy, alice = setup()
    bob = phone(net, "bob-phone.example")
    bind(
        proxy,
        BOB,
        ("sip:bob@bob-phone.example;transport=udp", None),
        ("sip:bob@BOB-PHONE.example;transport=UDP", None),
    )
    call(net, alice, invite(BOB))
    net.run(2.0)
    assert [r.method for r in bob.requests] == ["INVITE", "ACK"]


def test_late_2xx_after_the_server_transaction_ended_is_discarded() -> None:
    """RFC 6026 §8.3 replaces §16.7 step 9's stateless forwarding: "If the server
    transaction is no longer available to handle the transmission, the response is simply
    discarded."  (Within Timer L the Accepted server transaction forwards every 2xx.)"""
    net, proxy, alice = setup()
    phone(net, "fast.example", {"INVITE": [(0, 200)]})
    phone(net, "late.example", {"INVITE": [(0, 180), (50.0, 200)]}, ignore_cancel=True)
    bind(proxy, BOB, ("sip:bob@fast.example", None), ("sip:bob@late.example", None))
    call(net, alice, invite(BOB))
    net.run(49.0)
    assert final(alice) == [200]
    assert proxy.contexts == {}  # server transaction gone (Timer L), branch abandoned
    net.run(60.0)
    oks = [(t, d) for t, s, d, line in net.wire if s == PROXY and line == "SIP/2.0 200 OK"]
    assert len(oks) == 1 and oks[0][0] < 1.0  # the late 2xx (at 50 s) went nowhere
    late = [t for t, s, d, line in net.wire if s == "late.example" and line == "SIP/2.0 200 OK"]
    assert late and late[0] >= 50.0  # it did reach the proxy


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
##= type=test
##% The proxy SHOULD NOT cancel any outstanding client transactions
##% associated with this response context due to this notification.
def test_transport_error_on_one_branch_leaves_the_others() -> None:
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, domains=frozenset({"example.com"})), location)
    bind(proxy, BOB, ("sip:bob@gone.example", None), ("sip:bob@here.example", None))
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 0.0)
    gone, here = [s for s in sends if isinstance(s.destination, NextHop)]
    assert proxy.transport_error(gone, 0.1) == []  # nothing upstream, no CANCEL
    ringing = parse(bytes(here.message))
    assert isinstance(ringing, Request)
    upstream = proxy.receive_response(parse(bytes(ringing.make_response(180))), "here", 0.2)  # type: ignore[arg-type]
    assert [s.message.status for s in upstream] == [180]  # type: ignore[union-attr]
    # The failed branch counted as a 503 (§16.9): when the other one ends with 486, the
    # context is complete at once and 486 (not the 503, §16.7 step 6) goes upstream.
    busy = proxy.receive_response(parse(bytes(ringing.make_response(486))), "here", 0.3)  # type: ignore[arg-type]
    finals = [s.message.status for s in busy if isinstance(s.message, Response)]
    assert finals == [486]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% In particular, the proxy MUST NOT remove any "received" parameter it
##% may have added to the next Via header field value while processing
##% the request associated with this response.
def test_received_added_on_the_way_in_stays_in_the_response_going_back() -> None:
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, domains=frozenset({"example.com"})), location)
    bind(proxy, BOB, ("sip:bob@here.example", None))
    request = invite(BOB, via_host="alice-pc.example")
    # What the transport layer does on arrival when sent-by is not the source (§18.2.1).
    request.headers.set("Via", f"{request.headers.get('Via')};received=198.51.100.7")
    sends = proxy.receive_request(request, "198.51.100.7", 0.0)
    [down] = [s for s in sends if isinstance(s.message, Request)]
    forwarded = parse(bytes(down.message))
    assert isinstance(forwarded, Request)
    upstream = proxy.receive_response(parse(bytes(forwarded.make_response(486))), "here", 0.1)  # type: ignore[arg-type]
    [busy] = [s.message for s in upstream if isinstance(s.message, Response)]
    assert [v.params.get("received") for v in busy.via] == ["198.51.100.7"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% An element SHOULD preserve the To tag when simply forwarding a 3-6xx response to a
##% request that did not contain a To tag.
def test_the_to_tag_of_a_forwarded_error_response_is_the_one_the_uas_chose() -> None:
    location = SqliteLocationService()
    proxy = Proxy(ProxyConfig(host=PROXY, domains=frozenset({"example.com"})), location)
    bind(proxy, BOB, ("sip:bob@here.example", None))
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 0.0)
    [down] = [s for s in sends if isinstance(s.message, Request)]
    forwarded = parse(bytes(down.message))
    assert isinstance(forwarded, Request) and forwarded.to.tag is None
    answer = forwarded.make_response(486, to_tag="uas-tag-7")
    upstream = proxy.receive_response(parse(bytes(answer)), "here", 0.1)  # type: ignore[arg-type]
    [busy] = [s.message for s in upstream if isinstance(s.message, Response)]
    assert busy.status == 486 and busy.to.tag == "uas-tag-7"
