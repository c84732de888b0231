"""RFC 3891: the Replaces header field between user agents (``extensions/rfc3891.py``).

Three UAs on the in-memory network of ``rfc3261.tests.ua_support``: Alice calls Bob,
and Carol sends Bob an INVITE with a Replaces naming the Alice-Bob dialog.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extensions.rfc3891 import CallReplaced, Replaces, ReplacesExtension, replaces_value
from rfc3261.auth_client import StaticCredentials
from rfc3261.dialog import Dialog, DialogId, DialogState
from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials
from rfc3261.errors import ParseError
from rfc3261.headers import HEADER_TYPES, NameAddr, unregister_header
from rfc3261.message import Request, Response
from rfc3261.offer_answer import OpaqueDescriber, Refusal
from rfc3261.session import Call, CallEnded, CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua
from rfc3261.uri import parse_uri

ALICE = "sip:alice@example.com"


@pytest.fixture(autouse=True)
def replaces_header() -> Iterator[None]:
    yield
    if "replaces" in HEADER_TYPES:  # the registry is per process: leave it as it was
        unregister_header("Replaces")


def trio(net: Network, **carol: object) -> tuple[Node, Node, Node, ReplacesExtension]:
    """Alice, Bob (with the extension) and Carol (with it too)."""
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    carol_node = net.add_ua(make_ua("carol", seed=3, **carol))  # type: ignore[arg-type]
    replaces = ReplacesExtension()
    bob.ua.use(replaces)
    carol_node.ua.use(ReplacesExtension())
    return alice, bob, carol_node, replaces


def talking(net: Network) -> tuple[Node, Node, Node, Call, Call]:
    """Alice calls Bob, Bob answers: their calls (Alice's, Bob's)."""
    alice, bob, carol, _ = trio(net)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0 alice")
    net.call(alice, effects)
    net.run(0.1)
    (incoming,) = bob.of(IncomingCall)
    net.call(bob, bob.ua.sessions.answer(incoming.call, net.now, body=b"v=0 bob"))
    net.run(0.5)
    assert alice.of(CallEstablished) and bob.of(CallEstablished)
    return alice, bob, carol, call, incoming.call


def replace_at_bob(
    net: Network, carol: Node, value: str, *, headers: list[tuple[str, str]] | None = None
) -> Call:
    """Carol sends Bob an INVITE with ``value`` as its Replaces."""
    extension = carol.ua.extension("replaces")
    assert isinstance(extension, ReplacesExtension)
    call, effects = extension.invite(
        value,
        net.now,
        target="sip:bob@bob.example.com",
        body=b"v=0 carol",
        headers=headers or [("Referred-By", f"<{ALICE}>")],
    )
    net.call(carol, effects)
    net.run(net.now + 1.0)
    return call


def final_status(node: Node, call_id: str) -> int:
    """The last final response to an INVITE of ``call_id`` (after any retry)."""
    (response,) = [
        m
        for _, m in node.received
        if isinstance(m, Response) and m.call_id == call_id and m.status >= 200
        if m.cseq.method == "INVITE"
    ][-1:]
    return response.status


def received(node: Node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def alice_view(call: Call) -> DialogId:
    assert call.established is not None
    return call.established.id


# -- the header field (§6.1) ------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% A Replaces header field MUST contain exactly one to-tag and exactly
##% one from-tag, as they are required for unique dialog matching.
##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% A Replaces header field MAY contain the early-flag.
def test_the_value_has_one_to_tag_one_from_tag_and_maybe_early_only() -> None:
    value = Replaces.parse("98732@sip.example.com\r\n ;from-tag=r33th4x0r\r\n ;to-tag=ff87ff")
    assert (value.call_id, value.to_tag, value.from_tag) == (
        "98732@sip.example.com",
        "ff87ff",
        "r33th4x0r",
    )
    assert not value.early_only
    early = Replaces.parse("12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only;x=1")
    assert early.early_only and early.params == (("x", "1"),)
    assert str(early) == "12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only;x=1"
    for bad in (
        "abc;to-tag=1",
        "abc;from-tag=1",
        "abc;to-tag=1;to-tag=2;from-tag=3",
        "abc;to-tag=1;from-tag=2;from-tag=3",
        "abc;to-tag=1;from-tag=2;early-only=yes",
        'abc;to-tag="1";from-tag=2',
        "abc def;to-tag=1;from-tag=2",
        "",
    ):
        with pytest.raises(ParseError):
            Replaces.parse(bad)


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% For
##% compatibility with dialogs initiated by RFC 2543 [9] compliant UAs, a
##% tag of zero matches both tags of zero and null.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% The User Agent Server
##% (UAS) matches the to-tag and from-tag parameters as if they were tags
##% present in an incoming request.  In other words, the to-tag parameter
##% is compared to the local tag, and the from-tag parameter is compared
##% to the remote tag.
def test_tags_match_local_and_remote_and_zero_matches_null() -> None:
    value = Replaces.parse("c1;to-tag=local;from-tag=remote")
    assert value.names(DialogId("c1", "local", "remote"))
    assert not value.names(DialogId("c1", "remote", "local"))
    assert not value.names(DialogId("c2", "local", "remote"))
    zero = Replaces.parse("c1;to-tag=0;from-tag=0")
    assert zero.names(DialogId("c1", None, "0")) and zero.names(DialogId("c1", "0", None))
    assert not zero.names(DialogId("c1", "7", None))


##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% The
##% User Agent Client (UAC) places the Call-ID, to-tag, and from-tag
##% information for the target dialog in a single Replaces header field
def test_replaces_value_names_the_dialog_as_its_peer_sees_it() -> None:
    assert replaces_value(DialogId("c@h", "mine", "theirs")) == "c@h;to-tag=theirs;from-tag=mine"
    value = replaces_value(DialogId("c@h", "mine", "theirs"), early_only=True)
    assert Replaces.parse(value).early_only
    with pytest.raises(ValueError):
        replaces_value(DialogId("c@h", "mine", None))


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
##= type=test
##% UAs which support the Replaces header MUST include the
##% "replaces" option tag in a Supported header field.
def test_replaces_is_supported_in_the_invite() -> None:
    net = Network()
    _alice, _, _, _call, _ = talking(net)
    ua = make_ua("dave")
    assert "replaces" not in ua.supported
    ua.use(ReplacesExtension())
    assert "replaces" in ua.supported
    net2 = Network()
    _, bob, carol, _ = trio(net2)
    replace_at_bob(net2, carol, "x;to-tag=1;from-tag=2")
    (invite,) = received(bob, "INVITE")
    assert "replaces" in invite.header("Supported")
    assert "Require" not in invite.headers


# -- the UAS (§3) -----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% Otherwise, it accepts the new INVITE by sending a 200-class response,
##% and shuts down the replaced dialog by sending a BYE.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If authorization is successful, the UA attempts to accept the new
##% INVITE, reassign the user interface and other resources of the
##% matched dialog to the new INVITE, and shut down the replaced dialog.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the replacement request contains a
##% Referred-By header that corresponds to the user being replaced, the
##% UA SHOULD treat the replacement as if the replacement was authorized
##% by the replaced party.
def test_a_confirmed_dialog_is_replaced_and_ended_with_bye() -> None:
    net = Network()
    alice, bob, carol, alice_call, bob_call = talking(net)
    new = replace_at_bob(net, carol, replaces_value(alice_view(alice_call)))
    assert final_status(carol, new.call_id) == 200
    assert carol.of(CallEstablished)
    (bye,) = received(alice, "BYE")
    assert bye.call_id == alice_call.call_id
    (replaced,) = bob.of(CallReplaced)
    assert replaced.replaced is bob_call and replaced.call.call_id == new.call_id
    assert replaced.dialog.terminated
    # The new call took the old session over: Bob's description answers Carol's offer.
    (invite_ok,) = [
        m for _, m in carol.received if isinstance(m, Response) and m.call_id == new.call_id
    ][-1:]
    assert invite_ok.body == b"v=0 bob"
    assert any(e.reason == "remote BYE" for e in alice.of(CallEnded))
    assert not bob.of(IncomingCall)[1:]  # the application is told CallReplaced instead


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If no match is found, the UAS rejects the INVITE and returns a 481
##% Call/Transaction Does Not Exist response.
def test_no_matching_dialog_gets_481() -> None:
    net = Network()
    alice, _bob, carol, alice_call, _ = talking(net)
    view = alice_view(alice_call)
    for value in (
        f"nosuch;to-tag={view.remote_tag};from-tag={view.local_tag}",
        f"{view.call_id};to-tag={view.local_tag};from-tag={view.remote_tag}",  # swapped
    ):
        new = replace_at_bob(net, carol, value)
        assert final_status(carol, new.call_id) == 481
    assert not received(alice, "BYE")


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If more than one Replaces header field is present in an INVITE, or if
##% a Replaces header field is present in a request other than INVITE,
##% the UAS MUST reject the request with a 400 Bad Request response.
##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% It is a request header
##% only, and defined only for INVITE requests.
def test_two_replaces_or_a_replaces_outside_invite_get_400() -> None:
    net = Network()
    alice, _bob, carol, alice_call, _ = talking(net)
    value = replaces_value(alice_view(alice_call))
    new = replace_at_bob(
        net, carol, value, headers=[("Replaces", value), ("Referred-By", f"<{ALICE}>")]
    )
    assert final_status(carol, new.call_id) == 400
    request = carol.ua.build_request(
        "OPTIONS", "sip:bob@bob.example.com", headers=[("Replaces", value)]
    )
    _, effects = carol.ua.send(request, net.now)
    net.call(carol, effects)
    net.run(net.now + 1.0)
    assert final_status_any(carol, request.call_id) == 400
    assert not received(alice, "BYE")


def final_status_any(node: Node, call_id: str) -> int:
    return next(
        m.status
        for _, m in node.received
        if isinstance(m, Response) and m.call_id == call_id and m.status >= 200
    )


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If both a
##% Replaces header field and another header field with contradictory
##% semantics are present in a request, the request MUST be rejected with
##% a 400 "Bad Request" response.
def test_replaces_with_join_gets_400() -> None:
    net = Network()
    alice, _bob, carol, alice_call, _ = talking(net)
    value = replaces_value(alice_view(alice_call))
    new = replace_at_bob(
        net, carol, value, headers=[("Join", value), ("Referred-By", f"<{ALICE}>")]
    )
    assert final_status(carol, new.call_id) == 400
    assert not received(alice, "BYE")


def test_a_malformed_replaces_gets_400() -> None:
    net = Network()
    _, bob, carol, _ = trio(net)
    request = carol.ua.build_request(
        "INVITE", "sip:bob@bob.example.com", headers=[("Replaces", "abc;to-tag=1")]
    )
    _, effects = carol.ua.send(request, net.now)
    net.call(carol, effects)
    net.run(1.0)
    assert final_status(carol, request.call_id) == 400
    assert not bob.of(IncomingCall)


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the flag is
##% present, the UA rejects the request with a 486 Busy response.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches a confirmed dialog, it checks
##% for the presence of the "early-only" flag in the Replaces header
##% field.
def test_early_only_and_a_confirmed_dialog_get_486() -> None:
    net = Network()
    alice, _bob, carol, alice_call, bob_call = talking(net)
    new = replace_at_bob(net, carol, replaces_value(alice_view(alice_call), early_only=True))
    assert final_status(carol, new.call_id) == 486
    assert not received(alice, "BYE") and not bob_call.ended


def _pickup_scene() -> tuple[Network, Any, Any, Any, ReplacesExtension, Any, Any]:
    """§7.1's scene: Alice's call rings Bob's desk; Bob's lab phone (same AOR) can pick it
    up.  (network, alice, desk, lab, the lab's ReplacesExtension, Alice's call, the early dialog
    as the desk sees it -- what it shares with the lab)."""
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    desk = net.add_ua(make_ua("bob", seed=2))
    lab = net.add_ua(make_ua("carol", seed=3, aor="sip:bob@bob.example.com"))
    alice.ua.use(ReplacesExtension())
    lab_replaces = ReplacesExtension()
    lab.ua.use(lab_replaces)
    alice_call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0 a")
    net.call(alice, effects)
    net.run(0.1)
    (incoming,) = desk.of(IncomingCall)
    net.call(desk, desk.ua.sessions.ring(incoming.call, net.now))
    net.run(0.3)
    (early,) = incoming.call.dialogs.values()
    return net, alice, desk, lab, lab_replaces, alice_call, early


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches a dialog which has already
##% terminated, the UA SHOULD decline the request with a 603 Declined
##% response.
def test_a_dialog_that_ended_gets_603() -> None:
    net = Network()
    alice, _bob, carol, alice_call, _ = talking(net)
    view = alice_view(alice_call)
    net.call(alice, alice.ua.sessions.hangup(alice_call, net.now))
    net.run(net.now + 1.0)
    new = replace_at_bob(net, carol, replaces_value(view))
    assert final_status(carol, new.call_id) == 603


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches a dialog which has already
##% terminated, the UA SHOULD decline the request with a 603 Declined
##% response.
def test_a_call_being_cancelled_is_as_good_as_ended_603() -> None:
    """Alice gives up ringing Bob's desk; the lab's pickup crosses her CANCEL."""
    net, alice, _desk, lab, lab_replaces, alice_call, early = _pickup_scene()
    net.call(alice, alice.ua.sessions.hangup(alice_call, net.now))
    new, effects = lab_replaces.invite(
        early.id, net.now, target="sip:alice@alice.example.com", early_only=True, body=b"v=0 l"
    )
    net.call(lab, effects)
    net.run(net.now + 2.0)
    assert final_status(lab, new.call_id) == 603
    assert final_status(alice, alice_call.call_id) == 487
    assert not alice.of(CallReplaced)


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches an early dialog that was not
##% initiated by this UA, it returns a 481 (Call/Transaction Does Not
##% Exist) response to the new INVITE, and leaves the matched dialog
##% unchanged.
def test_an_early_dialog_bob_did_not_initiate_gets_481() -> None:
    net = Network()
    alice, bob, carol, _ = trio(net)
    alice_call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0")
    net.call(alice, effects)
    net.run(0.1)
    (incoming,) = bob.of(IncomingCall)
    net.call(bob, bob.ua.sessions.ring(incoming.call, net.now))
    net.run(0.3)
    (early,) = alice_call.dialogs.values()
    new = replace_at_bob(net, carol, replaces_value(early.id))
    assert final_status(carol, new.call_id) == 481
    assert incoming.call.server is not None and not incoming.call.server.final_sent
    assert not received(alice, "CANCEL")


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces
##% header field matches an early dialog that was initiated by the UA, it
##% accepts the new INVITE by sending a 200-class response, and shuts
##% down the replaced dialog by sending a CANCEL.
##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% If the user agent only
##% wishes to replace an early dialog (as in the Call Pickup example in
##% Section 7.1), the UAC MAY also include the "early-only" parameter in
##% the Replaces header field.
def test_call_pickup_replaces_our_early_dialog_and_cancels_the_invite() -> None:
    """§7.1: Alice calls Bob's desk (Bob here); Carol (Bob in the lab) picks up."""
    net, alice, desk, lab, lab_replaces, alice_call, early = _pickup_scene()
    new, effects = lab_replaces.invite(
        early.id, net.now, target="sip:alice@alice.example.com", early_only=True, body=b"v=0 l"
    )
    net.call(lab, effects)
    net.run(net.now + 2.0)
    assert final_status(lab, new.call_id) == 200
    (cancel,) = received(desk, "CANCEL")
    assert cancel.call_id == alice_call.call_id
    assert final_status(alice, alice_call.call_id) == 487
    (replaced,) = alice.of(CallReplaced)
    assert replaced.replaced is alice_call and replaced.dialog.terminated  # by the 487


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches an active dialog, the UA MUST
##% verify that the initiator of the new INVITE is authorized to replace
##% the matched dialog.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the initiator of the new INVITE has been
##% successfully authenticated as equivalent to the user who is being
##% replaced, then the replacement is authorized.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% The UA MAY apply other local policy to authorize the remainder of the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% In addition, the UA MAY use other authorization mechanisms defined
##% for this purpose in standards track extensions.
def test_an_unauthorized_replacement_gets_403_and_the_policy_is_pluggable() -> None:
    net = Network()
    alice, bob, carol, alice_call, bob_call = talking(net)
    value = replaces_value(alice_view(alice_call))
    new = replace_at_bob(net, carol, value, headers=[("Referred-By", "<sip:mallory@example.com>")])
    assert final_status(carol, new.call_id) == 403
    assert not received(alice, "BYE") and not bob_call.ended
    # Alice's own second phone (same user in From) is the user being replaced.
    phone2 = net.add_ua(make_ua("phone2", seed=4, aor=ALICE))
    phone2_replaces = ReplacesExtension()
    phone2.ua.use(phone2_replaces)
    call, effects = phone2_replaces.invite(
        value, net.now, target="sip:bob@bob.example.com", body=b"v=0 p"
    )
    net.call(phone2, effects)
    net.run(net.now + 1.0)
    assert final_status(phone2, call.call_id) == 200
    # A local policy of the application decides instead.
    decisions: list[str] = []

    def nobody(request: Request, call: Call, dialog: Dialog) -> bool:
        decisions.append(request.call_id)
        return False

    net2 = Network()
    alice, bob, carol, alice_call, _ = talking(net2)
    bob_ext = bob.ua.extension("replaces")
    assert isinstance(bob_ext, ReplacesExtension)
    bob_ext.authorize = nobody
    new = replace_at_bob(net2, carol, replaces_value(alice_view(alice_call)))
    assert final_status(carol, new.call_id) == 403 and decisions == [new.call_id]


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% Likewise, if the Replaces
##% header field matches a dialog which was not created with an INVITE,
##% the UAS MUST reject the request with a 481 response.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches more than one dialog, the UA
##% MUST act as if no match is found.
def test_a_subscription_dialog_or_two_matches_get_481() -> None:
    net = Network()
    _, bob, carol, _ = trio(net)

    def dialog(local: str | None, remote: str) -> Dialog:
        made = Dialog(
            DialogId("sub@x", local, remote),
            NameAddr.parse("<sip:bob@example.com>"),
            NameAddr.parse(f"<{ALICE}>"),
            parse_uri("sip:alice@alice.example.com"),
            state=DialogState.CONFIRMED,
            is_uac=False,
        )
        bob.ua.dialogs[made.id] = made
        return made

    dialog("s1", "r").add_usage("subscribe:presence", object())
    new = replace_at_bob(net, carol, "sub@x;to-tag=s1;from-tag=r")
    assert final_status(carol, new.call_id) == 481
    # Two INVITE dialogs a to-tag of 0 both names (tag null and tag "0").
    for local in (None, "0"):
        dialog(local, "r2").add_usage("invite", Call(bob.ua.sessions, False, "sub@x"))
    new = replace_at_bob(net, carol, "sub@x;to-tag=0;from-tag=r2")
    assert final_status(carol, new.call_id) == 481


class _Refusing(OpaqueDescriber):
    def refusal(self, call: object, offer: bytes) -> Refusal | None:
        return Refusal("no common codec") if b"carol" in offer else None


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the UA cannot accept the new INVITE (for example: it cannot
##% establish required QoS or keying, or it has incompatible media), the
##% UA MUST return an appropriate error response and MUST leave the
##% matched dialog unchanged.
def test_an_offer_bob_cannot_accept_leaves_the_dialog_unchanged() -> None:
    net = Network()
    alice, bob, carol, alice_call, bob_call = talking(net)
    bob.ua.sessions.describer = _Refusing()
    new = replace_at_bob(net, carol, replaces_value(alice_view(alice_call)))
    assert final_status(carol, new.call_id) == 488
    assert not received(alice, "BYE") and not bob_call.ended
    assert bob_call.established is not None and not bob_call.established.terminated
    assert not bob.of(CallReplaced)


# -- the UAC (§4) -----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% A UAC MUST NOT send an INVITE with a
##% Replaces header field that attempts to replace an early dialog which
##% was not originated by the target of the INVITE with a Replaces header
##% field.
##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% Although this specification takes reasonable
##% precautions to prevent unexpected behavior in the face of forking,
##% implementations SHOULD only address replacement requests (i.e., set
##% the Request-URI of the replacement request) to the SIP Contact URI of
##% the target.
##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
##= type=test
##% UAs that want
##% explicit failure notification if Replaces is not supported MAY
##% include the "replaces" option in a Require header field.
##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% A User Agent that wishes to replace a single existing early or
##% confirmed dialog with a new dialog of its own, MAY send the target
##% User Agent an INVITE request containing a Replaces header field.
def test_replacing_our_own_dialog_goes_to_the_peer_contact() -> None:
    net = Network()
    alice, _bob, carol, alice_call, _bob_call = talking(net)
    alice_replaces = ReplacesExtension()
    alice.ua.use(alice_replaces)
    assert alice_call.established is not None
    _new, effects = alice_replaces.invite(
        alice_call.established, net.now, require=True, body=b"v=0 again"
    )
    (invite,) = [e.message for e in effects if hasattr(e, "message")]
    assert str(invite.uri) == "sip:bob@bob.example.com"
    assert invite.header("Require") == ["replaces"]
    assert invite.header("Replaces") == Replaces.parse(replaces_value(alice_call.established.id))
    # Our own early dialog, as the caller: the peer did not originate it.
    call, effects = alice.ua.sessions.invite("sip:carol@carol.example.com", net.now, body=b"v")
    net.call(alice, effects)
    net.run(net.now + 0.1)
    (incoming,) = carol.of(IncomingCall)
    net.call(carol, carol.ua.sessions.ring(incoming.call, net.now))
    net.run(net.now + 0.2)
    (early,) = call.dialogs.values()
    with pytest.raises(ValueError):
        alice_replaces.invite(early, net.now, body=b"v")
    with pytest.raises(ValueError):
        alice_replaces.invite(early.id, net.now)  # no target


##= https://www.rfc-editor.org/rfc/rfc3891#section-8
##= type=test
##% As such, invitations with the Replaces header MUST only be accepted if
##% the peer requesting replacement has been properly authenticated using
##% a standard SIP mechanism (Digest or S/MIME), and authorized to request
##% a replacement of the target dialog.
def test_with_digest_only_the_authenticated_user_replaced_may_replace() -> None:
    realm = "bob.example.com"
    store = MemoryCredentials.from_passwords({"alice": "wonderland", "carol": "c"}, realm)
    net = Network()
    alice, bob, carol, alice_call, bob_call = talking(net)
    bob_ext = bob.ua.extension("replaces")
    assert isinstance(bob_ext, ReplacesExtension)
    bob_ext.authenticator = DigestAuthenticator(realm, store, secret=b"k" * 32, bind_from=True)
    value = replaces_value(alice_view(alice_call))
    # Carol names Alice as referrer but has no credentials: challenged, and no more.
    new = replace_at_bob(net, carol, value)
    assert final_status(carol, new.call_id) == 401
    assert not received(alice, "BYE") and not bob_call.ended
    # Alice's second phone authenticates as alice: the replacement goes through.
    phone2 = net.add_ua(
        make_ua(
            "phone2",
            seed=4,
            aor=ALICE,
            credentials=StaticCredentials({realm: ("alice", "wonderland")}),
        )
    )
    phone2_replaces = ReplacesExtension()
    phone2.ua.use(phone2_replaces)
    call, effects = phone2_replaces.invite(
        value, net.now, target="sip:bob@bob.example.com", body=b"v=0 p"
    )
    net.call(phone2, effects)
    net.run(net.now + 1.0)
    statuses = [m.status for _, m in phone2.received if isinstance(m, Response)]
    assert 401 in statuses and final_status(phone2, call.call_id) == 200
    assert received(alice, "BYE")


##= https://www.rfc-editor.org/rfc/rfc3891#section-8
##= type=test
##% Implementations SHOULD NOT rely
##% on this method as an authorization mechanism.
##= https://www.rfc-editor.org/rfc/rfc3891#section-8
##= type=test
##% In addition, implementations
##% which support the Replaces header SHOULD also implement the Referred-By
##% mechanism.
def test_a_participant_of_another_dialog_may_not_replace_this_one() -> None:
    """Alice talks with Bob; Carol calls Bob too; Alice may not replace Carol's dialog."""
    net = Network()
    alice, bob, carol, _, _ = talking(net)
    carol_call, effects = carol.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=b"c")
    net.call(carol, effects)
    net.run(net.now + 0.1)
    incoming = bob.of(IncomingCall)[-1]
    net.call(bob, bob.ua.sessions.answer(incoming.call, net.now, body=b"v=0 bob"))
    net.run(net.now + 0.5)
    alice_replaces = ReplacesExtension()
    alice.ua.use(alice_replaces)
    assert carol_call.established is not None
    view = carol_call.established.id
    call, effects = alice_replaces.invite(
        view, net.now, target="sip:bob@bob.example.com", body=b"v=0 a2"
    )
    net.call(alice, effects)
    net.run(net.now + 1.0)
    assert final_status(alice, call.call_id) == 403
    assert not received(carol, "BYE")
    # Referred by Carol, the user being replaced, it goes through.
    call, effects = alice_replaces.invite(
        view,
        net.now,
        target="sip:bob@bob.example.com",
        body=b"v=0 a3",
        headers=[("Referred-By", "<sip:carol@example.com>")],
    )
    net.call(alice, effects)
    net.run(net.now + 1.0)
    assert final_status(alice, call.call_id) == 200
    assert received(carol, "BYE")


@pytest.mark.parametrize(
    "value",
    [
        "",
        ";;;",
        "a;to-tag=1;from-tag=2, b;to-tag=3;from-tag=4",
        "a@b@c;to-tag=1;from-tag=2",
        "a;to-tag=;from-tag=2",
        "a;to-tag=1;from-tag=2;early-only=",
        "a" * 5000 + ";to-tag=1",
        'a;to-tag="x";from-tag=2',
    ],
)
def test_garbage_in_replaces_gets_400_and_leaves_every_call_alone(value: str) -> None:
    net = Network()
    alice, bob, carol, alice_call, bob_call = talking(net)
    request = carol.ua.build_request(
        "INVITE",
        "sip:bob@bob.example.com",
        headers=[("Replaces", value)],
    )
    _, effects = carol.ua.send(request, net.now)
    net.call(carol, effects)
    net.run(net.now + 1.0)
    assert final_status(carol, request.call_id) == 400
    assert not received(alice, "BYE") and not bob_call.ended and not alice_call.ended
    assert len(bob.of(IncomingCall)) == 1  # Alice's only
