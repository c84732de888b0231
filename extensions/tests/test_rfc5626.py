"""RFC 5626 outbound, the server side (``extensions/rfc5626.py``), sans-I/O.

The registrar (§6), the edge proxy (§5) and the authoritative proxy (§7), fed with
parsed messages and transport addresses as sources; STUN encoding (§8).
"""

from __future__ import annotations

import argparse

from extensions.rfc3327 import PathRegistrar, path_values
from extensions.rfc5626 import PREFIX, OutboundProxy, OutboundRegistrar
from rfc3261.asyncio.transport import Address, TransportLimits
from rfc3261.flow_token import flow_token
from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.programs.registrar import outbound_limits
from rfc3261.proxy import NextHop, Proxy, ProxyConfig, Send
from rfc3261.registrar import Registrar, RegistrarConfig
from rfc3261.stun import binding_request, binding_response, is_stun, parse_binding_response
from rfc3261.tests.server_support import invite, register

AOR = "sip:bob@example.com"
DOMAINS = frozenset({"example.com"})
INSTANCE = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
SUPPORTED = (("Supported", "path, outbound"),)
UA_FLOW = Address("TCP", "192.0.2.1", 40000)
EDGE = "127.0.0.1:5070"


def ob_contact(reg_id: int | str = 1, host: str = "bob.invalid", instance: str = INSTANCE) -> str:
    return f"<sip:bob@{host};transport=tcp;ob>;+sip.instance={instance};reg-id={reg_id}"


def outbound_register(*contacts: str, extra: tuple[tuple[str, str], ...] = SUPPORTED,
                      cseq: int = 1, call_id: str = "reg-1@bob") -> Request:  # fmt: skip
    return register(AOR, contacts=contacts or (ob_contact(),), extra=extra, cseq=cseq,
                    call_id=call_id)  # fmt: skip


def via_edge(request: Request, path: str) -> Request:
    """``request`` as an edge proxy forwards it: its Via on top, its Path."""
    request.headers.prepend("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKedge1")
    request.headers.prepend("Path", path)
    parsed = parse(bytes(request))
    assert isinstance(parsed, Request)
    return parsed


def registrar(flow_timer: int | None = 30) -> Registrar:
    return Registrar(
        SqliteLocationService(),
        RegistrarConfig(domains=DOMAINS),
        extensions=[PathRegistrar(), OutboundRegistrar(flow_timer=flow_timer)],
    )


def forwarded(sends: list[Send]) -> list[Send]:
    return [s for s in sends if isinstance(s.destination, NextHop)]


def responses(sends: list[Send]) -> list[Response]:
    return [
        s.message for s in sends if isinstance(s.message, Response) and s.message.status >= 200
    ]


def wire(message: Request | Response) -> Request | Response:
    parsed = parse(bytes(message))
    assert isinstance(parsed, Request | Response)
    return parsed


# -- the registrar (§6) ----------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the UAC has a direct flow with the registrar, the registrar MUST
##% store enough information to uniquely identify the network flow over
##% which the request arrived.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% The registrar MUST store in the binding the
##% Contact URI, all the Contact header field parameters, and any Path
##% header field values.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Provided that the UAC had included an outbound
##% option-tag (defined in Section 11.4) in a Supported header field
##% value in the REGISTER request, the registrar MUST include the
##% outbound option-tag in a Require header field value in its response
##% to that REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Registrars with a direct flow with a UA MAY include a
##% Flow-Timer header in a 2xx class registration response that includes
##% the outbound option-tag in the Require header.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% When receiving a REGISTER request, the registrar MUST check from its
##% Via header field if the registrar is the first hop or not.  If the
##% registrar is not the first hop, it MUST examine the Path header of
##% the request.
def test_a_direct_flow_is_stored_with_the_binding_and_the_200_requires_outbound() -> None:
    reg = registrar()
    response = wire(reg.handle(outbound_register(), 10.0, source=UA_FLOW))
    assert response.status == 200
    assert response.header("Require") == ["outbound"]
    assert response.headers.get("Flow-Timer") == "30"
    [contact] = response.contact
    assert contact.params.get("reg-id") == "1" and "+sip.instance" in contact.params
    [binding] = reg.location.lookup(AOR, 10.0)
    assert binding.contact == "sip:bob@bob.invalid;transport=tcp;ob"
    assert binding.extra["instance"] == INSTANCE and binding.extra["reg-id"] == "1"
    assert "+sip.instance=" in binding.extra["params"]
    assert binding.flow is not None and binding.flow.startswith(PREFIX)
    assert binding.flow == flow_token("TCP", "192.0.2.1", 40000, prefix=PREFIX)
    # The registrar program passes "host:port": the transport is the top Via's (UDP).
    other = registrar()
    assert other.handle(outbound_register(), 10.0, source="192.0.2.1:40000").status == 200
    [same] = other.location.lookup(AOR, 10.0)
    assert same.flow == flow_token("UDP", "192.0.2.1", 40000, prefix=PREFIX)


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the registrar receives a re-registration for a specific
##% combination of AOR, and instance-id and reg-id values, the registrar
##% MUST update any information that uniquely identifies the network flow
##% over which the request arrived if that information has changed
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% and SHOULD update the time the binding was last updated.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% The registrar MUST be prepared to receive, simultaneously for the
##% same AOR, some registrations that use instance-id and reg-id and some
##% registrations that do not.
def test_the_same_instance_and_reg_id_replace_the_flow_another_reg_id_adds_one() -> None:
    reg = registrar()
    reg.handle(outbound_register(), 10.0, source=UA_FLOW)
    moved = Address("TCP", "192.0.2.1", 40001)  # a new connection, a new address too
    response = reg.handle(
        outbound_register(ob_contact(host="bob2.invalid"), cseq=2), 20.0, source=moved
    )
    assert response.status == 200
    [binding] = reg.location.lookup(AOR, 20.0)
    assert binding.contact.startswith("sip:bob@bob2.invalid")
    assert binding.flow == flow_token("TCP", "192.0.2.1", 40001, prefix=PREFIX)
    assert binding.expires_at == 20.0 + 3600
    # Another reg-id of the same instance is a second flow.
    second = Address("TCP", "192.0.2.1", 40002)
    reg.handle(outbound_register(ob_contact(2, "bob3.invalid"), cseq=3), 21.0, source=second)
    # A plain registration of the same AOR lives beside them.
    plain = register(AOR, contacts=("<sip:bob@192.0.2.7>",), call_id="plain")
    assert reg.handle(plain, 22.0, source=Address("UDP", "192.0.2.7", 5060)).status == 200
    bindings = reg.location.lookup(AOR, 22.0)
    assert sorted(b.extra.get("reg-id", "-") for b in bindings) == ["-", "1", "2"]


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the Path header field is missing or it exists but
##% the first URI does not have an "ob" URI parameter, then outbound
##% processing MUST NOT be applied to the registration.  In this case,
##% the following processing applies: if the REGISTER request contains
##% the reg-id and the outbound option tag in a Supported header field,
##% then the registrar MUST respond to the REGISTER request with a 439
##% (First Hop Lacks Outbound Support) response; otherwise, the registrar
##% MUST ignore the "reg-id" parameter of the Contact header.
##= https://www.rfc-editor.org/rfc/rfc5626#section-11.6
##= type=test
##% Proxies MUST NOT send a 439 response to any requests that do not
##% contain a "reg-id" parameter and an outbound option tag in a
##% Supported header field.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the Contact header did not contain a "reg-id" Contact header field
##% parameter or if that parameter was ignored (as described above), the
##% registrar MUST NOT include the outbound option-tag in the Require
##% header field of its response.
def test_not_first_hop_without_ob_in_path_is_439_or_the_reg_id_is_ignored() -> None:
    reg = registrar()
    no_ob = via_edge(outbound_register(), f"<sip:{EDGE};lr>")
    assert reg.handle(no_ob, 10.0).status == 439
    # Without outbound in Supported the reg-id is ignored: a plain binding, no Require.
    plain = via_edge(outbound_register(extra=(("Supported", "path"),)), f"<sip:{EDGE};lr>")
    response = reg.handle(plain, 10.0)
    assert response.status == 200 and response.header("Require") in (None, [])
    [binding] = reg.location.lookup(AOR, 10.0)
    assert "reg-id" not in binding.extra and binding.flow is None
    # A plain REGISTER with outbound in Supported but no reg-id: no 439 either.
    no_reg_id = register(AOR, contacts=("<sip:bob@192.0.2.9>",), extra=SUPPORTED, call_id="x")
    no_reg_id = via_edge(no_reg_id, f"<sip:{EDGE};lr>")
    response = reg.handle(no_reg_id, 11.0)
    assert response.status == 200 and response.header("Require") in (None, [])


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Registrars that implement this specification MUST support the Path
##% header mechanism [RFC3327].
def test_through_an_edge_with_ob_the_path_holds_the_flow_and_no_flow_timer_is_sent() -> None:
    reg = registrar()
    token = flow_token("TCP", "192.0.2.1", 40000, prefix=PREFIX)
    request = via_edge(outbound_register(), f"<sip:{token}@{EDGE};lr;ob>")
    response = reg.handle(request, 10.0, source=Address("UDP", "127.0.0.1", 5070))
    assert response.status == 200 and response.header("Require") == ["outbound"]
    assert response.headers.get("Flow-Timer") is None  # not a direct flow
    [binding] = reg.location.lookup(AOR, 10.0)
    assert binding.path == (f"<sip:{token}@{EDGE};lr;ob>",) and binding.flow is None
    assert binding.extra["reg-id"] == "1"


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Therefore, if the Contact header field contains
##% more than one header field value with a non-zero expiration and any
##% of these header field values contain a "reg-id" Contact header field
##% parameter, the entire registration SHOULD be rejected with a 400 (Bad
##% Request) response.
##= https://www.rfc-editor.org/rfc/rfc5626#section-10
##= type=test
##% The value of the reg-id MUST NOT be 0 and MUST be less than 2^31.
def test_bad_reg_ids_and_a_reg_id_among_several_contacts_are_400() -> None:
    reg = registrar()
    two = outbound_register(ob_contact(), "<sip:bob@192.0.2.8>")
    assert reg.handle(two, 1.0, source=UA_FLOW).status == 400
    for bad in ("0", str(2**31), "x1"):
        assert reg.handle(outbound_register(ob_contact(bad)), 1.0, source=UA_FLOW).status == 400
    assert reg.handle(outbound_register(ob_contact(2**31 - 1)), 1.0, source=UA_FLOW).status == 200
    # One contact registered, one removed (expires=0): allowed.
    gone = "<sip:bob@192.0.2.8>;expires=0"
    assert (
        reg.handle(outbound_register(ob_contact(), gone, cseq=2), 2.0, source=UA_FLOW).status
        == 200
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% The registrar MAY be configured with
##% local policy to reject any registrations that do not include the
##% instance-id and reg-id, or with Path header field values that do not
##% contain the "ob" URI parameter.
def test_an_outbound_only_registrar_refuses_other_registrations_with_421() -> None:
    reg = Registrar(
        SqliteLocationService(),
        RegistrarConfig(domains=DOMAINS),
        extensions=[PathRegistrar(), OutboundRegistrar(only=True)],
    )
    plain = reg.handle(register(AOR, extra=SUPPORTED), 1.0, source=UA_FLOW)
    assert plain.status == 421 and plain.header("Require") == ["outbound"]
    no_ob = via_edge(outbound_register(extra=(("Supported", "path"),)), f"<sip:{EDGE};lr>")
    assert reg.handle(no_ob, 1.0).status == 421
    assert reg.handle(outbound_register(), 1.0, source=UA_FLOW).status == 200


def test_a_reg_id_without_instance_id_is_ignored() -> None:
    reg = registrar()
    contact = "<sip:bob@192.0.2.8>;reg-id=1"
    response = reg.handle(outbound_register(contact), 1.0, source=UA_FLOW)
    assert response.status == 200 and response.header("Require") in (None, [])
    [binding] = reg.location.lookup(AOR, 1.0)
    assert "reg-id" not in binding.extra and binding.flow is None


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% The server MUST wait for an amount of time
##% larger than the Flow-Timer in order to have a grace period to account
##% for transport delay.
def test_flows_outlive_the_flow_timer_by_a_grace_period() -> None:
    args = argparse.Namespace(outbound=True, flow_timer=120)
    assert outbound_limits(args, TransportLimits()).idle_timeout > 120
    args = argparse.Namespace(outbound=False, flow_timer=120)
    assert outbound_limits(args, TransportLimits()).idle_timeout == TransportLimits().idle_timeout


# -- the edge proxy (§5) ---------------------------------------------------------------


def edge_proxy(alive: bool = True) -> Proxy:
    config = ProxyConfig(host="127.0.0.1", port=5070)
    extension = OutboundProxy({"UDP": EDGE, "TCP": EDGE}, flow_alive=lambda hop: alive)
    return Proxy(config, SqliteLocationService(), registrar=False, extensions=[extension])


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% If the edge proxy is the first hop, as
##% indicated by the Via header field, it MUST insert its URI in a Path
##% header field value as described in [RFC3327].
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% In addition, if the edge proxy is the first SIP node
##% after the UAC, the edge proxy either MUST store a "flow token"
##% (containing information about the flow from the previous hop) in its
##% Path URI or reject the request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% The flow token MUST be an identifier
##% that is unique to this network flow.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% The flow token MAY be placed in
##% the userpart of the URI.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% In addition, the first node MUST include an
##% "ob" URI parameter in its Path header field value.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% If the edge proxy
##% is not the first SIP node after the UAC it MUST NOT place an "ob" URI
##% parameter in a Path header field value.
def test_the_edge_names_the_flow_in_its_path_with_ob_only_as_first_hop() -> None:
    edge = edge_proxy()
    request = outbound_register()
    request.headers.add("Route", f"<sip:{EDGE};lr>")
    [send] = forwarded(edge.receive_request(wire(request), UA_FLOW, 0.0))
    [path] = path_values(wire(send.message))
    assert "ob" in path.uri.params and path.uri.lr
    assert path.uri.user == flow_token("TCP", "192.0.2.1", 40000, prefix=PREFIX)
    # Another flow, another token.
    other = outbound_register(call_id="reg-2@bob")
    [send2] = forwarded(edge.receive_request(other, Address("TCP", "192.0.2.1", 40001), 0.0))
    assert path_values(wire(send2.message))[0].uri.user != path.uri.user
    # Not the first hop (a proxy before us): a plain Path, no ob, no token.
    relayed = outbound_register(call_id="reg-3@bob")
    relayed.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKother")
    [send3] = forwarded(edge.receive_request(wire(relayed), "192.0.2.50", 0.0))
    [plain] = path_values(wire(send3.message))
    assert "ob" not in plain.uri.params and plain.uri.user is None


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If the Route header value contains an "ob" URI parameter, and the
##% request is a new dialog-forming request, the proxy needs to adjust
##% the route set to ensure that subsequent requests in the dialog can be
##% delivered over a valid flow to the UA instance identified by the flow
##% token.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If
##% the flow token has been tampered with, the proxy SHOULD send a 403
##% (Forbidden) response.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If the flow no longer exists, the proxy SHOULD
##% send a 430 (Flow Failed) response to the request.
def test_a_request_routed_by_the_token_goes_over_the_flow_or_gets_430_or_403() -> None:
    token = flow_token("TCP", "192.0.2.1", 40000, prefix=PREFIX)
    home = Address("UDP", "127.0.0.1", 5060)

    def incoming(user: str) -> Request:
        return invite(
            "sip:bob@bob.invalid;transport=tcp;ob",
            extra=(("Route", f"<sip:{user}@{EDGE};lr;ob>"),),
        )

    [send] = forwarded(edge_proxy().receive_request(incoming(token), home, 0.0))
    assert (send.destination.transport, send.destination.host, send.destination.port) == (
        "TCP",
        "192.0.2.1",
        40000,
    )
    copy = wire(send.message)
    assert copy.top_via.transport == "TCP"
    assert copy.route == []
    assert copy.record_route[0].uri.user == token  # the dialog comes back over the flow
    [gone] = responses(edge_proxy(alive=False).receive_request(incoming(token), home, 0.0))
    assert gone.status == 430
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    [refused] = responses(edge_proxy().receive_request(incoming(forged), home, 0.0))
    assert refused.status == 403
    # From the UA over that very flow ("outgoing"): routed as usual, by Request-URI.
    outgoing = invite("sip:alice@127.0.0.1:5090", extra=(("Route", f"<sip:{token}@{EDGE};lr>"),))
    [out] = forwarded(edge_proxy().receive_request(outgoing, UA_FLOW, 0.0))
    assert (out.destination.host, out.destination.port) == ("127.0.0.1", 5090)
    # A new dialog from an outbound UA (ob in its Contact) over its flow: our
    # Record-Route names the flow, so the dialog's requests come back over it.
    dialog = invite("sip:alice@127.0.0.1:5090")
    dialog.headers.set("Contact", "<sip:bob@bob.invalid;transport=tcp;ob>")
    [out] = forwarded(edge_proxy().receive_request(wire(dialog), UA_FLOW, 0.0))
    assert wire(out.message).record_route[0].uri.user == token


# -- the authoritative proxy (§7) -------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% The proxy MUST NOT populate the target set with more than one
##% contact with the same AOR and instance-id at a time.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy is co-located with the registrar and stored information
##% about the flow to the UA that created the binding, then the proxy
##% MUST send the request over the same 'logical flow' saved with the
##% binding, since that flow is known to deliver data to the specific
##% target UA instance's network flow that was saved with the binding.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If a proxy or registrar receives information from the network that
##% indicates that no future messages will be delivered on a specific
##% flow, then the proxy MUST invalidate all the bindings in the target
##% set that use that flow (regardless of AOR).
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% Similarly, if a proxy closes a file descriptor, it
##% MUST invalidate all the bindings in the target set with flows that
##% use that file descriptor.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy receives a final response from a branch other than a
##% 408 (Request Timeout) or a 430 (Flow Failed) response, the proxy
##% MUST NOT forward the same request to another target representing
##% the same AOR and instance-id.
def test_one_target_per_instance_over_its_live_flow() -> None:
    dead: set[int] = set()
    location = SqliteLocationService()
    config = ProxyConfig(host="127.0.0.1", port=5060, domains=DOMAINS)
    home_registrar = Registrar(
        location,
        RegistrarConfig(domains=DOMAINS),
        extensions=[PathRegistrar(), OutboundRegistrar()],
    )
    extension = OutboundProxy(
        {"UDP": "127.0.0.1:5060"}, edge=False, flow_alive=lambda hop: hop.port not in dead
    )
    home = Proxy(config, location, registrar=home_registrar, extensions=[extension])
    for reg_id, port in ((1, 40000), (2, 40001)):
        request = outbound_register(ob_contact(reg_id, f"b{reg_id}.invalid"), cseq=reg_id)
        [ok] = responses(home.receive_request(request, Address("TCP", "192.0.2.1", port), 0.0))
        assert ok.status == 200
    assert len(location.lookup(AOR, 1.0)) == 2
    sends = forwarded(home.receive_request(invite(AOR), Address("UDP", "192.0.2.9", 5060), 1.0))
    assert len(sends) == 1  # one instance: one branch
    assert (sends[0].destination.transport, sends[0].destination.port) in (
        ("TCP", 40000),
        ("TCP", 40001),
    )
    first = sends[0].destination.port
    dead.add(first)  # that connection closed
    [again] = forwarded(
        home.receive_request(invite(AOR, call_id="c2"), Address("UDP", "192.0.2.9", 5060), 2.0)
    )
    assert again.destination.port != first
    dead.add(again.destination.port)
    [none] = responses(
        home.receive_request(invite(AOR, call_id="c3"), Address("UDP", "192.0.2.9", 5060), 3.0)
    )
    assert none.status == 480


def home_with_two_flows() -> Proxy:
    location = SqliteLocationService()
    config = ProxyConfig(host="127.0.0.1", port=5060, domains=DOMAINS)
    home_registrar = Registrar(
        location,
        RegistrarConfig(domains=DOMAINS),
        extensions=[PathRegistrar(), OutboundRegistrar()],
    )
    home = Proxy(
        config,
        location,
        registrar=home_registrar,
        extensions=[OutboundProxy({"UDP": "127.0.0.1:5060"}, edge=False)],
    )
    for reg_id, port in ((1, 40000), (2, 40001)):
        request = outbound_register(ob_contact(reg_id, f"b{reg_id}.invalid"), cseq=reg_id)
        home.receive_request(request, Address("TCP", "192.0.2.1", port), 0.0)
    return home


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If a request for a particular AOR and instance-id fails with a 430
##% (Flow Failed) response, the proxy SHOULD replace the failed branch
##% with another target (if one is available) with the same AOR and
##% instance-id, but a different reg-id.
##= https://www.rfc-editor.org/rfc/rfc5626#section-11.5
##= type=test
##% The Authoritative Proxy SHOULD attempt to forward to another target
##% (flow) with the same instance-id and AOR.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy receives a final response from a branch other than a
##% 408 (Request Timeout) or a 430 (Flow Failed) response, the proxy
##% MUST NOT forward the same request to another target representing
##% the same AOR and instance-id.
def test_after_a_430_the_other_flow_of_the_instance_is_tried_after_a_486_none() -> None:
    caller = Address("UDP", "192.0.2.9", 5060)
    for status, retried in ((430, True), (486, False)):
        home = home_with_two_flows()
        [first] = forwarded(home.receive_request(invite(AOR, call_id=f"c{status}"), caller, 1.0))
        answer = wire(first.message).make_response(status, to_tag="x")
        sends = home.receive_response(wire(answer), first.destination, 1.1)
        invites = [s for s in forwarded(sends) if s.message.method == "INVITE"]
        finals = responses(sends)
        if retried:
            [second] = invites
            assert second.destination.port != first.destination.port
            assert finals == []
        else:
            assert invites == []
            assert [r.status for r in finals] == [486]


def test_targets_keep_bindings_without_instance() -> None:
    extension = OutboundProxy(EDGE, edge=False)
    from rfc3261.proxy import Target

    plain = [Target.from_binding(Binding(AOR, f"sip:bob@192.0.2.{i}", 10, "c", 1)) for i in (1, 2)]
    assert extension.targets(invite(AOR), plain) == plain


# -- STUN (§8) -------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% The UAS, proxy, or
##% registrar responds to a valid Binding Request with a Binding Response
##% that MUST include the XOR-MAPPED-ADDRESS attribute.
def test_stun_binding_response_carries_the_xor_mapped_address() -> None:
    request = binding_request(b"0123456789ab")
    assert is_stun(request) and not is_stun(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
    for host in ("192.0.2.1", "2001:db8::1"):
        response = binding_response(request, host, 40000)
        assert response is not None and is_stun(response)
        assert parse_binding_response(response) == (b"0123456789ab", host, 40000)
    assert binding_response(b"\x01\x01" + request[2:], "192.0.2.1", 1) is None  # a response
    assert binding_response(request[:-1], "192.0.2.1", 1) is None  # truncated
    assert parse_binding_response(request) is None
