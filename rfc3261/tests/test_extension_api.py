"""The UA core's extension API: tiny extensions written against it, and its guarantees.

Each extension here is what an extension author would write (under 30 lines), and each
test checks its behaviour on the wire between two UAs in the in-memory harness.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rfc3261.dialog import DialogState
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, ServerRequest, UAExtension
from rfc3261.headers import register_header, unregister_header
from rfc3261.message import Request, Response, parse
from rfc3261.session import CallEnded, CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, make_ua
from rfc3261.ua_core import IncomingRequest, ResponseEvent


def copy_request(request: Request) -> Request:
    copy = parse(bytes(request))
    assert isinstance(copy, Request)
    return copy


# -- 1. a new method outside dialogs --------------------------------------------------


class Poke(UAExtension):
    """POKE: answered 200 with the number of pokes so far as a text body."""

    name = "poke"
    methods = ("POKE",)

    def __init__(self) -> None:
        self.count = 0

    def receive_request(self, server: ServerRequest, now: float) -> list[Any] | None:
        self.count += 1
        body = str(self.count).encode()
        return self.ua.respond(server, 200, now, body=body, content_type="text/plain")


def poke(net: Network, sender: Any, host: str) -> Response:
    _client, effects = sender.ua.request("POKE", f"sip:x@{host}", net.now)
    net.call(sender, effects)
    net.run(net.now + 0.5)
    return sender.of(ResponseEvent)[-1].response


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% The UAS MUST also add an Allow
##% header field to the 405 (Method Not Allowed) response.  The Allow
##% header field MUST list the set of methods supported by the UAS
##% generating the message.
def test_a_new_method_is_routed_to_its_extension_and_listed_in_allow() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("OPTIONS",)))
    carol = net.add_ua(make_ua("carol", seed=3))
    bob.ua.use(Poke())

    first, second = poke(net, alice, "bob.example.com"), poke(net, alice, "bob.example.com")
    assert (first.status, first.body, second.body) == (200, b"1", b"2")
    assert "POKE" in bob.ua.allow and "POKE" not in carol.ua.allow
    # Without the extension the method is unknown: 501, with Allow all the same (§8.2.1).
    refused = poke(net, alice, "carol.example.com")
    assert refused.status == 501
    assert "POKE" not in refused.headers.get("Allow")
    # OPTIONS lists what is installed: the method, and not INVITE, which Bob does not allow.
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", net.now)
    net.call(alice, effects)
    net.run(net.now + 0.5)
    allow = alice.of(ResponseEvent)[-1].response.headers.get("Allow")
    assert allow == "OPTIONS, POKE"


def test_a_method_refused_by_configuration_gets_405_not_the_extension() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("OPTIONS",)))
    assert poke(net, alice, "bob.example.com").status == 501
    assert bob.ua.handler("POKE") is None


# -- 2. an option tag that a request requires -----------------------------------------


class Foo(UAExtension):
    """Option tag "foo": required in every MESSAGE sent, understood when received."""

    name = "foo"
    option_tags = ("foo",)
    methods = ("MESSAGE",)

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        if request.method == "MESSAGE":
            request.headers.set("Require", "foo")

    def receive_request(self, server: ServerRequest, now: float) -> list[Any] | None:
        return self.ua.respond(server, 202, now)


def message(net: Network, sender: Any, host: str) -> ResponseEvent:
    _client, effects = sender.ua.request("MESSAGE", f"sip:x@{host}", net.now)
    net.call(sender, effects)
    net.run(net.now + 1.0)
    return sender.of(ResponseEvent)[-1]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% If a UAS does not understand an option-tag listed in a
##% Require header field, it MUST respond by generating a response with
##% status code 420 (Bad Extension).  The UAS MUST add an Unsupported
##% header field, and list in it those options it does not understand
##% amongst those in the Require header field of the request.
def test_an_option_tag_is_supported_where_installed_and_refused_elsewhere() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    carol = net.add_ua(make_ua("carol", seed=3, allow=("OPTIONS", "MESSAGE")))
    alice.ua.use(Foo())
    bob.ua.use(Foo())

    assert message(net, alice, "bob.example.com").response.status == 202
    sent = [m for _, m in bob.received if isinstance(m, Request)][-1]
    assert sent.header("Require") == ["foo"] and "foo" in sent.header("Supported")
    # Carol lacks "foo": 420 naming it; the §8.1.3.5 retry without it passes the hook
    # again, which insists, so the 420 is final.
    event = message(net, alice, "carol.example.com")
    assert event.response.status == 420
    assert event.response.header("Unsupported") == ["foo"]
    assert "foo" not in carol.ua.supported


# -- 3. hooks on every message the UA sends --------------------------------------------


class Stamp(UAExtension):
    """Marks every request and response the UA sends."""

    name = "stamp"

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.responses: list[int] = []

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        self.requests.append(request.method)
        request.headers.set("X-Stamp", request.method)

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        self.responses.append(response.status)
        response.headers.set("X-Stamp", str(response.status))


def test_cancel_ack_and_locally_built_responses_pass_the_outgoing_hooks() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    stamp_a, stamp_b = Stamp(), Stamp()
    alice.ua.use(stamp_a)
    bob.ua.use(stamp_b)

    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    (incoming,) = bob.of(IncomingCall)
    net.call(bob, bob.ua.sessions.ring(incoming.call, net.now))
    net.run(0.2)
    net.call(alice, alice.ua.sessions.hangup(call, net.now))
    net.run(1.0)
    # The CANCEL went through the hook; Bob's 200 to it and 487 to the INVITE, both
    # built by the core itself, went through his.
    assert stamp_a.requests == ["INVITE", "CANCEL"]
    assert stamp_b.responses == [180, 200, 487]
    cancel = [m for _, m in bob.received if isinstance(m, Request) and m.method == "CANCEL"]
    assert cancel[0].headers.get("X-Stamp") == "CANCEL"
    final = [m for _, m in alice.received if isinstance(m, Response) and m.status == 487]
    assert final[0].headers.get("X-Stamp") == "487"
    assert [e.reason for e in bob.of(CallEnded)] == ["cancelled"]

    # A call that is answered: the ACK for the 2xx goes out without a transaction, and
    # still through the hook (``client`` None).
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=b"v=0")
    net.call(alice, effects)
    net.run(net.now + 0.1)
    incoming = bob.of(IncomingCall)[-1]
    net.call(bob, bob.ua.sessions.answer(incoming.call, net.now, body=b"v=0"))
    net.run(net.now + 0.5)
    assert stamp_a.requests[-2:] == ["INVITE", "ACK"]
    assert bob.of(CallEstablished)


# -- 4. a new header field with a compact form ----------------------------------------


class Greeting(UAExtension):
    """X-Greeting (compact "g"): sent in every OPTIONS; the peer's is kept, typed."""

    name = "greeting"

    def __init__(self) -> None:
        self.heard: list[int] = []

    def install(self, ua: Any) -> None:
        super().install(ua)
        register_header("X-Greeting", parse_count, rfc=6648, section="3", compact="g")

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        request.headers.set("g", "3")  # written in its compact form

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        if server is not None and server.request.header("X-Greeting") is not None:
            self.heard.append(server.request.header("X-Greeting"))


def parse_count(text: str) -> int:
    if not text.strip().isdigit():
        raise ParseError(f"{text!r} is not a count", "RFC 6648 §3", "X-Greeting")
    return int(text)


@pytest.fixture
def greeting() -> Iterator[None]:
    try:
        yield
    finally:
        unregister_header("X-Greeting")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and
##% short forms of each header name.
def test_a_new_header_with_a_compact_form_travels_and_is_read_typed(greeting: None) -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    alice.ua.use(Greeting())
    heard = bob.ua.use(Greeting())
    assert isinstance(heard, Greeting)
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.5)
    sent = next(m for _, m in bob.received if isinstance(m, Request))
    assert b"\r\ng: 3\r\n" in bytes(sent)
    assert (sent.header("x-greeting"), sent.header("G")) == (3, 3)
    assert heard.heard == [3]
    assert alice.of(ResponseEvent)[-1].response.status == 200


# -- 5. retry decisions ------------------------------------------------------------------


class SecondChance(UAExtension):
    """Retries a request once after 480, with a header saying so."""

    name = "second-chance"

    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        if response.status != 480 or client.request.headers.get("X-Retry"):
            return None
        again = copy_request(client.request)
        again.headers.set("X-Retry", "1")
        return again


def test_an_extension_decides_a_retry_and_the_core_renumbers_it() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    alice.ua.use(SecondChance())
    asked: list[Request] = []

    def unavailable(request: Request) -> list[Response]:
        asked.append(request)
        return [request.make_response(480 if len(asked) == 1 else 200, to_tag="t")]

    net.add_script("away.example.com", unavailable)
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@away.example.com", 0.0)
    net.call(alice, effects)
    net.run(2.0)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]
    first, second = asked
    assert second.headers.get("X-Retry") == "1"
    assert second.cseq.number == first.cseq.number + 1
    assert second.top_via.branch != first.top_via.branch


class Stubborn(UAExtension):
    """Asks for a retry after every failure: the core bounds it."""

    name = "stubborn"

    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        return copy_request(client.request)


def test_retries_asked_by_extensions_are_bounded() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    alice.ua.use(Stubborn())
    asked: list[Request] = []
    net.add_script("away.example.com", lambda r: asked.append(r) or [r.make_response(480)])
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@away.example.com", 0.0)
    net.call(alice, effects)
    net.run(10.0)
    assert len(asked) == 4  # the request and three retries
    assert [e.response.status for e in alice.of(ResponseEvent)] == [480]


# -- 5b. holding a response back ------------------------------------------------------


class Delay(UAExtension):
    """Holds every final response to OPTIONS back for one second, then sends it."""

    name = "delay"

    def claim_response(
        self, server: ServerRequest, response: Response, now: float
    ) -> list[Any] | None:
        if server.request.method != "OPTIONS" or response.status < 200:
            return None
        self.ua.call_at(now + 1.0, lambda t: self.ua.retransmit(server, response, t))
        return []


def test_an_extension_claims_a_response_and_sends_it_later() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    bob.ua.use(Delay())
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.5)
    assert not alice.of(ResponseEvent)  # held by Bob's extension
    net.run(1.5)
    (event,) = alice.of(ResponseEvent)
    assert event.response.status == 200
    sent = [t for t, src, _, line in net.wire if src == "bob.example.com"]
    assert sent == [pytest.approx(1.01)]  # once, a second after the OPTIONS arrived


# -- 6. dialog usages (RFC 5057) ------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5057#section-2
##= type=test
##% A dialog comes into existence with the creation of the first usage,
##% and continues to exist until the last usage is terminated (reference
##% counting).
def test_a_dialog_outlives_its_invite_usage_while_another_usage_remains() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("INVITE", "ACK", "CANCEL", "BYE", "INFO")))
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    incoming = bob.of(IncomingCall)[0]
    net.call(bob, bob.ua.sessions.answer(incoming.call, net.now, body=b"v=0"))
    net.run(0.5)
    dialog = call.established
    assert dialog is not None
    dialog.add_usage("subscribe:dialog;id=1", object())
    net.call(alice, alice.ua.sessions.bye(call, net.now))
    net.run(1.0)
    # The INVITE usage ended; the subscription keeps the dialog (and its route set) alive.
    assert dialog.usage("invite") is None and dialog.state is DialogState.CONFIRMED
    assert alice.ua.dialogs[dialog.id] is dialog
    _client, effects = alice.ua.in_dialog(dialog, "INFO", net.now)
    net.call(alice, effects)
    net.run(1.5)
    # Bob's side had only the INVITE usage: his dialog ended with the BYE, so 481 (§12.2.2).
    assert not bob.of(IncomingRequest)
    assert alice.of(ResponseEvent)[-1].response.status == 481
    assert dialog.remove_usage("subscribe:dialog;id=1") is True
    assert dialog.state is DialogState.TERMINATED


def test_a_usage_cannot_be_taken_twice_or_added_to_a_terminated_dialog() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    net.call(bob, bob.ua.sessions.answer(bob.of(IncomingCall)[0].call, net.now, body=b"v=0"))
    net.run(0.5)
    dialog = call.established
    assert dialog is not None
    with pytest.raises(ValueError, match="already has a 'invite' usage"):
        dialog.add_usage("invite", object())
    dialog.terminate()
    with pytest.raises(ValueError, match="terminated"):
        dialog.add_usage("subscribe:x", object())


# -- 7. misuse is refused with real exceptions -------------------------------------------


def test_installing_a_clashing_or_malformed_extension_raises() -> None:
    ua = make_ua("alice", seed=1)
    ua.use(Poke())
    with pytest.raises(ValueError, match="installed already"):
        ua.use(Poke())

    class OtherPoke(Poke):
        name = "other-poke"

    with pytest.raises(ValueError, match="POKE handled by 'poke' already"):
        ua.use(OtherPoke())

    class Lower(UAExtension):
        name = "lower"
        methods = ("poke",)

    with pytest.raises(ValueError, match="upper-case method token"):
        ua.use(Lower())

    class Nameless(UAExtension):
        pass

    with pytest.raises(ValueError, match="needs a name"):
        ua.use(Nameless())
    with pytest.raises(TypeError):
        ua.use(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"13\.3\.1\.1"):
        ua.sessions.ring(ua.sessions.invite("sip:b@b.example.com", 0.0)[0], 0.0)
