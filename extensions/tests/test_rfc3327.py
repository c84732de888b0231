"""RFC 3327 Path: registrar, edge proxy and UA (``extensions/rfc3327.py``), sans-I/O."""

from __future__ import annotations

import pytest

from extensions.rfc3327 import PathEdge, PathRegistrar, PathUA, path_values
from rfc3261.location import SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.proxy import NextHop, Proxy, ProxyConfig, Send
from rfc3261.registrar import Registrar, RegistrarConfig
from rfc3261.registration import Registration
from rfc3261.tests.server_support import invite, register
from rfc3261.tests.test_registration_client import Registrar as ScriptedRegistrar
from rfc3261.tests.ua_support import Network, make_ua

AOR = "sip:alice@example.com"
DOMAINS = frozenset({"example.com"})
SUPPORTED = (("Supported", "path"),)
EDGE = "127.0.0.1:5070"
HOME = "127.0.0.1:5060"


def registrar(**options: bool) -> Registrar:
    config = RegistrarConfig(domains=DOMAINS)
    return Registrar(SqliteLocationService(), config, extensions=[PathRegistrar(**options)])


def forwarded(sends: list[Send]) -> list[Send]:
    return [s for s in sends if isinstance(s.destination, NextHop)]


def responses(sends: list[Send]) -> list[Response]:
    return [s.message for s in sends if isinstance(s.message, Response)]


def wire(message: Request | Response) -> Request | Response:
    parsed = parse(bytes(message))
    assert isinstance(parsed, Request | Response)
    return parsed


def edge_proxy(**options: bool) -> Proxy:
    """An edge proxy: no domain of its own, adds its Path to REGISTERs it forwards."""
    config = ProxyConfig(host="127.0.0.1", port=5070, record_route=False)
    return Proxy(
        config, SqliteLocationService(), registrar=False, extensions=[PathEdge(EDGE, **options)]
    )


def home_proxy() -> Proxy:
    """The home proxy of example.com with its embedded registrar, supporting Path."""
    location = SqliteLocationService()
    config = ProxyConfig(host="127.0.0.1", port=5060, domains=DOMAINS, record_route=False)
    home_registrar = Registrar(
        location, RegistrarConfig(domains=DOMAINS), extensions=[PathRegistrar()]
    )
    return Proxy(config, location, registrar=home_registrar)


# -- the registrar (§5.3) --------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% If a Path header field exists in a successful REGISTER request, the
##% registrar constructs an ordered list of route elements (a path
##% vector) from the nodes listed in the Path header field values,
##% preserving the order as indicated in the Path header field values.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% The registrar copies the Path
##% header field values into a Path header field in the successful (200
##% class) REGISTER response.
##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% Like the Route header field, sequential
##% Path header fields are evaluated in the sequence in which they are
##% present in the request, and Path header fields MAY be combined into
##% compound Path header in a single Path header field.
##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% The registrar
##% reflects the accumulated Path back into the REGISTER response, and
##% intermediate nodes propagate this back toward the originating UA.
def test_the_path_vector_is_stored_in_order_and_copied_into_the_200() -> None:
    reg = registrar()
    path = (
        ("Path", "<sip:p3.example.com;lr>, <sip:p2.example.net;lr>"),
        ("Path", "<sip:p1.example.org;lr>"),
    )
    response = reg.handle(register(extra=SUPPORTED + path), 10.0)
    assert response.status == 200
    [binding] = reg.location.lookup(AOR, 10.0)
    assert binding.path == (
        "<sip:p3.example.com;lr>",
        "<sip:p2.example.net;lr>",
        "<sip:p1.example.org;lr>",
    )
    assert [str(v.uri) for v in path_values(wire(response))] == [
        "sip:p3.example.com;lr",
        "sip:p2.example.net;lr",
        "sip:p1.example.org;lr",
    ]
    # The next REGISTER without Path: the binding has no path vector any more.
    assert reg.handle(register(cseq=2, extra=SUPPORTED), 11.0).headers.get_all("Path") == []
    [binding] = reg.location.lookup(AOR, 11.0)
    assert binding.path == ()


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% If a registrar receives a REGISTER request containing a Path header
##% field and there is no indication of support for the extension in the
##% UA (via a Supported header field), the registrar must rely on local
##% policy in determining how to treat this request.  The recommended
##% policy is for the registrar to reject the request with a 420 "Bad
##% Extension" response indicating the Path extension.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% However, the Path
##% mechanism should technically work in the absence of UA support (at
##% some compromise to security), so some registrars MAY choose to
##% support the extension in the absence of a Supported header field
##% value in the request.
##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% Support for the Path header field MAY be indicated by a UA by
##% including the option-tag "path" in a Supported header field.
def test_a_path_without_ua_support_is_a_420_unless_the_registrar_allows_it() -> None:
    path = (("Path", "<sip:p1.example.org;lr>"),)
    strict = registrar()
    response = strict.handle(register(extra=path), 10.0)
    assert response.status == 420
    assert response.header("Unsupported") == ["path"]
    assert strict.location.lookup(AOR, 10.0) == []  # nothing stored
    lenient = registrar(without_supported=True)
    assert lenient.handle(register(extra=path), 10.0).status == 200
    [binding] = lenient.location.lookup(AOR, 10.0)
    assert binding.path == ("<sip:p1.example.org;lr>",)
    # Without Path, no Supported is needed.
    assert strict.handle(register(), 10.0).status == 200


##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% As suggested therein, such values
##% MUST include the loose-routing indicator parameter ";lr" for full
##% compliance with [1].
def test_a_path_value_without_lr_or_not_a_name_addr_is_refused() -> None:
    reg = registrar()
    no_lr = reg.handle(register(extra=(*SUPPORTED, ("Path", "<sip:p1.example.org>"))), 1.0)
    assert no_lr.status == 400 and "lr" in no_lr.reason
    garbage = reg.handle(register(extra=(*SUPPORTED, ("Path", "sip:p1.example.org;lr"))), 1.0)
    assert garbage.status == 400
    assert reg.location.lookup(AOR, 1.0) == []


# -- the edge proxy (§5.2) -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% When a proxy processing a REGISTER request wishes to be on the path
##% for future requests toward the UA originating that REGISTER request,
##% the proxy inserts a URI for that proxy as the topmost value in the
##% Path header field (or inserts a new topmost Path header) before
##% proxying that request.
##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% A Path header field MAY be inserted into a REGISTER by any SIP node
##% traversed by that request.
##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% As suggested therein, such values
##% MUST include the loose-routing indicator parameter ";lr" for full
##% compliance with [1].
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% Intermediate proxies SHOULD NOT add a Path header field to a request
##% unless the UA has indicated support for this extension with a
##% Supported header field value.
def test_the_edge_puts_its_uri_on_top_of_path_only_for_a_ua_that_supports_it() -> None:
    edge = edge_proxy()
    outer = (("Path", "<sip:outer.example.org;lr>"),)
    request = register(uri=f"sip:{HOME}", extra=SUPPORTED + outer)
    [send] = forwarded(edge.receive_request(request, "ua", 0.0))
    copy = wire(send.message)
    assert [str(v.uri) for v in path_values(copy)] == [
        f"sip:{EDGE};lr",
        "sip:outer.example.org;lr",
    ]
    assert "path" not in [t.lower() for t in copy.header("Require") or []]
    # Without Supported: path the REGISTER goes on untouched.
    plain = register(uri=f"sip:{HOME}", call_id="other")
    [send] = forwarded(edge.receive_request(plain, "ua", 0.0))
    assert send.message.headers.get_all("Path") == []
    # Over TCP, the Path URI says so.
    assert PathEdge({"UDP": EDGE, "TCP": "127.0.0.1:5071"}).path_uri("TCP") == (
        "sip:127.0.0.1:5071;transport=tcp;lr"
    )


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% If the UA has indicated support and
##% the proxy requires the registrar to support the Path extension, then
##% the proxy SHOULD insert a Requires header field value for this
##% extension.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% If the UA has not indicated support for the extension and
##% the proxy requires support for it in the registrar, the proxy SHOULD
##% reject the request with a 421 response indicating a requirement for
##% the extension.
def test_an_edge_that_requires_path_adds_require_and_refuses_other_uas_with_421() -> None:
    edge = edge_proxy(require=True)
    [send] = forwarded(edge.receive_request(register(uri=f"sip:{HOME}", extra=SUPPORTED), "ua", 0))
    assert [t.lower() for t in wire(send.message).header("Require")] == ["path"]
    sends = edge.receive_request(register(uri=f"sip:{HOME}", call_id="no-path"), "ua", 0.0)
    assert forwarded(sends) == []
    [refusal] = responses(sends)
    assert refusal.status == 421
    assert refusal.header("Require") == ["path"]
    assert len(refusal.via) == 1  # the UA's Via only: ours was on the copy, never sent


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% Proxies processing a REGISTER response SHOULD NOT alter any Path
##% header field values that may be present in the response.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% Proxies SHOULD only consider altering the
##% value of a Path header field in the REGISTER response if they have
##% the credentials to correctly alter the S/MIME body to account for the
##% change.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
##= type=test
##% In the most common case, the home proxy generates the outgoing Route header
##% field by inserting the stored path vector ahead of the Route header
##% field values contained in the incoming request.
def test_ua_edge_home_registration_and_a_call_routed_back_through_the_edge() -> None:
    """UA -> edge (adds Path) -> home proxy + registrar; then an INVITE for the AOR
    leaves the home proxy with the edge as pre-loaded Route, and the edge sends it on
    to the registered contact."""
    edge, home = edge_proxy(), home_proxy()
    contact = "<sip:alice@127.0.0.1:5090>"
    request = register(uri="sip:example.com", contacts=(contact,), extra=SUPPORTED)
    request.headers.add("Route", f"<sip:{HOME};lr>")  # the edge's static route home
    [to_home] = forwarded(edge.receive_request(request, "ua", 0.0))
    assert to_home.destination.port == 5060
    [ok] = responses(home.receive_request(wire(to_home.message), "edge", 0.0))
    assert ok.status == 200 and ok.headers.get_all("Path") == [f"<sip:{EDGE};lr>"]
    [back] = responses(edge.receive_response(wire(ok), "home", 0.0))
    assert back.status == 200
    assert back.headers.get_all("Path") == [f"<sip:{EDGE};lr>"]  # unaltered
    assert len(back.via) == 1

    call = invite(AOR, extra=(("Route", f"<sip:{HOME};lr>"),))
    [to_edge] = forwarded(home.receive_request(call, "bob", 1.0))
    copy = wire(to_edge.message)
    assert str(copy.uri) == "sip:alice@127.0.0.1:5090"
    assert [str(r.uri) for r in copy.route] == [f"sip:{EDGE};lr"]
    assert (to_edge.destination.host, to_edge.destination.port) == ("127.0.0.1", 5070)
    [to_ua] = forwarded(edge.receive_request(copy, "home", 1.0))
    assert (to_ua.destination.host, to_ua.destination.port) == ("127.0.0.1", 5090)
    assert to_ua.message.route == []


# -- the UA (§5.1) ---------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
##= type=test
##% The UA SHOULD include the option tag "path" as a header field value
##% in all Supported header fields, and SHOULD include a Supported header
##% field in all requests.
##= https://www.rfc-editor.org/rfc/rfc3327#section-6.2
##= type=test
##% Furthermore, UAs receiving a Path header field in a REGISTER response
##% SHOULD render it to the user, or (where feasible) check it
##% programmatically.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
##= type=test
##% The response MAY contain a Path header field.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
##= type=test
##% It MAY choose to display the contents of the Path header field to the
##% user or take other action outside the scope of this document.
def test_a_ua_with_path_says_supported_and_keeps_the_path_it_was_registered_with(
    caplog: pytest.LogCaptureFixture,
) -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=9))
    path = PathUA()
    alice.ua.use(path)
    server = ScriptedRegistrar()

    def with_path(request: Request) -> list[Response]:
        [response] = server(request)
        response.headers.add("Path", "<sip:edge.example.com;lr>")
        return [response]

    net.add_script("example.com", with_path)
    caplog.set_level("INFO", logger="sipref.path")
    net.call(alice, Registration(alice.ua, expires=3600).register(0.0))
    net.run(0.5)
    [sent] = server.seen
    assert "path" in [t.lower() for t in sent.header("Supported")]
    assert path.paths == {AOR: ("<sip:edge.example.com;lr>",)}
    assert "sip:edge.example.com;lr" in caplog.text
