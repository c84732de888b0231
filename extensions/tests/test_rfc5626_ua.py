"""RFC 5626 outbound, the UA side (``extensions/rfc5626_ua.py``), sans-I/O: time by hand.

The UA registers through scripted edge proxies in the in-memory network of
``rfc3261.tests.ua_support``; keep-alive answers (pongs, STUN responses) and closed
connections are fed in by the test the way the asyncio edge does.
"""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extensions.rfc5626_ua import (
    BINDING_ERROR,
    BINDING_REQUEST,
    BINDING_SUCCESS,
    STUN_MAGIC_COOKIE,
    Flow,
    FlowEvent,
    KeepAlive,
    Outbound,
    OutboundSettings,
    SendKeepAlive,
    StunMessage,
    check_instance_id,
    new_instance_id,
    parse_stun,
    retry_delay,
)
from rfc3261.message import Request, Response
from rfc3261.tests.ua_support import Network, Node, make_ua

INSTANCE = "urn:uuid:00000000-0000-1000-8000-000A95A0E128"
EDGE1 = "sip:edge1.example.com;transport=tcp"
EDGE2 = "sip:edge2.example.com;transport=tcp"


def registrar(*, outbound: bool = True, flow_timer: int | None = None, status: int = 200):
    """A scripted edge+registrar: 200 with Require: outbound (or ``status``)."""

    def script(request: Request) -> list[Response]:
        if request.method != "REGISTER":
            return [request.make_response(405)]
        if status != 200:
            response = request.make_response(status)
            if status == 503:
                response.headers.add("Retry-After", "5")
            return [response]
        response = request.make_response(200)
        if "Contact" in request.headers:
            response.headers.add("Contact", request.headers.get("Contact"))
        if outbound:
            response.headers.add("Require", "outbound")
        if flow_timer is not None:
            response.headers.add("Flow-Timer", str(flow_timer))
        return [response]

    return script


def setup(
    proxies: list[str] | None = None, *, seed: int = 1, **script: object
) -> tuple[Network, Node, Outbound]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=seed))
    outbound = Outbound(OutboundSettings(INSTANCE, proxies or [EDGE1], base_time_all_failed=30.0))
    alice.ua.use(outbound)
    for uri in proxies or [EDGE1]:
        host = uri.split(":", 1)[1].split(";")[0]
        net.add_script(host, registrar(**script))  # type: ignore[arg-type]
    return net, alice, outbound


def registers(net: Network, host: str) -> list[Request]:
    return [
        m for _, m in net.nodes[host].received if isinstance(m, Request) and m.method == "REGISTER"
    ]


def pings(node: Node, flow: Flow) -> list[SendKeepAlive]:
    return [e for e in node.of(SendKeepAlive) if e.flow is flow]


def states(node: Node, flow: Flow) -> list[str]:
    return [e.state for e in node.of(FlowEvent) if e.flow is flow]


# -- the REGISTER (§4.1, §4.2) -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% For each outbound proxy URI in the set, the User Agent Client (UAC)
##% SHOULD send a REGISTER request using this URI as the default outbound
##% proxy.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% If the set has more than
##% one URI, the UAC MUST send a REGISTER request to at least two of the
##% default outbound proxies from the set.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% UAs that support this specification MUST include the outbound option tag in a
##% Supported header field in a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% Each of these REGISTER requests
##% will use a unique Call-ID.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% REGISTER requests, other than those described in Section 4.2.3, MUST
##% include an instance-id media feature tag as specified in Section 4.1.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% A UAC conforming to this specification MUST include in the Contact
##% header field, a "reg-id" parameter that is distinct from other
##% "reg-id" parameters used in other registrations that use the same
##% "+sip.instance" Contact header field parameter and AOR.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% The UAC MUST support the Path header [RFC3327] mechanism, and
##% indicate its support by including the 'path' option-tag in a
##% Supported header field value in its REGISTER requests.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% However, a UA MUST support sets with at
##% least two outbound proxy URIs and SHOULD support sets with up to four
##% URIs.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% Forming the route set for the request is
##% outside the scope of this document, but typically results in sending
##% the REGISTER such that the topmost Route header field contains a
##% loose route to the outbound proxy URI.
##= https://www.rfc-editor.org/rfc/rfc5626#section-10
##= type=test
##% The value of the reg-id MUST NOT be 0 and MUST be less than 2^31.
def test_one_register_per_outbound_proxy_with_instance_and_reg_id() -> None:
    net, alice, outbound = setup([EDGE1, EDGE2])
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    first, second = registers(net, "edge1.example.com"), registers(net, "edge2.example.com")
    assert len(first) == len(second) == 1
    assert first[0].call_id != second[0].call_id
    for request, reg_id, host in ((first[0], "1", "edge1"), (second[0], "2", "edge2")):
        (contact,) = request.contact
        assert contact.params.get("+sip.instance") == f'"<{INSTANCE.lower()}>"'
        assert contact.params.get("reg-id") == reg_id
        tags = {str(t) for t in request.header("Supported")}
        assert {"outbound", "path"} <= tags
        (route,) = request.route
        assert route.uri.host == f"{host}.example.com" and route.uri.lr
        assert str(request.uri) == "sip:example.com"
    assert [f.state for f in outbound.flows] == ["active", "active"]
    # Four URIs are a valid set, five are not.
    OutboundSettings(INSTANCE, [EDGE1, EDGE2, EDGE1, EDGE2])
    with pytest.raises(ValueError):
        OutboundSettings(INSTANCE, [EDGE1] * 5)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% The sequence of reg-id values does not have to be sequential but MUST
##% be exactly the same sequence of reg-id values each time the UA
##% instance power cycles or reboots, so that the reg-id values will
##% collide with the previously used reg-id values.
def test_reg_ids_are_the_same_after_a_reboot() -> None:
    seen = []
    for seed in (1, 2):  # two boots of the same configuration
        _, _, outbound = setup([EDGE1, EDGE2], seed=seed)
        seen.append([(f.reg_id, str(f.proxy)) for f in outbound.flows])
    assert seen[0] == seen[1] == [(1, EDGE1), (2, EDGE2)]


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% A UA SHOULD create a Universally Unique Identifier (UUID) URN
##% [RFC4122] as its instance-id.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% If a URN scheme other than UUID is used, the UA MUST only use URNs
##% for which an RFC (from the IETF stream) defines how the specific URN
##% needs to be constructed and used in the "+sip.instance" Contact
##% header field parameter for outbound behavior.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% Each UA MUST have an Instance Identifier Uniform Resource Name (URN)
##% [RFC2141] that uniquely identifies the device.
def test_instance_id_is_a_uuid_urn() -> None:
    urn = new_instance_id(random.Random(7))
    assert urn.startswith("urn:uuid:") and check_instance_id(urn) == urn
    assert new_instance_id(random.Random(8)) != urn
    assert check_instance_id(INSTANCE) == INSTANCE.lower()
    for bad in ("urn:example:phone", "uuid:1234", "urn:uuid:not-a-uuid"):
        with pytest.raises(ValueError):
            OutboundSettings(bad, [EDGE1])


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% This
##% URN MUST be persistent across power cycles of the device.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% The
##% instance ID MUST NOT change as the device moves from one network to
##% another.
def test_the_instance_id_survives_a_reboot_and_a_move_to_another_network() -> None:
    seen = set()
    # Two boots, the second on another network (another contact address and RNG).
    for seed, contact in ((1, "sip:alice@alice.example.com"), (9, "sip:alice@10.9.8.7:5070")):
        net = Network()
        alice = net.add_ua(make_ua("alice", seed=seed, contact=contact))
        outbound = Outbound(OutboundSettings(INSTANCE, [EDGE1]))
        alice.ua.use(outbound)
        net.add_script("edge1.example.com", registrar())
        net.call(alice, outbound.start(net.now))
        net.run(1.0)
        net.call(alice, outbound.connection_closed(outbound.flows[0], net.now))
        net.run(2.0)
        for request in registers(net, "edge1.example.com"):
            seen.add(request.contact[0].params.get("+sip.instance"))
    assert seen == {f'"<{INSTANCE.lower()}>"'}


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.3
##= type=test
##% A UAC also MUST NOT include an instance-id feature tag or "reg-id"
##% Contact header field parameter in a request to un-register all
##% Contacts (a single Contact header field value with the value of "*").
def test_unregister_all_has_no_instance_or_reg_id() -> None:
    net, alice, outbound = setup()
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    registration = outbound.flows[0].registration
    assert registration is not None
    net.call(alice, registration.unregister_all(net.now))
    net.run(2.0)
    last = registers(net, "edge1.example.com")[-1]
    assert last.headers.get("Contact") == "*"
    assert "reg-id" not in str(last) and "sip.instance" not in str(last)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.3
##= type=test
##% In an initial registration or re-registration, a UA MUST NOT include
##% a "reg-id" header field parameter in the Contact header field if the
##% registering UA is not the same instance as the UA referred to by the
##% target Contact header field.
def test_third_party_contact_gets_no_reg_id() -> None:
    _, alice, outbound = setup()
    flow = outbound.flows[0]
    ua = alice.ua
    request = ua.build_request("REGISTER", ua.aor, request_uri="sip:example.com", contact=False)
    request.headers.add("Contact", "<sip:carol@carol.example.com>")
    outbound._register_fields(request, flow)
    assert request.headers.get("Contact") == "<sip:carol@carol.example.com>"
    own = ua.build_request("REGISTER", ua.aor, request_uri="sip:example.com", contact=True)
    outbound._register_fields(own, flow)
    assert "reg-id=1" in own.headers.get("Contact")


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% UAs that support this specification SHOULD include the outbound
##% option tag in a Supported header field in a request that is not a
##% REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% If the UAC is not using such a GRUU, then the UAC adds an "ob" parameter to its Contact
##% header field value.
def test_dialog_forming_requests_carry_ob_and_supported_outbound() -> None:
    net, alice, _ = setup()
    ua = alice.ua
    request = ua.build_request("INVITE", "sip:bob@edge1.example.com")
    net.call(alice, ua.send(request, net.now)[1])
    net.run(0.5)
    invite = next(m for _, m in net.nodes["edge1.example.com"].received if isinstance(m, Request))
    assert "outbound" in {str(t) for t in invite.header("Supported")}
    assert "ob" in invite.contact[0].uri.params


# -- what the 2xx says (§4.2.1) ------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% The UAC examines successful registration responses for the presence
##% of an outbound option-tag in a Require header field value.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% It is the responsibility of the UA to remove any inappropriate
##% Contacts.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% A SIP node MUST NOT send STUN requests over a flow unless it has an
##% explicit indication that the target next-hop SIP server claims to
##% support this specification.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% UACs MUST NOT use an ambiguous
##% configuration option such as "Work through NATs?" or "Do keep-
##% alives?" to imply next-hop STUN support.
def test_a_2xx_without_require_outbound_removes_the_contact_and_sends_no_keepalive() -> None:
    net, alice, outbound = setup(["sip:edge1.example.com"], outbound=False)
    net.call(alice, outbound.start(net.now))
    net.run(200.0)
    flow = outbound.flows[0]
    assert flow.state == "unsupported"
    _, removal = registers(net, "edge1.example.com")
    assert removal.expires == 0 or "expires=0" in removal.headers.get("Contact")
    assert pings(alice, flow) == []


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% If outbound registration succeeded, as indicated by the presence of
##% the outbound option-tag in the Require header field of a successful
##% registration response, the UA begins sending keep-alives as described
##% in Section 4.4.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% For this mechanism, the client "ping" is a double-CRLF sequence, and
##% the server "pong" is a single CRLF, as defined in the ABNF below:
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% Clients MUST support this CRLF keep-alive.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% This approach MUST only be used with connection oriented transports
##% such as TCP or SCTP; it MUST NOT be used with connection-less
##% transports such as UDP.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% The UA MUST select a random number between a fixed or
##% configurable upper bound and a lower bound, where the lower bound is
##% 20% less then the upper bound.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% The fixed upper bound or the default
##% configurable upper bound SHOULD be 120 seconds (95 seconds for the
##% lower bound) where battery power is not a concern and 840 seconds
##% (672 seconds for the lower bound) where battery power is a concern.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% The random number will be different for each keep-alive "ping".
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% The sections below provide RECOMMENDED default values for these keep-
##% alives.
def test_crlf_pings_on_tcp_at_random_intervals_of_96_to_120_s() -> None:
    net, alice, outbound = setup()
    flow = outbound.flows[0]
    alice.on_event = lambda net, e: (
        net.call(alice, outbound.pong(flow, net.now + 0.01))
        if isinstance(e, SendKeepAlive)
        else None
    )
    net.call(alice, outbound.start(net.now))
    net.run(1000.0)
    sent = [t for t, e in alice.events if isinstance(e, SendKeepAlive)]
    assert all(e.data == b"\r\n\r\n" for e in pings(alice, flow))
    assert sent[0] < 0.1  # the first at once: it proves the new flow (§4.5)
    gaps = [b - a for a, b in itertools.pairwise(sent[1:])]
    assert len(gaps) >= 6
    assert all(96.0 - 0.02 <= gap <= 120.0 + 0.02 for gap in gaps)
    assert len({round(gap, 3) for gap in gaps}) == len(gaps)
    assert flow.state == "active" and flow.successful


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% The UA MUST
##% send keep-alives at least as often as this number of seconds.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% If the
##% UA uses the server-recommended keep-alive frequency it SHOULD send
##% its keep-alives so that the interval between each keep-alive is
##% randomly distributed between 80% and 100% of the server-provided
##% time.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% When a successful registration response contains the Flow-Timer
##% header field, the value of this header field is the number of seconds
##% the server is prepared to wait without seeing keep-alives before it
##% could consider the corresponding flow dead.
def test_flow_timer_sets_the_interval_to_80_to_100_percent() -> None:
    net, alice, outbound = setup(flow_timer=30)
    flow = outbound.flows[0]
    alice.on_event = lambda net, e: (
        net.call(alice, outbound.pong(flow, net.now)) if isinstance(e, SendKeepAlive) else None
    )
    net.call(alice, outbound.start(net.now))
    net.run(400.0)
    sent = [t for t, e in alice.events if isinstance(e, SendKeepAlive)]
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert len(gaps) >= 10
    assert all(24.0 <= gap <= 30.0 for gap in gaps)
    assert flow.flow_timer == 30


# -- failure and recovery (§4.4.1, §4.5) -------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% If a pong is not received within 10 seconds after sending a ping (or
##% immediately after processing any incoming message being received when
##% that 10 seconds expires), then the client MUST treat the flow as
##% failed.
##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5.1
##= type=test
##% If
##% the client does not receive a "pong" within an appropriate amount of
##% time, it considers the flow failed.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% If
##% a flow with a registration has failed, the UA follows the procedures
##% in Section 4.2 to form a new flow to replace the failed one.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% Each new registration MUST have the same reg-id
##% value as the registration it replaces.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% For the purposes of this
##% section, a flow is considered successful if outbound registration
##% succeeded, and if keep-alives are in use on this flow, at least one
##% subsequent keep-alive response was received.
def test_a_missing_pong_fails_the_flow_at_10_s_and_a_working_flow_is_replaced_at_once() -> None:
    net, alice, outbound = setup()
    flow = outbound.flows[0]
    answer = [True]
    alice.on_event = lambda net, e: (
        net.call(alice, outbound.pong(flow, net.now))
        if isinstance(e, SendKeepAlive) and answer[0]
        else None
    )
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    answer[0] = False  # the edge goes silent
    net.run(125.0)
    (failed,) = [
        (t, e) for t, e in alice.events if isinstance(e, FlowEvent) and e.state == "failed"
    ]
    last_ping = [t for t, e in alice.events if isinstance(e, SendKeepAlive) and t < failed[0]][-1]
    assert failed[0] == pytest.approx(last_ping + 10.0)
    first, second = registers(net, "edge1.example.com")
    assert second.call_id != first.call_id
    assert second.contact[0].params.get("reg-id") == first.contact[0].params.get("reg-id") == "1"
    # Re-formed at once: the flow had worked (a pong came after its registration).
    assert states(alice, flow)[-3:] == ["failed", "registering", "active"]


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% The UA MUST wait for at least the value of the retry delay time
##% before trying another registration to form a new flow for that URI (a
##% 503 response to an earlier failed registration attempt with a Retry-
##% After header field value may cause the UA to wait longer).
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% If
##% all of the flows to every URI in the outbound proxy set have failed,
##% the base-time is set to a lower value (with a default of 30 seconds);
##% otherwise, in the case where at least one of the flows has not
##% failed, the base-time is set to a higher value (with a default of 90
##% seconds).
def test_failing_to_form_a_flow_backs_off_30_to_60_s_then_60_to_120_s() -> None:
    net, alice, outbound = setup(status=500)
    net.call(alice, outbound.start(net.now))
    net.run(400.0)
    times = [t for t, src, dst, line in net.wire if line.startswith("REGISTER")]
    assert len(times) >= 3
    assert 30.0 <= times[1] - times[0] <= 60.1
    assert 60.0 <= times[2] - times[1] <= 120.1
    assert outbound.flows[0].consecutive_failures >= 2


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% W = min (max-time, (base-time * (2 ^ consecutive-failures)))
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% The actual amount of time the UA waits before retrying
##% registration (the retry delay time) is computed by selecting a
##% uniform random time between 50 and 100% of the upper-bound wait time.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% These times MAY be configurable in the UA.
def test_retry_delay_formula() -> None:
    settings = OutboundSettings(INSTANCE, [EDGE1])
    rng = random.Random(3)
    assert retry_delay(0, True, settings, rng) == 0.0
    for failures, all_failed, upper in (
        (1, True, 60),
        (3, True, 240),
        (3, False, 720),
        (9, True, 1800),
        (2000, False, 1800),
    ):
        draws = [retry_delay(failures, all_failed, settings, rng) for _ in range(200)]
        assert all(upper / 2 <= d <= upper for d in draws)
        assert max(draws) - min(draws) > upper / 4  # spread over the range
    quick = OutboundSettings(INSTANCE, [EDGE1], base_time_all_failed=1.0, max_time=3.0)
    assert all(1.5 <= retry_delay(5, True, quick, rng) <= 3.0 for _ in range(20))


def test_another_working_flow_makes_the_wait_90_to_180_s() -> None:
    net, alice, outbound = setup([EDGE1, EDGE2])
    one, two = outbound.flows
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    net.nodes["edge2.example.com"].script = registrar(status=500)
    net.call(alice, outbound.connection_closed(two, net.now))  # never had a pong
    net.run(2.0)
    assert one.state == "active" and two.state == "waiting"
    assert two.retry_at is not None and 90.0 <= two.retry_at - 1.0 <= 180.0


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% The UA needs to detect when a specific flow fails.
def test_a_closed_connection_fails_a_working_flow_and_registers_again_at_once() -> None:
    net, alice, outbound = setup([EDGE1, EDGE2])
    one, two = outbound.flows
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    net.call(alice, outbound.pong(one, net.now))
    net.call(alice, outbound.pong(two, net.now))
    net.call(alice, outbound.connection_closed(one, net.now))
    net.run(2.0)
    assert len(registers(net, "edge1.example.com")) == 2
    assert len(registers(net, "edge2.example.com")) == 1  # the other flow is untouched
    assert one.state == two.state == "active"
    # A close reported for a flow not active (already failed) changes nothing.
    assert outbound.connection_closed(Flow(outbound, 9, one.proxy, "TCP", "x", 1), 2.0) == []


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
##= type=test
##% If a re-registration is rejected with a recoverable error response,
##% for example by a 503 (Service Unavailable) containing a Retry-After
##% header, the UAC SHOULD NOT tear down the corresponding flow if the
##% flow uses a connection-oriented transport such as TCP.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
##= type=test
##% As long as
##% "pongs" are received in response to "pings", the flow SHOULD be kept
##% active until a non-recoverable error response is received.
def test_a_503_to_a_refresh_keeps_a_tcp_flow() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    outbound = Outbound(OutboundSettings(INSTANCE, [EDGE1], expires=100))
    alice.ua.use(outbound)
    # Pongs every 2.4-3 s (Flow-Timer: 3) while the refresh waits for its retry.
    edge = net.add_script("edge1.example.com", registrar(flow_timer=3))
    flow = outbound.flows[0]
    alice.on_event = lambda net, e: (
        net.call(alice, outbound.pong(flow, net.now)) if isinstance(e, SendKeepAlive) else None
    )
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    edge.script = registrar(status=503)
    net.run(58.0)  # the refresh (at 50 s) gets 503 Retry-After: 5: again at 55 s
    times = [t for t, src, dst, line in net.wire if line.startswith("REGISTER")]
    assert times[1] == pytest.approx(50.0, abs=0.1)
    assert times[2] == pytest.approx(55.02, abs=0.1)
    assert flow.state == "active" and "failed" not in states(alice, flow)
    edge.script = registrar(status=403)  # not recoverable: the flow goes
    net.run(80.0)
    assert "failed" in states(alice, flow)


# -- STUN on UDP (§4.4.2, §8) ------------------------------------------------------------


def stun_success(transaction_id: bytes, host: str, port: int) -> bytes:
    """A Binding success response with XOR-MAPPED-ADDRESS (IPv4), as an edge sends it."""
    cookie = struct.pack("!I", STUN_MAGIC_COOKIE)
    address = bytes(int(p) for p in host.split("."))
    xored = bytes(a ^ b for a, b in zip(address, cookie, strict=True))
    value = struct.pack("!BBH", 0, 1, port ^ (STUN_MAGIC_COOKIE >> 16)) + xored
    attribute = struct.pack("!HH", 0x0020, len(value)) + value
    return struct.pack("!HHI", BINDING_SUCCESS, len(attribute), STUN_MAGIC_COOKIE) + (
        transaction_id + attribute
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% The UA can
##% periodically perform keep-alive checks by sending STUN [RFC5389]
##% Binding Requests over the flow as described in Section 8.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% Clients
##% MUST support STUN-based keep-alives.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% This approach MUST only be used with connection-less transports, such
##% as UDP; it MUST NOT be used for connection-oriented transports such
##% as TCP and SCTP.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% When a Flow-Timer header field is not included in a successful
##% registration response, the time between each keep-alive request
##% SHOULD be a random number between 24 and 29 seconds.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% These Binding Requests do not require any STUN attributes.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% The only STUN messages required by this usage are Binding Requests,
##% Binding Responses, and Binding Error Responses.
def test_stun_binding_requests_on_udp_every_24_to_29_s() -> None:
    net, alice, outbound = setup(["sip:edge1.example.com"])
    flow = outbound.flows[0]
    assert flow.transport == "UDP"

    def answer(net: Network, event: object) -> None:
        if isinstance(event, SendKeepAlive):
            request = parse_stun(event.data)
            assert request is not None and request.type == BINDING_REQUEST
            assert len(event.data) == 20  # no attributes
            reply = stun_success(request.transaction_id, "192.0.2.7", 5060)
            net.call(alice, outbound.stun_received(flow, reply, net.now))

    alice.on_event = answer
    net.call(alice, outbound.start(net.now))
    net.run(300.0)
    sent = [t for t, e in alice.events if isinstance(e, SendKeepAlive)]
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert len(gaps) >= 9 and all(24.0 <= gap <= 29.0 for gap in gaps)
    assert flow.keepalive is not None and flow.keepalive.mapped == ("192.0.2.7", 5060)
    assert flow.state == "active" and flow.successful


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% If a STUN Binding Error Response is received, or if no Binding
##% Response is received after 7 retransmissions (16 times the STUN "RTO"
##% timer -- where RTO is an estimate of round-trip time), the UA
##% considers the flow failed.
def test_an_unanswered_stun_request_is_sent_7_times_then_the_flow_fails() -> None:
    keepalive = KeepAlive(False, OutboundSettings(INSTANCE, [EDGE1]), random.Random(1))
    keepalive.start(0.0)
    sent, now = [], 0.0
    while True:
        due = keepalive.poll(now)
        if due is not None and due[0] == "failed":
            break
        if due is not None:
            sent.append(now)
        now = keepalive.next_deadline()  # type: ignore[assignment]
    assert sent == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert now == pytest.approx(39.5)
    # An error response fails the flow at once.
    keepalive.start(100.0)
    (_, request) = keepalive.poll(100.0)  # type: ignore[misc]
    error = StunMessage(BINDING_ERROR, parse_stun(request).transaction_id)  # type: ignore[union-attr]
    assert keepalive.stun(error, 100.1) == "STUN Binding error response"


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% If the XOR-MAPPED-ADDRESS in the STUN
##% Binding Response changes, the UA MUST treat this event as a failure
##% on the flow.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% For
##% SIP over UDP flows, if the XOR-MAPPED-ADDRESS returned over the flow
##% changes, this indicates that the underlying connectivity has changed,
##% and is considered a flow failure.
def test_a_changed_mapped_address_fails_the_flow_and_it_is_formed_again() -> None:
    net, alice, outbound = setup(["sip:edge1.example.com"])
    flow = outbound.flows[0]
    mapped = [("192.0.2.7", 5060)]

    def answer(net: Network, event: object) -> None:
        if isinstance(event, SendKeepAlive):
            request = parse_stun(event.data)
            assert request is not None
            reply = stun_success(request.transaction_id, *mapped[0])
            net.call(alice, outbound.stun_received(flow, reply, net.now))

    alice.on_event = answer
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    mapped[0] = ("192.0.2.8", 40000)  # the NAT rebooted
    net.run(31.0)
    assert "failed" in states(alice, flow)
    assert len(registers(net, "edge1.example.com")) == 2
    assert flow.state == "active"


def test_stun_parser_rejects_what_is_not_stun() -> None:
    assert parse_stun(b"REGISTER sip:example.com SIP/2.0\r\n\r\n") is None
    request = struct.pack("!HHI", BINDING_REQUEST, 0, STUN_MAGIC_COOKIE) + bytes(12)
    assert parse_stun(request) == StunMessage(BINDING_REQUEST, bytes(12))
    assert parse_stun(request[:-1]) is None  # truncated
    assert parse_stun(request[:2] + b"\x00\x04" + request[4:]) is None  # length lies
    # An attribute running past the end.
    bad = (
        struct.pack("!HHI", BINDING_SUCCESS, 8, STUN_MAGIC_COOKIE)
        + bytes(12)
        + struct.pack("!HH", 0x0020, 40)
        + bytes(4)
    )
    assert parse_stun(bad) is None


def test_a_flow_formed_again_leaves_no_refresh_of_the_old_registration() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    outbound = Outbound(OutboundSettings(INSTANCE, [EDGE1], expires=100))
    alice.ua.use(outbound)
    net.add_script("edge1.example.com", registrar())
    flow = outbound.flows[0]
    alice.on_event = lambda net, e: (
        net.call(alice, outbound.pong(flow, net.now)) if isinstance(e, SendKeepAlive) else None
    )
    net.call(alice, outbound.start(net.now))
    net.run(1.0)
    net.call(alice, outbound.connection_closed(flow, net.now))
    net.run(180.0)
    first, *later = registers(net, "edge1.example.com")
    assert len(later) >= 3  # the new flow's REGISTER and its refreshes (every 50 s)
    assert all(request.call_id != first.call_id for request in later)
    assert len({request.call_id for request in later}) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.binary(min_size=12, max_size=12))
def test_stun_parser_never_raises_on_garbage(garbage: bytes, transaction_id: bytes) -> None:
    header = struct.pack("!HHI", BINDING_SUCCESS, len(garbage), STUN_MAGIC_COOKIE)
    for data in (garbage, header + transaction_id + garbage):
        message = parse_stun(data)
        assert message is None or message.transaction_id == data[8:20]
    # And a keep-alive fed garbage as a response stays waiting (no crash, no success).
    keepalive = KeepAlive(False, OutboundSettings(INSTANCE, [EDGE1]), random.Random(1))
    keepalive.start(0.0)
    keepalive.poll(0.0)
    message = parse_stun(header + transaction_id + garbage)
    if message is not None:
        keepalive.stun(message, 0.1)
