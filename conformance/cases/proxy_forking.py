"""Proxy forking (RFC 3261 §16.1, §16.6, §16.7, §16.10): an INVITE forked to two downstream
UASs of the runner's, whose contacts the preamble binds to one address-of-record at the
registrar the proxy consults; the runner answers each branch as the case needs and judges
what comes upstream and what the other branch receives (CANCEL).
"""

from __future__ import annotations

import time

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    bind_listeners,
    cancel_of,
    downstream_uri,
    end_branch,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.messages import Outgoing, ack_for, bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 73

PROXY = ("proxy",)
#: why the forking cases run no control of their own
FORKED = "judged on a forked INVITE: one reaching fewer than two branches is inconclusive"
PREAMBLE = "two contacts bound to one address-of-record"


def _fork(ctx: Context) -> tuple[Link, Outgoing, list[tuple[Listener, Got]]]:
    """An INVITE to an AOR with two bindings; the copy each downstream socket received."""
    uri, downs = bind_listeners(ctx, 2)
    link = ctx.link()
    req = ctx.request("INVITE", link, uri=uri)
    link.send(bytes(req))
    branches = []
    for down in downs:
        got = arrives(down, "INVITE", req.call_id, timeout=3.0)
        if got is not None:
            branches.append((down, got))
    if len(branches) < 2:
        for down, got in branches:
            end_branch(down, got, 486)
        ack_upstream(link, req, final_of(link, req))
        ctx.inconclusive(f"the INVITE reached {len(branches)} of the 2 bound contacts")
    return link, req, branches


def _cancelled(down: Listener, got: Got, timeout: float = 2.0) -> bool:
    """Whether the branch gets a CANCEL (answered 200, and the INVITE 487)."""
    cancel = arrives(down, "CANCEL", got[0].call_id, timeout=timeout)
    if cancel is not None:
        reply(down, cancel, 200)
    reply(down, got, 487)
    down.expect(lambda m: m.method == "ACK", timeout=0.3)
    return cancel is not None


def _bye(ctx: Context, link: Link, req: Outgoing, final: Message, down: Listener) -> None:
    """ACK a 2xx that came through the proxy and BYE that call (answered downstream)."""
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK (2xx)")
    arrives(down, "ACK", req.call_id, timeout=1.0)
    bye = bye_for(req, final, ctx.target)
    link.send(bytes(bye), "BYE")
    got = arrives(down, "BYE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
        final_of(link, bye)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Thus, the branch parameter provided with the Via header field inserted in step 8 MUST be
##% different for each attempt.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% Any request that is forwarded to more than one location MUST be handled statefully.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Otherwise, the proxy MUST forward a response from the responses stored in the response
##% context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A stateful proxy MUST send a final response to a response context's server transaction if
##% no final responses have been immediately forwarded by the above rules and all client
##% transactions in this response context have been terminated.
@case("proxy-fork-parallel", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def fork_parallel(ctx: Context) -> None:
    """Both bindings get the INVITE, each with a branch of its own; one final upstream."""
    link, req, branches = _fork(ctx)
    for down, got in branches:
        end_branch(down, got, 486)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    again = final_of(link, req, timeout=0.5)
    ours = [got[0].branch for _, got in branches]
    ctx.check(ours[0] != ours[1], "two different branches", " = ".join(map(str, ours)))
    ctx.check(final is not None, "a final response upstream", "none", requirement=1)
    ctx.check(again is None, "one final response upstream", describe(again), requirement=1)
    assert final is not None
    ctx.check(final.status == 486, "the 486 both gave", describe(final), requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If no 6xx class responses are present, the proxy SHOULD choose from the lowest response
##% class stored in the response context.
@case("proxy-fork-lowest-class", roles=PROXY, level="SHOULD", preamble=PREAMBLE, no_control=FORKED)
def lowest_class(ctx: Context) -> None:
    """A 500 on one branch and a 486 on the other: the 486 goes upstream."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    end_branch(down_a, got_a, 500)
    end_branch(down_b, got_b, 486)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    ctx.check(final.status == 486, "486 (the 4xx class)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% It MUST choose from the 6xx class responses if any exist in the context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy SHOULD also generate a CANCEL request for all pending client transactions
##% associated with this response context when it receives a 6xx response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If a 6xx response is received, it is not immediately forwarded, but the stateful proxy
##% SHOULD cancel all client pending transactions as described in Section 10
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The stateful proxy MUST choose the "best" final response among those received and stored in
##% the response context.
@case("proxy-fork-6xx", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def six_xx(ctx: Context) -> None:
    """A 603 on one branch while the other rings: the other is CANCELled (SHOULD), the 603
    goes upstream (MUST)."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    reply(down_a, got_a, 180)
    end_branch(down_b, got_b, 603)
    cancelled = _cancelled(down_a, got_a, timeout=1.5)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    ctx.check(final.status == 603, "603 (the 6xx chosen)", describe(final))
    ctx.should(cancelled, "a CANCEL to the ringing branch", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% and it MUST NOT create any new branches in this context.
@case("proxy-fork-6xx-no-new-branch", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def six_xx_no_new_branch(ctx: Context) -> None:
    """A 603 on one branch; the other, ringing, ends with a 302 naming a third contact (its
    answer crossing the CANCEL): the proxy does not recurse to it, the 603 goes upstream."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    third = ctx.listener()
    reply(down_a, got_a, 180)
    end_branch(down_b, got_b, 603)
    cancel = arrives(down_a, "CANCEL", req.call_id, timeout=1.5)
    if cancel is not None:
        reply(down_a, cancel, 200)
    reply(down_a, got_a, 302, extra=[("Contact", f"<sip:third@{third.hostport}>")])
    down_a.expect(lambda m: m.method == "ACK", timeout=0.3)
    recursed = arrives(third, "INVITE", req.call_id, timeout=1.0)
    if recursed is not None:
        end_branch(third, recursed, 486)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    ctx.check(recursed is None, "no INVITE to the 302's contact", "a new branch to it")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the forwarded response was a final response, the proxy MUST generate a CANCEL request
##% for all pending client transactions associated with this response context.
@case("proxy-fork-2xx-cancels-others", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def two_hundred_cancels(ctx: Context) -> None:
    """A 200 on one branch while the other rings: the 200 goes up, the other is CANCELled."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    reply(down_a, got_a, 180)
    reply(down_b, got_b, 200)
    final = ctx.require_final(final_of(link, req), "2xx forwarded")
    cancelled = _cancelled(down_a, got_a)
    if final.status == 200:
        _bye(ctx, link, req, final, down_b)
    ctx.check(final.status == 200, "200 upstream", describe(final))
    ctx.check(cancelled, "a CANCEL to the ringing branch", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% After a final response has been sent on the server transaction, the following responses
##% MUST be forwarded immediately:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST maintain the response context until all of its associated transactions have
##% been terminated, even after forwarding a final response.
@case("proxy-fork-all-2xx-forwarded", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def all_2xx(ctx: Context) -> None:
    """A 200 on both branches: both come upstream (each with its own To tag)."""
    link, req, branches = _fork(ctx)
    tags = [reply(down, got, 200) for down, got in branches]
    finals: list[Message] = []
    for _ in range(2):
        got = upstream(link, req, lambda m: m.status == 200, timeout=2.0)
        if got is not None:
            finals.append(got)
    for final in finals:
        down = next(
            (d for (d, _), t in zip(branches, tags, strict=True) if t == final.to_tag), None
        )
        if down is not None:
            _bye(ctx, link, req, final, down)
    seen = sorted(str(f.to_tag) for f in finals)
    ctx.check(seen == sorted(tags), "both 200s: tags " + ", ".join(tags), ", ".join(seen))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the selected response is a 401 (Unauthorized) or 407 (Proxy Authentication Required),
##% the proxy MUST collect any WWW-Authenticate and Proxy-Authenticate header field values
##% from all other 401 (Unauthorized) and 407 (Proxy Authentication Required) responses
##% received so far in this response context and add them to this response without
##% modification before forwarding.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Each WWW-Authenticate and Proxy-Authenticate value received in responses to the forked
##% request MUST be placed into the single response that is sent by the forking proxy to the
##% UA; the ordering of these header field values is not significant.
@case("proxy-fork-challenges-aggregated", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def challenges(ctx: Context) -> None:
    """A 401 and a 407 from the branches: the one upstream carries both challenges."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    www = 'Digest realm="a.conformance.invalid", nonce="aaaa", algorithm=MD5'
    prx = 'Digest realm="b.conformance.invalid", nonce="bbbb", algorithm=MD5'
    reply(down_a, got_a, 401, extra=[("WWW-Authenticate", www)])
    down_a.expect(lambda m: m.method == "ACK", timeout=0.2)
    reply(down_b, got_b, 407, extra=[("Proxy-Authenticate", prx)])
    down_b.expect(lambda m: m.method == "ACK", timeout=0.2)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    if final.status not in (401, 407):
        ctx.fail("401 or 407", describe(final))
    got = [v.strip() for v in final.get_all("WWW-Authenticate")]
    got += [v.strip() for v in final.get_all("Proxy-Authenticate")]
    ctx.check(www in got and prx in got, "both challenges", " | ".join(got) or "(none)")
    ctx.check(len(got) == 2, "the two challenges, once each", " | ".join(got), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% Furthermore, the element MUST generate CANCEL requests for all pending client
##% transactions in the context as described in Section 16.7 step 10.
@case("proxy-fork-cancel-all", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def cancel_all(ctx: Context) -> None:
    """CANCEL of a forked INVITE ringing on both branches: both get a CANCEL; 487 upstream."""
    link, req, branches = _fork(ctx)
    for down, got in branches:
        reply(down, got, 180)
    upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    cancel = cancel_of(req)
    link.send(bytes(cancel), "CANCEL")
    answer = final_of(link, cancel, timeout=1.0)
    cancelled = [_cancelled(down, got) for down, got in branches]
    final = final_of(link, req)
    ack_upstream(link, req, final)
    ctx.check(all(cancelled), "a CANCEL on both branches", f"{sum(cancelled)} of 2")
    ctx.check(answer is not None and answer.status == 200, "200 to CANCEL", describe(answer))
    ctx.check(final is not None and final.status == 487, "487 upstream", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A stateful proxy MUST NOT immediately forward any other responses.
@case("proxy-fork-final-held", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def final_held(ctx: Context) -> None:
    """A 486 on one branch while the other rings is held; the later 200 goes up."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    reply(down_a, got_a, 180)
    end_branch(down_b, got_b, 486)
    early = final_of(link, req, timeout=0.5)
    reply(down_a, got_a, 200)
    final = final_of(link, req, timeout=2.0) if early is None else early
    if final is not None and final.status == 200:
        _bye(ctx, link, req, final, down_a)
    else:
        ack_upstream(link, req, final)
    ctx.check(early is None, "no final response while a branch rings", describe(early))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy SHOULD give preference to responses that provide information affecting
##% resubmission of this request, such as 401, 407, 415, 420, and 484 if the 4xx class is
##% chosen.
@case("proxy-fork-prefers-420", roles=PROXY, level="SHOULD", preamble=PREAMBLE, no_control=FORKED)
def prefers_420(ctx: Context) -> None:
    """A 486 and a 420 from the branches: the 420 (how to resubmit) goes upstream."""
    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    end_branch(down_a, got_a, 486)
    reply(down_b, got_b, 420, extra=[("Unsupported", "x-conformance")])
    down_b.expect(lambda m: m.method == "ACK", timeout=0.3)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the target set remains empty after applying all of the above, the proxy MUST return an
##% error response, which SHOULD be the 480 (Temporarily Unavailable) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
##= type=test
##% The reason phrase SHOULD indicate a more precise cause as to why the callee is
##% unavailable.
@case("proxy-no-binding-error", roles=PROXY)
def no_binding(ctx: Context) -> None:
    """A MESSAGE for a user of the proxy's domain with no binding gets an error response."""
    uri, downs = bind_listeners(ctx, 1)
    link = ctx.link()
    control = ctx.request("MESSAGE", link, uri=uri)
    control_bound(ctx, link, control, downs[0])
    domain = uri.split("@", 1)[1]
    req = ctx.request("MESSAGE", link, uri=f"sip:{unique('nobody')}@{domain}")
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    ctx.check((final.status or 0) >= 400, "an error response", describe(final))
    if final.status == 480:
        reason = (final.reason or "").strip().lower()
        ctx.check(
            reason not in ("", "temporarily unavailable"),
            "a reason phrase saying why (no binding)",
            describe(final),
            requirement=1,
            level="SHOULD",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% When accessing the location service constructed by a registrar, the Request-URI MUST
##% first be canonicalized as described in Section 10.3 before being used as an index.
@case("proxy-location-canonical", roles=PROXY)
def location_canonical(ctx: Context) -> None:
    """A Request-URI with a URI parameter still finds the AOR's binding."""
    uri, downs = bind_listeners(ctx, 1)
    link = ctx.link()
    control_bound(ctx, link, ctx.request("MESSAGE", link, uri=uri), downs[0])
    req = ctx.request("MESSAGE", link, uri=uri + ";x-conformance=1")
    link.send(bytes(req))
    got = arrives(downs[0], "MESSAGE", req.call_id)
    if got is not None:
        reply(downs[0], got, 200)
    final = final_of(link, req, timeout=1.0)
    ctx.check(got is not None, "the MESSAGE at the bound contact", describe(final))


def control_bound(ctx: Context, link: Link, req: Outgoing, down: Listener) -> Message:
    """The control: a MESSAGE to the AOR reaches its one binding and is answered 200."""

    def exchange() -> tuple[Message | None, bool]:
        link.send(bytes(req), "control")
        got = arrives(down, "MESSAGE", req.call_id)
        if got is None:
            return final_of(link, req, timeout=1.0), False
        reply(down, got, 200)
        final = final_of(link, req)
        return final, final is not None and final.status == 200

    return ctx.controlled("MESSAGE", exchange, "the control MESSAGE to the bound AOR")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% A proxy MUST NOT add additional targets to the target set if the Request-URI of the
##% original request does not indicate a resource this proxy is responsible for.
@case("proxy-foreign-uri-no-location", roles=PROXY)
def foreign_uri(ctx: Context) -> None:
    """A request for a bound user but at another host goes to that host only, not to the
    user's binding."""
    uri, downs = bind_listeners(ctx, 1)
    link = ctx.link()
    control_bound(ctx, link, ctx.request("MESSAGE", link, uri=uri), downs[0])
    other = ctx.listener()
    user = uri.split(":", 1)[1].split("@", 1)[0]
    req = ctx.request("MESSAGE", link, uri=f"sip:{user}@{other.hostport}")
    link.send(bytes(req))
    got = arrives(other, "MESSAGE", req.call_id)
    wrong = arrives(downs[0], "MESSAGE", req.call_id, timeout=0.3)
    for down, copy in ((other, got), (downs[0], wrong)):
        if copy is not None:
            reply(down, copy, 200)
    final_of(link, req, timeout=1.0)
    ctx.check(wrong is None, "nothing at the user's binding", "the request went there too")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the Request-URI has a maddr parameter with a value the proxy is responsible for, and
##% the request was received using the port and transport indicated (explicitly or by
##% default) in the Request-URI, the proxy MUST strip the maddr and any non-default port or
##% transport parameter and continue processing as if those values had not been present in
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the Request-URI contains a maddr parameter, the proxy MUST check to see if its value is
##% in the set of addresses or domains the proxy is configured to be responsible for.
@case("proxy-maddr-self-stripped", roles=PROXY)
def maddr_self(ctx: Context) -> None:
    """A Request-URI for a bound user with maddr and port naming the proxy itself is looked
    up like the plain AOR: it reaches the binding."""
    uri, downs = bind_listeners(ctx, 1)
    link = ctx.link()
    control_bound(ctx, link, ctx.request("MESSAGE", link, uri=uri), downs[0])
    user, domain = uri.split(":", 1)[1].split("@", 1)
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    odd = f"sip:{user}@{host}:{ctx.target.port};maddr={ctx.target.address[0]}"
    req = ctx.request("MESSAGE", link, uri=odd)
    link.send(bytes(req))
    got = arrives(downs[0], "MESSAGE", req.call_id)
    if got is not None:
        reply(downs[0], got, 200)
    final = final_of(link, req, timeout=1.0)
    ctx.check(got is not None, "the MESSAGE at the binding", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the URI contains any parameters not allowed in a Request-URI, they MUST be removed.
@case("proxy-target-params-removed", roles=PROXY, preamble="a binding with a method parameter")
def target_params(ctx: Context) -> None:
    """A binding whose URI carries a method parameter (allowed in a Contact, not in a
    Request-URI) is reached with a Request-URI without it."""
    uri, downs = bind_listeners(ctx, 1, params=";method=MESSAGE")
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=uri)
    control_bound(ctx, link, req, downs[0])
    again = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(again))
    got = arrives(downs[0], "MESSAGE", again.call_id)
    if got is None:
        ctx.inconclusive("the second MESSAGE did not reach the binding")
    assert got is not None
    reply(downs[0], got, 200)
    final_of(link, again)
    ctx.check("method=" not in got[0].uri.lower(), "no method parameter", got[0].uri)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
##= type=test
##% The proxy SHOULD NOT cancel any outstanding client transactions associated with this
##% response context due to this notification.
@case(
    "proxy-fork-transport-error-no-cancel",
    roles=PROXY,
    level="SHOULD",
    preamble="a reachable and an unreachable contact bound",
    no_control=FORKED,
)
def transport_error_no_cancel(ctx: Context) -> None:
    """A branch failing at the transport (TCP refused) leaves the ringing one alone."""
    closed = ctx.listener()  # a UDP port: nothing listens on TCP there
    refused = f"<sip:refused@{closed.hostport};transport=tcp>"
    uri, downs = bind_listeners(ctx, 1, more=(refused,))
    link = ctx.link()
    req = ctx.request("INVITE", link, uri=uri)
    link.send(bytes(req))
    got = arrives(downs[0], "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(
            f"the INVITE did not reach the bound contact ({describe(final_of(link, req))})"
        )
    assert got is not None
    reply(downs[0], got, 180)
    cancel = arrives(downs[0], "CANCEL", req.call_id, timeout=1.5)
    if cancel is not None:
        reply(downs[0], cancel, 200)
    end_branch(downs[0], got, 487 if cancel is not None else 486)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(cancel is None, "the ringing branch not CANCELled", "a CANCEL")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If a proxy uses a dynamic source of information while building the target set (for
##% instance, if it consults a SIP Registrar), it SHOULD monitor that source for the duration
##% of processing the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% New locations SHOULD be added to the target set as they become available.
@case(
    "proxy-fork-new-binding-added",
    roles=PROXY,
    level="SHOULD",
    preamble="a contact bound to one address-of-record",
    no_control="judged on an INVITE that reached the bound contact (else inconclusive)",
)
def new_binding(ctx: Context) -> None:
    """A contact registered while the INVITE rings on the first one gets the INVITE too."""
    from conformance.cases.registrar import Registration

    uri, downs = bind_listeners(ctx, 1)
    link = ctx.link()
    req = ctx.request("INVITE", link, uri=uri)
    link.send(bytes(req))
    got = arrives(downs[0], "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the INVITE did not reach the binding ({describe(final_of(link, req))})")
    assert got is not None
    reply(downs[0], got, 180)
    late = ctx.listener()
    user = uri.split(":", 1)[1].split("@", 1)[0]
    reg = Registration(ctx, user=user)
    reg.register([f"<sip:{user}@{late.hostport}>"], expires=300)
    extra = arrives(late, "INVITE", req.call_id, timeout=2.0)
    if extra is not None:
        end_branch(late, extra, 486)
    end_branch(downs[0], got, 486)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(extra is not None, "the INVITE at the new binding", "none within 2 s")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If a proxy needs to be in the path of any type of dialog (such as one straddling a
##% firewall), it SHOULD add a Record-Route header field value to every request with a method
##% it does not understand since that method may have dialog semantics.
@case(
    "proxy-record-route-unknown-method",
    roles=PROXY,
    level="SHOULD",
    no_control="judged on what the proxy forwards; not forwarded is inconclusive",
)
def record_route_unknown(ctx: Context) -> None:
    """A proxy that record-routes INVITEs record-routes a request of an unknown method too."""
    link, down = ctx.link(), ctx.listener()
    invite = ctx.request("INVITE", link, uri=f"sip:rr@{down.hostport}")
    link.send(bytes(invite))
    got = arrives(down, "INVITE", invite.call_id)
    if got is None:
        ctx.inconclusive("the INVITE was not forwarded")
    assert got is not None
    recorded = bool(got[0].get_all("Record-Route"))
    end_branch(down, got, 486)
    ack_upstream(link, invite, final_of(link, invite))
    if not recorded:
        ctx.not_applicable("the proxy does not record-route (§16.6 step 4 lets it choose)")
    req = ctx.request("FROBNICATE", link, uri=f"sip:rr@{down.hostport}")
    link.send(bytes(req))
    odd = arrives(down, "FROBNICATE", req.call_id)
    if odd is None:
        ctx.inconclusive("the FROBNICATE was not forwarded")
    assert odd is not None
    reply(down, odd, 200)
    final_of(link, req)
    ctx.check(bool(odd[0].get_all("Record-Route")), "a Record-Route", "none")


def _three_xx(
    ctx: Context, status: int, contacts: list[str], down: Listener | None = None
) -> tuple[Link, Outgoing, Listener, Got]:
    """A MESSAGE through the proxy to a downstream socket, answered ``status`` there with
    ``contacts``; the socket and the request that reached it."""
    link, down = ctx.link(), down or ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive(
            f"the proxy did not forward the MESSAGE ({describe(final_of(link, req))})"
        )
    assert got is not None
    extra = [("Contact", c) for c in contacts]
    reply(down, got, status, extra=extra)
    return link, req, down, got


def _branches(down: Listener, call_id: str, duration: float) -> set[str]:
    """The branches of the MESSAGEs of that call reaching ``down`` within ``duration``."""
    found: set[str] = set()
    start = time.monotonic()
    while (left := duration - (time.monotonic() - start)) > 0:
        got = arrives(down, "MESSAGE", call_id, timeout=left)
        if got is None:
            break
        found.add(str(got[0].branch))
        reply(down, got, 200)
    return found


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
##= type=test
##% The requesting client SHOULD retry the request at the new address(es) given by the
##% Contact header field (Section 20.10).
@case("proxy-302-retried", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def moved_temporarily(ctx: Context) -> None:
    """A 302 naming a new address: the proxy retries there, or passes the 302 with that
    Contact upstream for the UAC to retry."""
    moved = ctx.listener()
    new = f"<sip:moved@{moved.hostport}>"
    link, req, _down, _got = _three_xx(ctx, 302, [new])
    recursed = _branches(moved, req.call_id, 1.0)
    final = ctx.require_final(final_of(link, req))
    passed = [c for c in final.get_all("Contact") if "moved@" in c]
    ctx.check(
        bool(recursed) or (final.status == 302 and bool(passed)),
        f"the request at {new} or the 302 with it upstream",
        describe(final) + " " + " | ".join(passed),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If a target URI is already present in the set (based on the definition of equality for
##% the URI type), it MUST NOT be added again.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% As above, any given URI MUST NOT be added to the set more than once.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
##= type=test
##% If there is no explicit expiration time, the address is only valid once for recursing,
##% and MUST NOT be cached for future transactions.
@case("proxy-3xx-targets-once", roles=PROXY, no_control=FORWARDED)
def targets_once(ctx: Context) -> None:
    """A 302 naming a new address twice, and the address just tried: a proxy recursing on it
    tries the new one once, not the tried one again, and does not cache the new one for the
    next request (a proxy that does not recurse: not applicable)."""
    moved, down = ctx.listener(), ctx.listener()
    new = f"<sip:moved@{moved.hostport}>"
    tried = f"<{downstream_uri(down)}>"
    link, req, down, got = _three_xx(ctx, 302, [new, new, tried], down)
    recursed = _branches(moved, req.call_id, 1.0)
    again = {b for b in _branches(down, req.call_id, 0.3) if b != str(got[0].branch)}
    final = final_of(link, req)
    if not recursed:
        ctx.not_applicable(f"the proxy does not recurse on 3xx ({describe(final)} upstream)")
    ctx.check(len(recursed) == 1, f"one request to {new}", f"{len(recursed)}", requirement=1)
    ctx.check(not again, f"no new request to {tried}", f"{len(again)}")
    later = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(later))
    direct = arrives(down, "MESSAGE", later.call_id, timeout=2.0)
    if direct is not None:
        reply(down, direct, 200)
    cached = _branches(moved, later.call_id, 0.3)
    final_of(link, later)
    ctx.check(
        direct is not None and not cached,
        "the next request to the original address, not the 302's",
        "sent to the 302's contact" if cached else "not forwarded",
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.2
##= type=test
##% The user can no longer be found at the address in the Request-URI, and the requesting
##% client SHOULD retry at the new address given by the Contact header field (Section 20.10).
@case("proxy-301-retried", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def moved_permanently(ctx: Context) -> None:
    """A 301 naming a new address: the proxy retries there, or passes the 301 with that
    Contact upstream for the UAC to retry."""
    moved = ctx.listener()
    new = f"<sip:moved@{moved.hostport}>"
    link, req, _down, _got = _three_xx(ctx, 301, [new])
    recursed = _branches(moved, req.call_id, 1.0)
    final = ctx.require_final(final_of(link, req))
    passed = [c for c in final.get_all("Contact") if "moved@" in c]
    ctx.check(
        bool(recursed) or (final.status == 301 and bool(passed)),
        f"the request at {new} or the 301 with it upstream",
        describe(final) + " " + " | ".join(passed),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% A client (proxy or UAC) receiving a 503 (Service Unavailable) SHOULD attempt to forward
##% the request to an alternate server.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% It SHOULD NOT forward any other requests to that server for the duration specified in
##% the Retry-After header field, if present.
@case(
    "proxy-503-alternate",
    roles=PROXY,
    level="SHOULD",
    preamble="two contacts bound to one address-of-record (q 1.0 and 0.5)",
    no_control="judged on requests reaching the bound contacts (none: inconclusive)",
)
def alternate_server(ctx: Context) -> None:
    """Two bindings, the preferred one answering 503 (Retry-After: 30): the request reaches
    the other; the next request goes to the other only."""
    first, second = ctx.listener(), ctx.listener()
    contacts = (f"<sip:alt@{first.hostport}>;q=1.0", f"<sip:alt@{second.hostport}>;q=0.5")
    uri, _ = bind_listeners(ctx, 0, more=contacts)
    link = ctx.link()
    outcomes = []
    for n in range(2):
        req = ctx.request("MESSAGE", link, uri=uri)
        link.send(bytes(req))
        busy = arrives(first, "MESSAGE", req.call_id, timeout=2.0 if n == 0 else 0.5)
        if busy is not None:
            reply(first, busy, 503, extra=[("Retry-After", "30")])
        other = arrives(second, "MESSAGE", req.call_id, timeout=2.0)
        if other is not None:
            reply(second, other, 200)
        final_of(link, req, timeout=1.0)
        outcomes.append((busy is not None, other is not None))
    if outcomes[0] == (False, False):
        ctx.inconclusive("the MESSAGE reached neither bound contact")
    ctx.check(outcomes[0][1], "the request at the alternate contact", "not sent there")
    ctx.check(
        not outcomes[1][0],
        "the next request not sent to the server that answered 503 (Retry-After: 30)",
        "sent to it again",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any other final responses passed by the TU to the server transaction MUST be discarded
##% while in the "Completed" state.
@case("proxy-fork-non-invite-one-final", roles=PROXY, preamble=PREAMBLE, no_control=FORKED)
def non_invite_one_final(ctx: Context) -> None:
    """A MESSAGE forked to two bindings, both answering 200: one 200 comes upstream."""
    uri, downs = bind_listeners(ctx, 2)
    link = ctx.link()
    req = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(req))
    got = [arrives(down, "MESSAGE", req.call_id, timeout=3.0) for down in downs]
    if any(g is None for g in got):
        for down, g in zip(downs, got, strict=True):
            if g is not None:
                reply(down, g, 200)
        final_of(link, req)
        ctx.inconclusive(f"the MESSAGE reached {sum(g is not None for g in got)} of 2 contacts")
    for down, g in zip(downs, got, strict=True):
        assert g is not None
        reply(down, g, 200)
    finals = link.collect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200, 1.0
    )
    ctx.check(len(finals) == 1, "one 200 upstream", f"{len(finals)} final responses")
