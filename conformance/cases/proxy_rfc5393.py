"""RFC 5393 seen at a proxy: Max-Breadth (§5.3.3: added when absent, one value, capped at the
proxy's maximum, never decremented per hop, shared among parallel branches, 440 when too
small) and loop detection when forking (§4.1, §4.2.2: a forked request coming back unchanged
gets 482), with the CANCEL of a branch on its INVITE's branch and a branch second part
that does not vary with the method (§4.2.1).  The runner plays the upstream UAC and the
downstream UASs (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    bind_listeners,
    cancel_of,
    downstream_uri,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.cases.proxy_forwarding import _complete, _looped, _send
from conformance.cases.proxy_responses import _close, _invite
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import param
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 77

PROXY = ("proxy",)


def _breadths(got: Got) -> list[str]:
    """The Max-Breadth values of a forwarded request, comma-separated ones split."""
    return [v.strip() for line in got[0].get_all("Max-Breadth") for v in line.split(",")]


def _through(ctx: Context, breadth: str | None) -> list[str]:
    """A MESSAGE to one downstream socket (with ``Max-Breadth: breadth`` unless None); the
    Max-Breadth values of the copy that arrived."""
    link, down = ctx.link(), ctx.listener()
    extra = [] if breadth is None else [("Max-Breadth", breadth)]
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down), extra=extra)
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    return _breadths(got)


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If a SIP proxy receives a request with no Max-Breadth header field value, it MUST add one,
##% with a value that is RECOMMENDED to be 60.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% All proxied requests MUST contain a single Max-Breadth header field value.
@case("proxy-5393-max-breadth-added", roles=PROXY, no_control=FORWARDED)
def max_breadth_added(ctx: Context) -> None:
    """A request without Max-Breadth leaves the proxy with one value (60 recommended)."""
    values = _through(ctx, None)
    ctx.check(bool(values), "a Max-Breadth added", "none")
    ctx.check(len(values) == 1, "a single Max-Breadth value", ", ".join(values), 1)
    ctx.should(values == ["60"], "Max-Breadth: 60", ", ".join(values))


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% A proxy MUST NOT decrement Max-Breadth for each hop or otherwise use it to restrict the
##% "depth" of a request's propagation.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% SIP proxies MUST NOT allow the Outgoing Max-Breadth to exceed the Incoming Max-Breadth in
##% a given response context.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% A proxy SHOULD NOT use a smaller amount of Max-Breadth than was present in the original
##% request unless the Incoming Max-Breadth exceeded the proxy's maximum acceptable value.
@case("proxy-5393-max-breadth-kept", roles=PROXY, no_control=FORWARDED)
def max_breadth_kept(ctx: Context) -> None:
    """``Max-Breadth: 7`` forwarded to one target: 7 still (no more, and not decremented as
    Max-Forwards is)."""
    values = _through(ctx, "7")
    shown = ", ".join(values) or "none"
    numbers = [int(v) for v in values if v.isdigit()]
    ctx.check(len(numbers) == 1 and numbers[0] <= 7, "at most 7 (the incoming value)", shown, 1)
    ctx.check(numbers != [6], "not decremented (7, not 6)", shown)
    ctx.should(numbers == [7], "Max-Breadth: 7", shown)


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% Proxies MUST have a maximum allowable Incoming Max-Breadth value, which is RECOMMENDED to
##% be 60.
##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If this maximum is exceeded in a received request, the proxy MUST overwrite it with a
##% value that SHOULD be no greater than its allowable maximum.
@case("proxy-5393-max-breadth-capped", roles=PROXY, no_control=FORWARDED)
def max_breadth_capped(ctx: Context) -> None:
    """``Max-Breadth: 99999`` (far beyond any sane maximum) is overwritten with less."""
    values = _through(ctx, "99999")
    shown = ", ".join(values) or "none"
    numbers = [int(v) for v in values if v.isdigit()]
    ctx.check(len(numbers) == 1 and numbers[0] < 99999, "a value below 99999", shown, 1)


def _fork_breadth(
    ctx: Context, breadth: str
) -> tuple[Link, Outgoing, list[tuple[Listener, Got]], list[Listener]]:
    """A MESSAGE with ``Max-Breadth: breadth`` to an AOR bound to two downstream sockets;
    the copies that arrived within a second (before any is answered), and the sockets."""
    uri, downs = bind_listeners(ctx, 2)
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=uri, extra=[("Max-Breadth", breadth)])
    link.send(bytes(req))
    branches = []
    for down in downs:
        got = arrives(down, "MESSAGE", req.call_id, timeout=1.0)
        if got is not None:
            branches.append((down, got))
    return link, req, branches, downs


def _finish(link: Link, req: Outgoing, branches: list[tuple[Listener, Got]]) -> None:
    """Answer every branch 200 (and any serial one that follows), take the final answer."""
    pending = list(branches)
    while pending:
        down, got = pending.pop()
        reply(down, got, 200)
        later = arrives(down, "MESSAGE", req.call_id, timeout=0.2)
        if later is not None and later[0].branch != got[0].branch:
            pending.append((down, later))
    final_of(link, req, timeout=1.0)


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% SIP proxies MUST NOT allow the Outgoing Max-Breadth to exceed the Incoming Max-Breadth in
##% a given response context.
@case("proxy-5393-max-breadth-shared", roles=PROXY, no_control=FORWARDED)
def max_breadth_shared(ctx: Context) -> None:
    """``Max-Breadth: 2`` forked to two contacts in parallel: the branches' values add up
    to 2 at most (forking serially, one branch with at most 2, conforms too)."""
    link, req, branches, _ = _fork_breadth(ctx, "2")
    if not branches:
        final = final_of(link, req, timeout=1.0)
        ctx.inconclusive(f"the MESSAGE reached no bound contact ({describe(final)})")
    values = [v for _, got in branches for v in _breadths(got)]
    _finish(link, req, branches)
    numbers = [int(v) for v in values if v.isdigit()]
    shown = ", ".join(values) or "none"
    ctx.check(
        len(numbers) == len(branches) and sum(numbers) <= 2,
        "concurrent branches' Max-Breadth adding up to 2 at most",
        shown,
    )


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
##= type=test
##% If a SIP proxy determines a response context has insufficient Incoming Max-Breadth to
##% carry out a desired parallel fork, and the proxy is unwilling/unable to compensate by
##% forking serially or sending a redirect, that proxy MUST return a 440 (Max-Breadth
##% Exceeded) response.
@case("proxy-5393-max-breadth-1", roles=PROXY, no_control=FORWARDED)
def max_breadth_one(ctx: Context) -> None:
    """``Max-Breadth: 1`` to an AOR with two contacts: 440, or one branch at a time (serial
    forking, each with Max-Breadth 1); never two parallel branches."""
    link, req, branches, _ = _fork_breadth(ctx, "1")
    if not branches:
        final = final_of(link, req, timeout=1.0)
        ctx.check(
            final is not None and final.status in (440, 302),
            "440 (Max-Breadth Exceeded), a redirect, or serial forking",
            describe(final),
        )
        return
    values = [v for _, got in branches for v in _breadths(got)]
    _finish(link, req, branches)
    ctx.check(
        len(branches) == 1 and values == ["1"],
        "one branch at a time, with Max-Breadth: 1",
        f"{len(branches)} concurrent branch(es), Max-Breadth {', '.join(values) or 'none'}",
    )


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
##= type=test
##% When a SIP proxy forks a particular request to more than one location, it MUST ensure that
##% request is not looping through this proxy.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% Proxies required to perform loop detection by RFC 5393 MUST perform the following
##% loop-detection test before forwarding a request.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% If these values are equal, the request has looped and the proxy MUST reject the request
##% with a 482 (Loop Detected) response.
@case("proxy-5393-forked-loop-482", roles=PROXY, no_control=FORWARDED)
def forked_loop(ctx: Context) -> None:
    """A request forked to two contacts, one copy sent back to the proxy unchanged but for
    the Request-URI restored to the address-of-record (a loop through the proxy): 482."""
    uri, downs = bind_listeners(ctx, 2)
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(req))
    branches = [
        (down, got)
        for down in downs
        if (got := arrives(down, "MESSAGE", req.call_id, timeout=2.0)) is not None
    ]
    if len(branches) < 2:
        _finish(link, req, branches)
        ctx.inconclusive(f"the MESSAGE reached {len(branches)} of the 2 bound contacts")
    back = _looped(ctx, link, branches[0][1], uri=uri)
    final, _ = ctx.transaction(link, back, timeout=2.0, learn=False)
    again = [(d, g) for d, _ in branches if (g := arrives(d, "MESSAGE", req.call_id, 0.2))]
    for down, got in again:  # the loop forwarded once more: answer those copies
        reply(down, got, 200)
    _finish(link, req, branches)
    ctx.check(
        final is not None and final.status == 482,
        "482 (Loop Detected)",
        describe(final) + (f"; forwarded again ({len(again)})" if again else ""),
        2,
    )


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% CANCEL and non-200 ACK requests MUST have the same branch parameter value as the
##% corresponding request they cancel or acknowledge.
@case("proxy-5393-cancel-ack-branch", roles=PROXY, no_control=FORWARDED)
def cancel_ack_branch(ctx: Context) -> None:
    """Our CANCEL of a ringing INVITE: the proxy's CANCEL downstream, and its ACK of the 487,
    carry the branch of the INVITE it forwarded."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    link.send(bytes(cancel_of(req)), "CANCEL")
    cancel = arrives(down, "CANCEL", req.call_id, timeout=2.0)
    if cancel is None:
        _close(link, down, req, got, 487)
        ctx.inconclusive("the CANCEL was not forwarded")
    assert cancel is not None
    reply(down, cancel, 200)
    reply(down, got, 487)
    ack = down.expect(lambda m: m.method == "ACK", timeout=0.5)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    if ack is None:  # a stateless proxy relays our ACK (its branch computed the same way)
        ack = down.expect(lambda m: m.method == "ACK", timeout=1.0)
    branch = got[0].branch
    ctx.check(cancel[0].branch == branch, f"CANCEL on {branch}", str(cancel[0].branch))
    if ack is None:
        ctx.inconclusive("no ACK of the 487 downstream (neither the proxy's nor ours relayed)")
    assert ack is not None
    ctx.check(ack[0].branch == branch, f"ACK of the 487 on {branch}", str(ack[0].branch))


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% The proxy MUST insert a Via header field value into the copy before the existing Via
##% header field values.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% The first part of the branch value MUST satisfy the constraints of Section 8.1.1.7.
@case("proxy-5393-via-inserted", roles=PROXY, no_control=FORWARDED)
def via_inserted(ctx: Context) -> None:
    """The copy downstream: a Via of the proxy's on top (a z9hG4bK branch of its own), ours
    right below it."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    vias = [v.strip() for line in got[0].get_all("Via") for v in _split_vias(line)]
    shown = " | ".join(vias)
    ctx.check(
        len(vias) >= 2 and param(vias[1], "branch") == req.branch,
        "the proxy's Via on top, ours second",
        shown,
    )
    branch = param(vias[0], "branch") or ""
    ctx.check(
        branch.startswith("z9hG4bK") and branch != req.branch,
        "a branch of the proxy's own, starting z9hG4bK",
        branch or "none",
        1,
    )


def _split_vias(line: str) -> list[str]:
    """A Via header line split at the commas between values (not inside quotes)."""
    out, cur, quoted = [], "", False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur]


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% This second part MUST vary with any field used by the location service logic in
##% determining where to retarget or forward this request.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% Hence, the second part MUST depend at least on the received Request-URI and any Route
##% header field values used when processing the received request.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% Each Via header field value in the request whose sent-by value matches a value placed
##% into previous requests by this proxy MUST be inspected for the "second part" defined in
##% Section 4.2.1 of RFC 5393.
##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% If the second field is present, the proxy MUST perform the second-part calculation
##% described in Section 4.2.1 of RFC 5393 on this request and compare the result to the
##% value from the Via header field.
@case(
    "proxy-5393-forked-spiral-forwarded",
    roles=PROXY,
    no_control="the same request coming back unchanged is answered 482 first (a loop)",
)
def forked_spiral(ctx: Context) -> None:
    """A forked copy sent back to the proxy unchanged is a loop (482, the control); sent
    back with another Request-URI (retargeted downstream: a spiral) it is forwarded."""
    uri, downs = bind_listeners(ctx, 2)
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(req))
    branches = [
        (down, got)
        for down in downs
        if (got := arrives(down, "MESSAGE", req.call_id, timeout=2.0)) is not None
    ]
    if len(branches) < 2:
        _finish(link, req, branches)
        ctx.inconclusive(f"the MESSAGE reached {len(branches)} of the 2 bound contacts")
    # the control: the copy sent back unchanged is a loop, answered 482
    back = _looped(ctx, link, branches[0][1], uri=uri)
    looped, _ = ctx.transaction(link, back, timeout=2.0, learn=False)
    if looped is None or looped.status != 482:
        for down, _got in branches:
            stray = arrives(down, "MESSAGE", req.call_id, timeout=0.2)
            if stray is not None:
                reply(down, stray, 200)
        _finish(link, req, branches)
        ctx.not_applicable(
            f"no 482 for the loop ({describe(looped)}): proxy-5393-forked-loop-482 judges that"
        )
    elsewhere = ctx.listener()
    spiral = _looped(ctx, link, branches[0][1], uri=downstream_uri(elsewhere, "spiral"))
    link.send(bytes(spiral), "the copy sent back retargeted (a spiral)")
    again = arrives(elsewhere, "MESSAGE", req.call_id, timeout=2.0)
    refused = final_of(link, spiral, timeout=0.3) if again is None else None
    if again is not None:
        reply(elsewhere, again, 200)
        final_of(link, spiral, timeout=1.0)
    _finish(link, req, branches)
    ctx.check(again is not None, "the spiral forwarded", describe(refused))


def _second_part(branch: str) -> str | None:
    """What follows the first "." after the magic cookie: the loop-detection part when the
    proxy separates its branch that way (RFC 3261 §16.6 step 8 leaves the form open)."""
    rest = branch[len("z9hG4bK") :] if branch.startswith("z9hG4bK") else branch
    return rest.split(".", 1)[1] if "." in rest else None


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
##= type=test
##% This second part MUST NOT vary with the request method.
@case("proxy-5393-second-part-method", roles=PROXY, no_control=FORWARDED)
def second_part_method(ctx: Context) -> None:
    """A MESSAGE and then an OPTIONS alike in all else (Request-URI, From, To, Call-ID, CSeq
    number, Via and its branch, no Route): the second parts of the two branches the proxy
    forwards are equal (not applicable when its branch shows no "."-separated second
    part)."""
    link, down = ctx.link(), ctx.listener()
    uri, call_id, from_tag = (
        downstream_uri(down),
        unique("c") + "@conformance.invalid",
        unique("t"),
    )
    parts: dict[str, str | None] = {}
    via = ""
    for method in ("MESSAGE", "OPTIONS"):
        req = ctx.request(method, link, uri=uri, call_id=call_id, from_tag=from_tag, cseq=5)
        # the same Via, branch included (another method: another transaction, §17.2.3), so
        # that the method is the one thing a second part could see vary
        via = via or req.get("Via") or ""
        req.set("Via", via)
        got = _send(ctx, link, req, down, f"{method}, the same but for the method")
        _complete(link, req, down, got)
        parts[method] = _second_part(got[0].branch or "")
    if parts["MESSAGE"] is None or parts["OPTIONS"] is None:
        ctx.not_applicable("the proxy's branch has no '.'-separated second part to compare")
    ctx.check(
        parts["MESSAGE"] == parts["OPTIONS"],
        f"the same second part for both ({parts['MESSAGE']})",
        f"MESSAGE {parts['MESSAGE']}, OPTIONS {parts['OPTIONS']}",
    )


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3.1
##= type=test
##% Proxies SHOULD be prepared to reuse this Max-Breadth in cases where there may be elements
##% left in the target-set.
@case("proxy-5393-max-breadth-reused", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def max_breadth_reused(ctx: Context) -> None:
    """``Max-Breadth: 1`` to an AOR with two contacts, forked one at a time: when the first
    branch fails (486), its Max-Breadth goes to the other contact (a 440 instead is not
    applicable: the proxy does not fork serially)."""
    link, req, branches, downs = _fork_breadth(ctx, "1")
    if len(branches) != 1:
        if branches:
            _finish(link, req, branches)
        final = final_of(link, req, timeout=1.0) if not branches else None
        ctx.not_applicable(
            f"no serial fork within Max-Breadth 1 ({len(branches)} branches, {describe(final)})"
        )
    down, got = branches[0]
    others = [d for d in downs if d is not down]
    reply(down, got, 486)
    down.expect(lambda m: m.method == "ACK", timeout=0.2)
    nxt = None
    for other in others:
        nxt = arrives(other, "MESSAGE", req.call_id, timeout=1.0)
        if nxt is not None:
            reply(other, nxt, 200)
            break
    final = final_of(link, req, timeout=1.0)
    ctx.should(nxt is not None, "the other contact tried after the 486", describe(final))
