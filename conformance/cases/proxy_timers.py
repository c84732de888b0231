"""The proxy's transaction timers seen on the wire (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1,
§17.2.2): its client transactions retransmitting downstream and giving up (Timer A/B, E/F),
its server transactions repeating responses upstream (Timer G until H; the non-INVITE
server transaction), measured against the profile's T1.

Timer B, F and H last 64*T1: with the usual T1 (0.5 s) that is 32 s, longer than a case may
take, so those cases are not applicable unless the profile declares a short ``t1`` (our
proxy runs with ``--t1 0.1``: 6.4 s).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    downstream_uri,
    end_branch,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED, control_through
from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 75

PROXY = ("proxy",)
#: T2 (§17.1.2.2), the cap of non-INVITE retransmission intervals; not in the profile
T2 = 4.0
#: the longest 64*T1 a case waits for (Timer B, F, H); a longer one is not applicable
LONGEST = 15.0


def _sixty_four_t1(ctx: Context) -> float:
    """64*T1 of the profile, or not applicable when a case cannot wait that long."""
    limit = 64 * ctx.profile.t1
    if limit > LONGEST:
        ctx.not_applicable(
            f"64*T1 is {limit:g} s with the profile's T1 ({ctx.profile.t1:g} s), longer than a "
            "case may wait: set t1 in the profile of an element configured with a short T1"
        )
    return limit


def _forwarded(ctx: Context, method: str) -> tuple[Link, Listener, Outgoing, Got]:
    """``method`` sent through the proxy to a downstream socket; the copy that arrived there
    (not forwarded: inconclusive)."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request(method, link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, method, req.call_id)
    if got is None:
        ctx.inconclusive(
            f"the proxy did not forward the {method} ({describe(final_of(link, req))})"
        )
    assert got is not None
    return link, down, req, got


def _copies(down: Listener, got: Got, duration: float, count: int = 0) -> list[float]:
    """When the copies of the forwarded request ``got`` (its branch) reach ``down`` within
    ``duration`` seconds (or until ``count`` of them came), in seconds from now."""
    start = time.monotonic()
    branch, method = got[0].branch, got[0].method
    times: list[float] = []
    while (left := duration - (time.monotonic() - start)) > 0:
        again = down.expect(
            lambda m: not m.is_response and m.method == method and m.branch == branch,
            timeout=left,
        )
        if again is None:
            break
        times.append(time.monotonic() - start)
        if len(times) == count:
            break
    return times


def _watch(
    link: Link, down: Listener, req: Outgoing, got: Got, duration: float, after: float
) -> tuple[Message | None, float, list[float]]:
    """Watch both sides for ``duration`` seconds (and ``after`` more once a final response
    came upstream), polling each in turn so that every arrival is timed: the final response
    to ``req`` upstream, when it came, and when copies of ``got`` reached ``down``."""
    start = time.monotonic()
    branch, method = got[0].branch, got[0].method
    final: Message | None = None
    when = 0.0
    copies: list[float] = []
    end = duration
    while (elapsed := time.monotonic() - start) < end:
        copy = down.expect(
            lambda m: not m.is_response and m.method == method and m.branch == branch,
            timeout=0.02,
        )
        if copy is not None:
            copies.append(time.monotonic() - start)
            continue
        if final is None:
            final = final_of(link, req, timeout=0.02)
            if final is not None:
                when = time.monotonic() - start
                end = min(end, elapsed + after)
    return final, when, copies


def _doubling(times: list[float], first: float) -> bool:
    """Whether retransmissions at ``times`` (from the original send) come at intervals that
    double: each gap 1.4 to 2.9 times the one before (loose bounds for a loaded machine)."""
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    if not gaps or not 0.4 * first <= gaps[0] <= 2 * first + 0.15:
        return False
    return all(1.4 * a - 0.1 <= b <= 2.9 * a + 0.15 for a, b in itertools.pairwise(gaps))


def _seen(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) or "none"


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% For any transport, the client transaction MUST start timer B with a value of 64*T1
##% seconds (Timer B controls transaction timeouts).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% This process MUST continue so that the request is retransmitted with intervals that
##% double after each transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Whatever the value of T1, the exponential backoffs on retransmissions described in this
##% section MUST be used.
@case("proxy-invite-timer-b", roles=PROXY, transports=("udp",), no_control=FORWARDED, timeout=25)
def timer_b(ctx: Context) -> None:
    """An INVITE the downstream UAS never answers is retransmitted at doubling intervals
    until 64*T1, then given up: a 408 (Request Timeout) upstream, no copy after it."""
    limit = _sixty_four_t1(ctx)
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "INVITE")
    final, ended, times = _watch(link, down, req, got, 1.3 * limit + 1.5, 3 * t1 + 0.3)
    ack_upstream(link, req, final)
    if final is None or final.status != 408:
        end_branch(down, got, 486)
        ack_upstream(link, req, final_of(link, req, timeout=1.0))
    late = [t for t in times if t > ended + 0.05]
    ctx.check(
        final is not None and 0.7 * limit <= ended <= 1.3 * limit + 1.0,
        f"a final response upstream about 64*T1 ({limit:g} s) after the INVITE",
        f"{describe(final)} after {ended:.2f} s",
    )
    ctx.check(
        bool(times) and times[-1] <= 1.2 * limit + 0.3 and not late,
        f"no copy of the INVITE after 64*T1 ({limit:g} s)",
        f"copies at {_seen(times)} s, the final response at {ended:.2f} s",
    )
    ctx.check(_doubling(times, t1), f"intervals doubling from T1 ({t1:g} s)", _seen(times), 1)
    ctx.check(len(times) >= 4, "the backoff kept up to Timer B", _seen(times), requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% These retransmissions SHOULD only be done while the client transaction is in the
##% "calling" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% In the "Proceeding" state, the client transaction SHOULD NOT retransmit the request any
##% longer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% The proxy SHOULD NOT initiate a CANCEL request.
@case("proxy-invite-proceeding-quiet", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def proceeding_quiet(ctx: Context) -> None:
    """An INVITE answered 180 downstream is not retransmitted any more, nor CANCELled by the
    proxy of its own accord while it rings."""
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "INVITE")
    reply(down, got, 180)
    # a copy already on its way when the 180 arrived is no retransmission in "Proceeding"
    _copies(down, got, 2 * t1 + 0.2)
    later = _copies(down, got, 2 * t1 + 0.5)  # Timer A kept: a copy at 3*T1 (then 7*T1)
    cancel = arrives(down, "CANCEL", req.call_id, timeout=0.5)
    if cancel is not None:
        reply(down, cancel, 200)
    end_branch(down, got, 487 if cancel is not None else 486)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(not later, "no copy of the INVITE after the 180", f"copies at {_seen(later)} s")
    ctx.check(cancel is None, "no CANCEL from the proxy", "a CANCEL", requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Elements MAY (though it is NOT RECOMMENDED) use smaller values of T1 within closed,
##% private networks that do not permit general Internet connection.
@case(
    "proxy-invite-t1-default",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def t1_default(ctx: Context) -> None:
    """The first retransmission of an unanswered INVITE comes after about 500 ms (T1's
    default), not sooner."""
    if ctx.profile.t1 < 0.5:
        ctx.not_applicable(
            f"the profile declares T1 = {ctx.profile.t1:g} s: the element was configured "
            "with a smaller T1 for testing"
        )
    link, down, req, got = _forwarded(ctx, "INVITE")
    times = _copies(down, got, 1.2)
    end_branch(down, got, 486)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(not times or times[0] >= 0.4, "no copy before T1's 500 ms", _seen(times))


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a response with status
##% code from 300-699 MUST cause the client transaction to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Any retransmissions of the final response that are received while in the "Completed"
##% state MUST cause the ACK to be re-passed to the transport layer for retransmission, but
##% the newly received response MUST NOT be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The ACK MUST be sent to the same address, port, and transport to which the original
##% request was sent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4
##= type=test
##% The client SHOULD NOT retry the same request without modification (for example, adding
##% appropriate authorization).
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.4
##= type=test
##% Authorization will not help, and the request SHOULD NOT be repeated.
@case("proxy-ack-repeated", roles=PROXY, no_control=FORWARDED)
def ack_repeated(ctx: Context) -> None:
    """A 403 from downstream, sent twice: the proxy ACKs each copy (at the address the INVITE
    came from), forwards one 403, and does not send the INVITE again."""
    link, down, req, got = _forwarded(ctx, "INVITE")
    reply(down, got, 403)

    def is_ack(m: Message) -> bool:
        return m.method == "ACK" and m.call_id == req.call_id

    first = down.expect(is_ack, timeout=2.0)
    reply(down, got, 403, note="downstream 403 (retransmission)")
    second = down.expect(is_ack, timeout=2.0)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    again = down.expect(
        lambda m: m.method == "INVITE" and m.call_id == req.call_id and m.branch != got[0].branch,
        timeout=1.0,
    )
    if again is not None:
        end_branch(down, again, 403)
    ctx.check(first is not None, "an ACK of the 403 at the socket the INVITE went to", "none", 2)
    ctx.check(second is not None, "the ACK again for the repeated 403", "none", requirement=1)
    ctx.check(final is not None and final.status == 403, "the 403 upstream", describe(final))
    ctx.check(again is None, "the INVITE not sent again", "a new INVITE", 4, level="SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If an unreliable transport is in use, the client transaction MUST set timer E to fire in
##% T1 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The request MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the "Trying" state, the
##% response MUST be passed to the TU, and the client transaction MUST transition to the
##% "Completed" state.
@case("proxy-non-invite-timer-e", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def timer_e(ctx: Context) -> None:
    """A MESSAGE left unanswered downstream is retransmitted from T1 on; answered 200, the
    200 comes upstream and the copies stop."""
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "MESSAGE")
    times = _copies(down, got, 3 * t1 + 0.6, count=2)  # at T1 and 3*T1
    reply(down, got, 200)  # at once: the next copy is due 4*T1 later
    final = final_of(link, req)
    after = _copies(down, got, 4 * t1 + 0.5)
    ctx.check(
        bool(times) and 0.4 * t1 <= times[0] <= 2 * t1 + 0.15, "a copy after T1", _seen(times)
    )
    ctx.check(len(times) >= 2, "the MESSAGE retransmitted", _seen(times), requirement=1)
    ctx.check(final is not None and final.status == 200, "the 200 upstream", describe(final), 2)
    ctx.check(not after, "no copy after the 200", f"copies at {_seen(after)} s", requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% and then the client transaction SHOULD move to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer E fires while in the "Proceeding" state, the request MUST be passed to the
##% transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the "Proceeding" state,
##% the response MUST be passed to the TU, and the client transaction MUST transition to the
##% "Completed" state.
@case(
    "proxy-non-invite-proceeding",
    roles=PROXY,
    transports=("udp",),
    no_control=FORWARDED,
    timeout=15,
)
def non_invite_proceeding(ctx: Context) -> None:
    """A MESSAGE answered 100 (Trying) downstream is retransmitted at T2 (4 s), not at the
    T1 pace any more; the 200 that ends it comes upstream."""
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "MESSAGE")
    reply(down, got, 100)
    early = _copies(down, got, 2 * t1 + 0.2)  # Timer E may fire once before the 100 counts
    quiet = _copies(down, got, T2 - 2 * t1 - 1.0)
    paced = _copies(down, got, 2 * t1 + 1.6)
    reply(down, got, 200)
    final = final_of(link, req)
    seen = f"{len(early)} at first, {_seen(quiet)} s, then {_seen(paced)} s"
    ctx.check(not quiet, "no copy at the T1 pace after the 100", seen, level="SHOULD")
    ctx.check(bool(paced), f"a copy about T2 ({T2:g} s) later", seen, requirement=1)
    ctx.check(final is not None and final.status == 200, "the 200 upstream", describe(final), 2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% When entering this state, the client transaction SHOULD set timer F to fire in 64*T1
##% seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If timer F fires while in the "Proceeding" state, the TU MUST be informed of a timeout,
##% and the client transaction MUST transition to the terminated state.
@case(
    "proxy-non-invite-timer-f", roles=PROXY, transports=("udp",), no_control=FORWARDED, timeout=25
)
def timer_f(ctx: Context) -> None:
    """A MESSAGE answered only 100 downstream is retransmitted at T2 until 64*T1, then no
    more: its client transaction timed out (upstream, RFC 3261 §16.7 would send a 408, RFC
    4320 §4.2 forbids one to a non-INVITE: either is accepted)."""
    limit = _sixty_four_t1(ctx)
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "MESSAGE")
    reply(down, got, 100)
    final, _, times = _watch(link, down, req, got, 1.2 * limit + T2 + 0.5, 1.2 * limit + T2)
    late = [t for t in times if t > 1.2 * limit + 0.3]
    if final is None or late:
        reply(down, got, 200)
        final_of(link, req, timeout=1.0)
    ctx.check(not late, f"no copy after 64*T1 ({limit:g} s)", f"copies at {_seen(times)} s", 1)
    ctx.check(
        bool(times) and times[-1] >= limit - T2 - 2 * t1 - 0.3,
        f"copies (every T2) until about 64*T1 ({limit:g} s)",
        f"the last at {_seen(times[-1:])} s",
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When the "Completed" state is entered, timer H MUST be set to fire in 64*T1 seconds for
##% all transports.
@case("proxy-invite-timer-h", roles=PROXY, transports=("udp",), no_control=FORWARDED, timeout=25)
def timer_h(ctx: Context) -> None:
    """A 486 upstream that we never ACK is repeated (Timer G) until about 64*T1, then no
    more."""
    limit = _sixty_four_t1(ctx)
    t1 = ctx.profile.t1
    link, down, req, got = _forwarded(ctx, "INVITE")
    reply(down, got, 486)
    down.expect(lambda m: m.method == "ACK", timeout=0.5)  # the proxy's own ACK
    final = ctx.require_final(final_of(link, req))
    start = time.monotonic()
    times: list[float] = []
    while (left := 1.3 * limit + 1.0 - (time.monotonic() - start)) > 0:
        again = upstream(link, req, lambda m: m.status == final.status, timeout=left)
        if again is None:
            break
        times.append(time.monotonic() - start)
    late = [t for t in times if t > 1.2 * limit + 0.5]
    ack_upstream(link, req, final)
    ctx.check(bool(times), "the 486 repeated while not ACKed", "no repetition")
    ctx.check(
        times[-1] >= 0.5 * limit - 2 * t1 and not late,
        f"repetitions until about 64*T1 ({limit:g} s), none after",
        f"at {_seen(times)} s",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The response MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any further provisional responses that are received from the TU while in the
##% "Proceeding" state MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If a retransmission of the request is received while in the "Proceeding" state, the most
##% recently sent provisional response MUST be passed to the transport layer for
##% retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If the TU passes a final response (status codes 200-699) to the server while in the
##% "Proceeding" state, the transaction MUST enter the "Completed" state, and the response
##% MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Completed" state, the server transaction MUST pass the final response to
##% the transport layer for retransmission whenever a retransmission of the request is
##% received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% When the server transaction enters the "Completed" state, it MUST set Timer J to fire in
##% 64*T1 seconds for unreliable transports, and zero seconds for reliable transports.
@case(
    "proxy-non-invite-server-transaction", roles=PROXY, transports=("udp",), no_control=FORWARDED
)
def non_invite_server(ctx: Context) -> None:
    """A MESSAGE's provisional responses come upstream (the latest again for our
    retransmission), then its 200 (again for a retransmission a while later, which is not
    forwarded as a new request)."""
    link, down, req, got = _forwarded(ctx, "MESSAGE")

    def status(code: int) -> Callable[[Message], bool]:
        return lambda m: m.status == code

    reply(down, got, 181)
    first = upstream(link, req, status(181), timeout=1.0)
    reply(down, got, 182)
    second = upstream(link, req, status(182), timeout=1.0)
    link.send(bytes(req), "retransmission")
    latest = upstream(link, req, status(182), timeout=1.0)
    reply(down, got, 200)
    final = final_of(link, req)
    time.sleep(min(2 * ctx.profile.t1 + 0.2, 1.2))
    link.send(bytes(req), "retransmission (after the 200)")
    repeated = final_of(link, req, timeout=1.0)
    anew = down.expect(
        lambda m: m.method == "MESSAGE" and m.call_id == req.call_id and m.branch != got[0].branch,
        timeout=0.5,
    )
    if anew is not None:
        reply(down, anew, 200)
    ctx.check(first is not None, "the 181 upstream", "none")
    ctx.check(second is not None, "the 182 upstream", "none", requirement=1)
    ctx.check(latest is not None, "the 182 again for our retransmission", "none", requirement=2)
    ctx.check(final is not None and final.status == 200, "the 200 upstream", describe(final), 3)
    ctx.check(repeated is not None, "the 200 again for our retransmission", "none", 4)
    ctx.check(anew is None, "the retransmission not forwarded anew", "forwarded", requirement=5)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the request to the transport layer for transmission
##% (see Section 18).
@case("proxy-invite-sent", roles=PROXY)
def invite_sent(ctx: Context) -> None:
    """A proxy that forwards a MESSAGE to a downstream socket (the control) sends an INVITE
    there too: its INVITE client transaction passes it to the transport."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is not None:
        end_branch(down, got, 486)
    final = final_of(link, req, timeout=2.0 if got is not None else 1.0)
    ack_upstream(link, req, final)
    ctx.check(got is not None, "the INVITE downstream", f"not sent ({describe(final)})")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% If the INVITE request whose response is being acknowledged had Route header fields,
##% those header fields MUST appear in the ACK.
@case("proxy-ack-non-2xx-route", roles=PROXY, no_control=FORWARDED)
def ack_route(ctx: Context) -> None:
    """An INVITE routed through the proxy to a downstream socket (a Route for the proxy, then
    one for the socket): the proxy's ACK of the 486 carries the Route its INVITE had."""
    link, down = ctx.link(), ctx.listener()
    routes = [f"<sip:{ctx.target.hostport};lr>", f"<sip:{down.hostport};lr>"]
    req = ctx.request(
        "INVITE", link, uri=downstream_uri(down), extra=[("Route", ", ".join(routes))]
    )
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the routed INVITE was not forwarded ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 486)
    ack = down.expect(lambda m: m.method == "ACK" and m.call_id == req.call_id, timeout=2.0)
    ack_upstream(link, req, final_of(link, req))
    if ack is None:
        ctx.inconclusive("the proxy sent no ACK of the 486 (proxy-ack-non-2xx judges that)")
    assert ack is not None
    sent = [v.strip() for v in got[0].get_all("Route")]
    acked = [v.strip() for v in ack[0].get_all("Route")]
    ctx.check(acked == sent, "Route: " + (", ".join(sent) or "(none)"), ", ".join(acked) or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If a reliable transport is being used, the client transaction SHOULD NOT start timer A
##% (Timer A controls request retransmissions).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% For each tuple attempted, the proxy MUST format the message as appropriate for the tuple
##% and send the request using a new client transaction as detailed in steps 8 through 10.
@case("proxy-invite-tcp-no-timer-a", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def tcp_no_timer_a(ctx: Context) -> None:
    """An INVITE forwarded over TCP (a ;transport=tcp target) carries a TCP Via and is not
    retransmitted over the connection."""
    from conformance.cases.proxy_forwarding import _StreamDownstream

    link = ctx.link()
    stream = _StreamDownstream(ctx)
    try:
        uri = f"sip:tcp@127.0.0.1:{stream.local[1]};transport=tcp"
        req = ctx.request("INVITE", link, uri=uri)
        link.send(bytes(req))
        got = stream.request()
        if got is None:
            final = final_of(link, req, timeout=1.0)
            ack_upstream(link, req, final)
            ctx.not_applicable(f"the proxy did not forward over TCP ({describe(final)})")
        assert got is not None
        again = stream.request(timeout=4 * ctx.profile.t1 + 0.5)
        stream.answer(got, 486)
        ack_upstream(link, req, final_of(link, req))
        top = got.top_via
        ctx.check(top.upper().startswith("SIP/2.0/TCP"), "its Via for TCP", top, requirement=1)
        ctx.check(
            again is None or again.method != "INVITE", "no INVITE retransmission", "one came"
        )
    finally:
        stream.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If no Via header field values remain in the response, the response was meant for this
##% element and MUST NOT be forwarded.
@case("proxy-response-no-via-left", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def no_via_left(ctx: Context) -> None:
    """A downstream 200 carrying only the proxy's Via (ours dropped) is not passed upstream;
    the proper 200 sent after it may be."""
    link, down, req, got = _forwarded(ctx, "MESSAGE")
    msg, addr = got
    lines = ["SIP/2.0 200 OK", f"Via: {msg.top_via}"]
    lines += [f"{n}: {msg.get(n)}" for n in ("From", "To", "Call-ID", "CSeq")]
    down.send(
        ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode(), addr, "200 (one Via)"
    )
    leaked = final_of(link, req, timeout=0.6)
    reply(down, got, 200)
    final_of(link, req, timeout=0.5)
    ctx.check(leaked is None, "the 200 without our Via not forwarded", describe(leaked))
