"""Proxy targets with a route set and a flow (§16.5, §16.6), and the proxy's extension hooks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.proxy import Branch, NextHop, Proxy, ProxyConfig, ProxyExtension, Send, Target
from rfc3261.registrar import Registrar, RegistrarConfig, RegistrarExtension
from rfc3261.tests.server_support import invite, register
from rfc3261.uri import parse_uri

PROXY = "proxy.example.com"
BOB = "sip:bob@example.com"
DOMAINS = frozenset({"example.com"})


class PathLike(RegistrarExtension):
    """Test-only Path: keep the REGISTER's Path values and the flow it came on."""

    def on_binding(self, request: Request, binding: Binding, source: Any) -> Binding:
        path = tuple(request.headers.get_all("Path"))
        return replace(binding, path=path, flow=f"flow-{source}")


def home_proxy(*extensions: ProxyExtension, **config: Any) -> Proxy:
    location = SqliteLocationService()
    registrar = Registrar(location, RegistrarConfig(domains=DOMAINS), extensions=[PathLike()])
    return Proxy(
        ProxyConfig(host=PROXY, domains=DOMAINS, **config),
        location,
        registrar=registrar,
        extensions=extensions,
    )


def forwarded(sends: list[Send]) -> list[Send]:
    return [s for s in sends if isinstance(s.destination, NextHop)]


def bind(proxy: Proxy, *bindings: Binding) -> None:
    proxy.location.update(BOB, list(bindings), [], 0.0)


def register_bob_via_edges(proxy: Proxy) -> None:
    request = register(
        BOB,
        contacts=("<sip:bob@192.0.2.20:5062>",),
        extra=(("Path", "<sip:edge1.example;lr>"), ("Path", "<sip:edge2.example;lr>")),
    )
    [ok] = proxy.receive_request(request, "edge1.example:5060", 0.0)
    assert ok.message.status == 200  # type: ignore[union-attr]


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
##= type=test
##% In the most common case, the home proxy generates the outgoing Route header
##% field by inserting the stored path vector ahead of the Route header
##% field values contained in the incoming request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The Request-URI in the copy's start line MUST be replaced with
##% the URI for this target.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.1
##= type=test
##% The only requirement is that a registrar for some domain MUST be able to
##% read and write data to the location service, and a proxy or a redirect
##% server for that domain MUST be capable of reading that same data.
def test_route_set_stored_at_register_becomes_route_and_flow_goes_to_the_edge() -> None:
    proxy = home_proxy()
    register_bob_via_edges(proxy)
    [send] = forwarded(proxy.receive_request(invite(BOB), "alice-pc.example", 1.0))
    copy = parse(bytes(send.message))  # as it goes on the wire
    assert isinstance(copy, Request)
    assert str(copy.uri) == "sip:bob@192.0.2.20:5062"
    assert [str(r.uri) for r in copy.route] == ["sip:edge1.example;lr", "sip:edge2.example;lr"]
    # Loose routing (step 7): the first Route value is the next hop; the flow rides along.
    assert send.destination == NextHop("UDP", "edge1.example", None, "flow-edge1.example:5060")


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
##= type=test
##% In general, the stored path vector is appended to any locally configured
##% route needed to egress the service cluster.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% This set MUST be pushed into the Route header field of the copy ahead of any
##% existing values, if present.
def test_route_set_goes_behind_the_local_route() -> None:
    proxy = home_proxy(local_route=("<sip:egress.example;lr>",))
    register_bob_via_edges(proxy)
    [send] = forwarded(proxy.receive_request(invite(BOB), "alice-pc.example", 1.0))
    assert [str(r.uri) for r in send.message.route] == [  # type: ignore[union-attr]
        "sip:egress.example;lr",
        "sip:edge1.example;lr",
        "sip:edge2.example;lr",
    ]
    assert send.destination.host == "egress.example"


def test_target_without_route_set_or_flow_is_forwarded_as_before() -> None:
    proxy = home_proxy()
    bind(proxy, Binding(BOB, "sip:bob@192.0.2.30", 1e9, "c", 1))
    [send] = forwarded(proxy.receive_request(invite(BOB), "alice-pc.example", 1.0))
    assert send.message.route == []  # type: ignore[union-attr]
    assert send.destination == NextHop("UDP", "192.0.2.30")
    assert send.destination.flow is None


def test_target_from_binding_defaults() -> None:
    binding = Binding(BOB, "sip:bob@h", 9.0, "c", 1, 0.5, None, ("<sip:e;lr>",), "f")
    target = Target.from_binding(binding)
    assert target == Target(parse_uri("sip:bob@h"), ("<sip:e;lr>",), "f", 0.5, binding)
    with pytest.raises(TypeError):
        Target("sip:bob@h")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Target(parse_uri("sip:bob@h"), ["<sip:e;lr>"])  # type: ignore[arg-type]


class OnePerInstance(ProxyExtension):
    """Test-only: one target per ``instance`` in a binding's extra (as RFC 5626 §7 asks)."""

    def targets(self, request: Request, targets: list[Target]) -> list[Target]:
        seen: set[str] = set()
        kept = []
        for target in targets:
            instance = target.binding.extra.get("instance") if target.binding else None
            if instance is None or instance not in seen:
                kept.append(target)
                seen.add(instance or "")
        return kept


def test_targets_hook_shapes_the_target_set() -> None:
    proxy = home_proxy(OnePerInstance())
    bind(
        proxy,
        Binding(BOB, "sip:bob@192.0.2.1", 1e9, "c", 1, 1.0, extra={"instance": "urn:x"}),
        Binding(BOB, "sip:bob@192.0.2.2", 1e9, "c", 1, 0.5, extra={"instance": "urn:x"}),
        Binding(BOB, "sip:bob@192.0.2.3", 1e9, "c", 1, 0.1),
    )
    sends = forwarded(proxy.receive_request(invite(BOB), "alice-pc.example", 1.0))
    assert [s.destination.host for s in sends] == ["192.0.2.1", "192.0.2.3"]


class FlowFailed(ProxyExtension):
    """Test-only: copies to a dead flow end with 430; every copy gets a header."""

    def before_forward(self, branch: Branch) -> int | None:
        branch.request.headers.add("X-Hooked", "yes")
        return 430 if branch.hop.flow == "dead" else None


def test_before_forward_edits_the_copy_or_ends_the_branch() -> None:
    proxy = home_proxy(FlowFailed())
    bind(
        proxy,
        Binding(BOB, "sip:bob@192.0.2.1", 1e9, "c", 1, 1.0, flow="dead"),
        Binding(BOB, "sip:bob@192.0.2.2", 1e9, "c", 1, 0.5, flow="alive"),
    )
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 1.0)
    [send] = forwarded(sends)
    assert send.destination.flow == "alive"
    assert send.message.headers.get("X-Hooked") == "yes"
    # The live branch answers 486; both 4xx are in the context and the first stored,
    # the 430, is the "best" (§16.7 step 6) sent upstream.
    busy = send.message.make_response(486, to_tag="b")  # type: ignore[union-attr]
    out = proxy.receive_response(parse(bytes(busy)), "192.0.2.2", 2.0)  # type: ignore[arg-type]
    finals = [s.message for s in out if isinstance(s.message, Response)]
    assert [r.status for r in finals] == [430]


def test_before_forward_alone_ends_the_request_with_its_status() -> None:
    proxy = home_proxy(FlowFailed())
    bind(proxy, Binding(BOB, "sip:bob@192.0.2.1", 1e9, "c", 1, flow="dead"))
    sends = proxy.receive_request(invite(BOB), "alice-pc.example", 1.0)
    assert forwarded(sends) == []
    statuses = [s.message.status for s in sends]  # type: ignore[union-attr]
    assert [status for status in statuses if status >= 200] == [430]


def test_proxy_hook_misuse_raises() -> None:
    with pytest.raises(TypeError):
        home_proxy(object())  # type: ignore[arg-type]

    class Accepts(ProxyExtension):
        def before_forward(self, branch: Branch) -> int | None:
            return 200

    proxy = home_proxy(Accepts())
    bind(proxy, Binding(BOB, "sip:bob@192.0.2.1", 1e9, "c", 1))
    with pytest.raises(ValueError):
        proxy.receive_request(invite(BOB), "alice-pc.example", 1.0)

    class NotTargets(ProxyExtension):
        def targets(self, request: Request, targets: list[Target]) -> list[Target]:
            return [t.uri for t in targets]  # type: ignore[misc]

    proxy = home_proxy(NotTargets())
    bind(proxy, Binding(BOB, "sip:bob@192.0.2.1", 1e9, "c", 1))
    with pytest.raises(TypeError):
        proxy.receive_request(invite(BOB), "alice-pc.example", 1.0)
