"""RFC 5658 on the wire, the UAC's side: a UA ready to switch transports between the initial
request and the requests of the dialog (§6.1, §7).

The runner answers the INVITE, which came over UDP, with a 2xx whose Contact (the remote
target) names a TCP listener of the runner (``;transport=tcp``): the ACK and the BYE must
come over TCP there.
"""

from __future__ import annotations

from conformance.cases.transport_server import _response_to, _StreamServer
from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

#: load order of the case modules (conformance.discovery): after uac_rfc3263
ORDER = 81  # after transport_server, whose TCP server it uses (imported: loaded first)

CALLED = "a call from the target over UDP, answered 200 by the runner ([uac] bye)"


##= https://www.rfc-editor.org/rfc/rfc5658#section-6.1
##= type=test
##% UA implementations SHOULD then be ready to change the transport
##% protocol between initial and subsequent requests.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Finally, UAs SHOULD be ready to switch transports between the
##% initial request and further in-dialog messages.
@case(
    "uac-5658-switch-to-tcp",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def switch_to_tcp(ctx: Context) -> None:
    """The INVITE over UDP, its 2xx naming a ``transport=tcp`` Contact: the ACK and the BYE
    over TCP to that Contact."""
    peer = Peer(ctx, "bye")
    tcp = _StreamServer(ctx)
    invite, addr = peer.first("INVITE", CALLED)
    peer.answer(
        invite,
        addr,
        200,
        contact=False,
        headers=[f"Contact: <sip:uas@{tcp.hostport};transport=tcp>"],
    )
    ack = tcp.expect(lambda m: m.method == "ACK" and m.call_id == invite.call_id, timeout=3.0)
    if ack is None:
        # over UDP instead? (then the UAC kept the first request's transport)
        udp = peer.request("ACK", 0.3, invite.call_id)
        ctx.fail(
            "the ACK over TCP to the Contact's transport=tcp URI",
            "an ACK over UDP" if udp is not None else "no ACK over TCP within 3 s",
        )
    assert ack is not None
    bye = tcp.expect(lambda m: m.method == "BYE" and m.call_id == invite.call_id, timeout=8.0)
    if bye is None:
        udp = peer.request("BYE", 0.3, invite.call_id)
        if udp is not None:
            peer.ok(*udp)
        ctx.check(
            False,
            "the BYE over TCP to the Contact's transport=tcp URI",
            "a BYE over UDP" if udp is not None else "no BYE within 8 s",
            requirement=1,
        )
    assert bye is not None
    tcp.send(bye[1], _response_to(bye[0], 200, "OK"), "200 to BYE")
    ctx.check(
        bye[0].top_via.upper().startswith("SIP/2.0/TCP"),
        "the BYE's top Via saying TCP",
        bye[0].top_via,
        requirement=1,
    )
