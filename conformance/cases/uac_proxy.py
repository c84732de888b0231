"""The UAC with an outbound proxy (RFC 3261 §8.1.1.1, §8.1.2, §9.1, §17.1.1.3): the runner is
the proxy its pre-existing route set names.

The profile's ``[uac] proxied`` command makes the target call a URI that is not the runner's
(``sip:uas@127.0.0.1:9``) through the runner as outbound proxy, and hang up about 1.5 s in.
"""

from __future__ import annotations

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 66  # after the core's first-wave modules (torture is 60)

PROXIED = "an INVITE from the target through its outbound proxy, the runner ([uac] proxied)"


def uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def _routes(msg: Message) -> list[str]:
    return [uri_of(v) for v in msg.get_all("Route")]


def _proxied(ctx: Context) -> tuple[Peer, Message, tuple[str, int]]:
    peer = Peer(ctx, "proxied")
    invite, addr = peer.first("INVITE", PROXIED)
    if not invite.get_all("Route"):
        peer.answer(invite, addr, 486)
        ctx.not_applicable("the target's INVITE carries no Route (no pre-existing route set)")
    return peer, invite, addr


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% When a pre-existing route set is present, the procedures for populating the Request-URI
##% and Route header field detailed in Section 12.2.1.1 MUST be followed (even though there
##% is no dialog), using the desired Request-URI as the remote target URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% If the request contains a Route header field, the request SHOULD be sent to the
##% locations derived from its topmost value
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% In particular, a UAC configured with an outbound proxy SHOULD attempt to send the
##% request to the location indicated in the first Route header field value instead of
##% adopting the policy of sending all messages to the outbound proxy.
@case("uac-proxy-route-set", roles=UAC, timeout=15, preamble=PROXIED, no_control=RUNNER_ANSWERS)
def proxy_route_set(ctx: Context) -> None:
    """The INVITE goes to the proxy its Route names, with the callee as Request-URI."""
    peer, invite, addr = _proxied(ctx)
    peer.answer(invite, addr, 486)
    routes = _routes(invite)
    ctx.check(
        invite.uri.startswith("sip:uas@127.0.0.1:9"),
        "Request-URI sip:uas@127.0.0.1:9 (the remote target)",
        invite.uri,
    )
    ctx.check(
        peer.server.hostport in routes[0] and ";lr" in routes[0],
        f"top Route the runner's loose-routing URI ({peer.server.hostport};lr)",
        " | ".join(routes),
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% If the INVITE request whose response is being acknowledged had Route header fields,
##% those header fields MUST appear in the ACK.
@case("uac-proxy-ack-route", roles=UAC, timeout=15, preamble=PROXIED, no_control=RUNNER_ANSWERS)
def proxy_ack_route(ctx: Context) -> None:
    """The ACK for a 486 carries the INVITE's Route header fields."""
    peer, invite, addr = _proxied(ctx)
    peer.answer(invite, addr, 486)
    got = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(got is not None, "an ACK for the 486", "none")
    assert got is not None
    ctx.check(
        got[0].get_all("Route") == invite.get_all("Route"),
        " | ".join(invite.get_all("Route")),
        " | ".join(got[0].get_all("Route")) or "(no Route)",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If the request being cancelled contains a Route header field, the CANCEL request MUST
##% include that Route header field's values.
@case(
    "uac-proxy-cancel-route",
    roles=UAC,
    timeout=15,
    preamble=PROXIED,
    no_control=RUNNER_ANSWERS,
)
def proxy_cancel_route(ctx: Context) -> None:
    """The CANCEL of a ringing INVITE sent through the proxy carries its Route."""
    peer, invite, addr = _proxied(ctx)
    peer.answer(invite, addr, 180)
    got = peer.request("CANCEL", 6.0, invite.call_id)
    if got is None:
        peer.answer(invite, addr, 486)
        ctx.inconclusive("the target sent no CANCEL while it rang")
    assert got is not None
    peer.ok(*got)
    peer.answer(invite, addr, 487)
    ctx.check(
        got[0].get_all("Route") == invite.get_all("Route"),
        " | ".join(invite.get_all("Route")),
        " | ".join(got[0].get_all("Route")) or "(no Route)",
    )
