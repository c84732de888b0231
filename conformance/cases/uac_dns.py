"""The UAC finding its server by DNS (RFC 3261 §8.1.2, RFC 3263): the runner serves the zone.

The profile's ``[uac] dns`` command makes the target call ``sip:uas@{domain}`` resolving
names with the DNS server ``{dns}``; the runner starts dnsmasq (Debian's ``dnsmasq-base``) on
loopback with SRV records for ``_sip._udp.{domain}`` that name its own listener's port, the
only way to reach it.  Without dnsmasq, or without the command, the cases are not applicable.
"""

from __future__ import annotations

from conformance.cases._dns_support import start_dnsmasq
from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from rfc3261.asyncio.loopback import free_port

ORDER = 71  # after the first UAC modules

DOMAIN = "uac.sipref.test"
CALLED = "an INVITE from the target to sip:uas@uac.sipref.test, found by DNS ([uac] dns)"


def serve_zone(ctx: Context, srv: list[tuple[int, int]]) -> str:
    """Start dnsmasq serving ``_sip._udp.DOMAIN`` SRV records (port, priority) to
    host.DOMAIN = 127.0.0.1; its address "127.0.0.1:PORT" (stopped in the postamble)."""
    port = free_port()
    records = [f"--srv-host=_sip._udp.{DOMAIN},host.{DOMAIN},{p},{prio},0" for p, prio in srv]
    zone = [f"--local=/{DOMAIN}/", "--local=/test/", *records]
    start_dnsmasq(ctx, "127.0.0.1", port, [*zone, f"--host-record=host.{DOMAIN},127.0.0.1"])
    return f"127.0.0.1:{port}"


def _dead_port() -> int:
    """A UDP port on loopback nobody listens on (a send there is refused)."""
    return free_port()


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% Unless there is local policy specifying otherwise, the destination MUST be determined
##% by applying the DNS procedures described in [4] as follows.
@case(
    "uac-dns-srv",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def dns_srv(ctx: Context) -> None:
    """The SRV record of the callee's domain names the runner's port: the INVITE comes
    there, its Request-URI still the domain's."""
    if "dns" not in ctx.profile.triggers:
        ctx.not_applicable("the profile cannot make the target send dns ([uac] dns)")
    server = ctx.listener()
    port = int(server.hostport.rpartition(":")[2])
    dns = serve_zone(ctx, [(port, 10)])
    peer = Peer(ctx, "dns", server=server, dns=dns, domain=DOMAIN)
    invite, addr = peer.first("INVITE", CALLED)
    peer.answer(invite, addr, 486)
    ctx.check(
        invite.uri.lower().startswith(f"sip:uas@{DOMAIN}"),
        f"Request-URI sip:uas@{DOMAIN}",
        invite.uri,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% The UAC SHOULD follow the procedures defined in [4] for stateful elements, trying each
##% address until a server is contacted.
@case(
    "uac-dns-next-address",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def dns_next_address(ctx: Context) -> None:
    """The first SRV target is a port nobody listens on: the INVITE then comes to the
    second, the runner's."""
    if "dns" not in ctx.profile.triggers:
        ctx.not_applicable("the profile cannot make the target send dns ([uac] dns)")
    server = ctx.listener()
    port = int(server.hostport.rpartition(":")[2])
    dns = serve_zone(ctx, [(_dead_port(), 10), (port, 20)])
    peer = Peer(ctx, "dns", server=server, dns=dns, domain=DOMAIN)
    got = peer.expect(lambda m: m.method == "INVITE", 10.0)
    if got is not None:
        peer.answer(got[0], got[1], 486)
    ctx.check(got is not None, "the INVITE at the second SRV target", "none within 10 s")
