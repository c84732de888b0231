"""The UAC locating its server (RFC 3263 §4): NAPTR, SRV and A records served by the runner.

As in `conformance.cases.uac_dns`, the profile's ``[uac] dns`` command makes the target call
``sip:uas@{domain}`` with the DNS server ``{dns}``; the runner starts dnsmasq on loopback
with the records each case needs.  ``{domain}`` may carry a port or URI parameters
(``host.uac.sipref.test:5070``, ``uac.sipref.test;transport=udp``): the URI the target calls
is what the rule under test is about.  Targets the target must not use are sockets of the
runner's too (a UDP listener, a TCP socket that records connection attempts), so a wrong
choice shows on the wire.  Without dnsmasq or the command the cases are not applicable.
"""

from __future__ import annotations

import random
import select
import socket

from conformance.cases._dns_support import start_dnsmasq
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import Listener
from rfc3261.asyncio.loopback import free_port

ORDER = 72  # after uac_dns

DOMAIN = "uac.sipref.test"
HOST = f"host.{DOMAIN}"
CALLED = "an INVITE from the target, its server found by DNS ([uac] dns)"


def _need_dns(ctx: Context, kind: str = "dns") -> None:
    if kind not in ctx.profile.triggers:
        ctx.not_applicable(f"the profile cannot make the target send {kind} ([uac] {kind})")


def serve(ctx: Context, records: list[str], host_address: str = "127.0.0.1") -> str:
    """Start dnsmasq with ``records`` (its ``--srv-host=`` / ``--naptr-record=`` options)
    and ``HOST`` = ``host_address``; its address "127.0.0.1:PORT" (stopped in the
    postamble)."""
    port = free_port()
    zone = [f"--local=/{DOMAIN}/", "--local=/test/", *records]
    start_dnsmasq(ctx, "127.0.0.1", port, [*zone, f"--host-record={HOST},{host_address}"])
    return f"127.0.0.1:{port}"


def srv(name: str, port: int, priority: int = 10) -> str:
    """An SRV record ``name`` -> ``HOST``:``port``."""
    return f"--srv-host={name},{HOST},{port},{priority},0"


def naptr(order: int, service: str, replacement: str) -> str:
    """A terminal NAPTR record (flag "s") of ``DOMAIN`` -> the SRV name ``replacement``."""
    return f"--naptr-record={DOMAIN},{order},50,s,{service},,{replacement}"


def port_of(listener: Listener) -> int:
    return int(listener.hostport.rpartition(":")[2])


class TcpRecorder:
    """A TCP socket on loopback that records connection attempts (a target the UAC must
    not choose: over TCP it shows as a connection)."""

    def __init__(self, ctx: Context, port: int = 0, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        ctx.on_teardown("the TCP recorder closed", self.close)

    def attempted(self, timeout: float = 0.0) -> bool:
        """Whether a connection came (waiting up to ``timeout`` seconds for the first)."""
        wait = 0.0 if self.connections else timeout
        while True:
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                return self.connections > 0
            conn, _ = self.sock.accept()
            conn.close()
            self.connections += 1
            wait = 0.0

    def close(self) -> bool:
        self.sock.close()
        return True


def _invite(
    ctx: Context, peer: Peer, within: float = 10.0
) -> tuple[Message, tuple[str, int]] | None:
    return peer.expect(lambda m: m.method == "INVITE", within)


def _udp_and_not_tcp(
    ctx: Context,
    domain: str,
    records: list[str],
    tcp: TcpRecorder,
    server: Listener,
    host_address: str = "127.0.0.1",
) -> None:
    """Call ``sip:uas@domain`` (``records`` served, HOST at ``host_address``): the INVITE
    must come over UDP to ``server``, never to the TCP recorder (no INVITE anywhere:
    inconclusive)."""
    dns = serve(ctx, records, host_address=host_address)
    peer = Peer(ctx, "dns", server=server, dns=dns, domain=domain)
    got = _invite(ctx, peer)
    if got is not None:
        peer.answer(got[0], got[1], 486)
    tried_tcp = tcp.attempted(0.0 if got is not None else 0.5)
    if got is None and not tried_tcp:
        ctx.inconclusive(f"the target sent no INVITE for sip:uas@{domain}")
    ctx.check(
        got is not None and not tried_tcp,
        f"the INVITE over UDP to {server.hostport}",
        "a TCP connection instead" if tried_tcp else "none",
    )


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If the URI specifies a transport protocol in the transport parameter,
##% that transport protocol SHOULD be used.
@case(
    "uac-3263-transport-param",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def transport_param(ctx: Context) -> None:
    """``sip:uas@uac.sipref.test;transport=udp`` while the domain's NAPTR records prefer
    TCP: the INVITE comes over UDP (the _sip._udp SRV record), no TCP connection."""
    _need_dns(ctx)
    server, tcp = ctx.listener(), TcpRecorder(ctx)
    records = [
        naptr(10, "SIP+D2T", f"_sip._tcp.{DOMAIN}"),
        naptr(20, "SIP+D2U", f"_sip._udp.{DOMAIN}"),
        srv(f"_sip._tcp.{DOMAIN}", tcp.port),
        srv(f"_sip._udp.{DOMAIN}", port_of(server)),
    ]
    _udp_and_not_tcp(ctx, f"{DOMAIN};transport=udp", records, tcp, server)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol is specified, but the TARGET is a
##% numeric IP address, the client SHOULD use UDP for a SIP URI, and TCP
##% for a SIPS URI.
@case(
    "uac-3263-numeric-udp",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def numeric_udp(ctx: Context) -> None:
    """``sip:uas@127.0.0.1:PORT`` (numeric, no transport): the INVITE comes over UDP to
    that port, not over TCP to it."""
    _need_dns(ctx)
    server = ctx.listener()
    try:
        tcp = TcpRecorder(ctx, port_of(server))
    except OSError:
        ctx.inconclusive("the TCP port of the runner's UDP port is taken")
    _udp_and_not_tcp(ctx, server.hostport, [], tcp, server)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Similarly, if no transport protocol is specified,
##% and the TARGET is not numeric, but an explicit port is provided, the
##% client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI.
@case(
    "uac-3263-explicit-port",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def explicit_port(ctx: Context) -> None:
    """``sip:uas@host.uac.sipref.test:PORT`` (a name with a port, no transport), the
    domain's NAPTR records preferring TCP: the INVITE comes over UDP to that port."""
    _need_dns(ctx)
    server = ctx.listener()
    try:
        tcp = TcpRecorder(ctx, port_of(server))
    except OSError:
        ctx.inconclusive("the TCP port of the runner's UDP port is taken")
    records = [naptr(10, "SIP+D2T", f"_sip._tcp.{HOST}"), srv(f"_sip._tcp.{HOST}", tcp.port)]
    _udp_and_not_tcp(ctx, f"{HOST}:{port_of(server)}", records, tcp, server)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol or port is specified, and the
##% target is not a numeric IP address, the client SHOULD perform a NAPTR
##% query for the domain in the URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Second, a client MUST discard any service fields that identify
##% a resolution service whose value is not "D2X", for values of X that
##% indicate transport protocols supported by the client.
@case(
    "uac-3263-naptr",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def naptr_query(ctx: Context) -> None:
    """``sip:uas@uac.sipref.test``: only the domain's NAPTR record names the runner's SRV
    record (no _sip._udp record of the domain itself); a better-ordered NAPTR record of a
    service other than D2X names another socket of the runner's, which gets nothing."""
    _need_dns(ctx)
    server, decoy = ctx.listener(), ctx.listener()
    records = [
        naptr(10, "SIP+N2C", f"_sip._udp.decoy.{DOMAIN}"),
        naptr(20, "SIP+D2U", f"_sip._udp.naptr.{DOMAIN}"),
        srv(f"_sip._udp.decoy.{DOMAIN}", port_of(decoy)),
        srv(f"_sip._udp.naptr.{DOMAIN}", port_of(server)),
    ]
    dns = serve(ctx, records)
    peer = Peer(ctx, "dns", server=server, dns=dns, domain=DOMAIN)
    got = _invite(ctx, peer, 5.0)
    wrong = decoy.expect(lambda m: m.method == "INVITE", 0.0 if got else 3.0)
    for where, msg in ((server, got), (decoy, wrong)):
        if msg is not None:
            where.send(peer.response(msg[0], 486), msg[1])
    ctx.check(wrong is None, "nothing at the target of the N2C service", "an INVITE there", 1)
    ctx.check(got is not None, "the INVITE at the SRV target the NAPTR record names", "none")


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If no SRV records are found, the client SHOULD use TCP for a SIPS URI,
##% and UDP for a SIP URI.
@case(
    "uac-3263-no-srv-udp",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def no_srv_udp(ctx: Context) -> None:
    """``sip:uas@host.uac.sipref.test``, a name with an address record only: the INVITE
    comes over UDP to the default port 5060 of that address (a loopback address of the
    runner's own, 127.0.0.x), not over TCP."""
    _need_dns(ctx)
    address = f"127.0.0.{random.randint(20, 250)}"
    try:
        server = Listener(ctx.ladder, ctx.deadline, host=address, port=5060)
        tcp = TcpRecorder(ctx, 5060, host=address)
    except OSError:
        ctx.inconclusive(f"{address}:5060 is taken")
    ctx.links.append(server)
    _udp_and_not_tcp(ctx, HOST, [], tcp, server, host_address=address)


class _Servers:
    """Two SRV targets of ``DOMAIN``, sockets of the runner's: ``first`` (priority 10)
    and ``second`` (20)."""

    def __init__(self, ctx: Context, kind: str = "dns") -> None:
        _need_dns(ctx, kind)
        self.ctx = ctx
        self.first, self.second = ctx.listener(), ctx.listener()
        dns = serve(
            ctx,
            [
                srv(f"_sip._udp.{DOMAIN}", port_of(self.first), 10),
                srv(f"_sip._udp.{DOMAIN}", port_of(self.second), 20),
            ],
        )
        self.peer = Peer(ctx, kind, server=self.first, dns=dns, domain=DOMAIN)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% The client SHOULD try the first record.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% The procedures here MUST be done exactly once per transaction, where
##% transaction is as defined in [1].
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% That is, once a SIP server has successfully been contacted
##% (success is defined below), all retransmissions of the SIP request
##% and the ACK for non-2xx SIP responses to INVITE MUST be sent to the
##% same host.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% When a server is contacted successfully, all retransmissions of the
##% request for the transaction, as well as ACK for a non-2xx final
##% response, and CANCEL requests for that transaction, MUST go to the
##% same server.
@case(
    "uac-3263-same-server",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def same_server(ctx: Context) -> None:
    """Two SRV records: the INVITE comes to the first (priority 10), which lets it be
    retransmitted a while, answers 100 then 486; every retransmission and the ACK come to
    the same server, nothing to the second."""
    servers = _Servers(ctx)
    got = servers.peer.expect(lambda m: m.method == "INVITE", 10.0)
    if got is None:
        late = servers.second.expect(lambda m: m.method == "INVITE", 0.0)
        ctx.inconclusive(f"no INVITE at the first SRV target ({describe(late and late[0])})")
    assert got is not None
    invite, addr = got
    # Timer A doubles from T1: a few retransmissions within 4*T1 (at least 0.5 s)
    copies = servers.peer.collect(
        lambda m: m.method == "INVITE" and m.branch == invite.branch,
        max(0.5, 4 * ctx.profile.t1),
    )
    servers.peer.answer(invite, addr, 100)
    servers.peer.answer(invite, addr, 486)
    ack = servers.peer.expect(lambda m: m.method == "ACK" and m.call_id == invite.call_id, 2.0)
    elsewhere = servers.second.expect(lambda m: m.call_id == invite.call_id, 0.0)
    ctx.check(
        elsewhere is None,
        "nothing of the transaction at the second SRV target",
        describe(elsewhere and elsewhere[0]),
        requirement=2,
    )
    ctx.check(ack is not None, "the ACK for the 486 at the same server", "none", 3)
    ctx.check(
        ctx.target.reliable or bool(copies),
        "the retransmissions at the same server",
        f"{len(copies)} retransmissions there",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If an attempt should fail, based on the definition of failure in
##% Section 4.3, the next SHOULD be tried, and if that should fail, the
##% next SHOULD be tried, and so on.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% If a failure occurs, the client
##% SHOULD create a new request, which is identical to the previous, but
##% has a different value of the Via branch ID than the previous (and
##% therefore constitutes a new SIP transaction).
@case(
    "uac-3263-next-after-503",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def next_after_503(ctx: Context) -> None:
    """The first SRV target answers 503 (a failure, §4.3): the INVITE comes again to the
    second, the same request with a new Via branch."""
    servers = _Servers(ctx)
    got = servers.peer.expect(lambda m: m.method == "INVITE", 10.0)
    if got is None:
        ctx.inconclusive("no INVITE at the first SRV target")
    assert got is not None
    invite, addr = got
    servers.peer.answer(invite, addr, 503)
    again = servers.second.expect(lambda m: m.method == "INVITE", 3.0)
    if again is not None:
        servers.second.send(servers.peer.response(again[0], 486), again[1])
    ctx.check(again is not None, "the INVITE at the second SRV target", "none within 3 s")
    assert again is not None
    retry = again[0]
    ctx.check(
        retry.branch != invite.branch,
        "a new Via branch",
        f"branch {retry.branch}",
        requirement=1,
    )
    for name in ("Call-ID", "From", "CSeq", "Request-URI"):
        before = invite.uri if name == "Request-URI" else invite.get(name)
        after = retry.uri if name == "Request-URI" else retry.get(name)
        ctx.check(before == after, f"{name} {before} (identical)", f"{after}", 1)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% Furthermore, a CANCEL for a particular SIP request MUST be sent to the
##% same SIP server that the SIP request was delivered to.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% When a server is contacted successfully, all retransmissions of the
##% request for the transaction, as well as ACK for a non-2xx final
##% response, and CANCEL requests for that transaction, MUST go to the
##% same server.
@case(
    "uac-3263-cancel-same-server",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble="an INVITE from the target, its server found by DNS ([uac] dns-cancel)",
    no_control=RUNNER_ANSWERS,
)
def cancel_same_server(ctx: Context) -> None:
    """Two SRV records: the INVITE comes to the first, which rings (180); the CANCEL the
    target then sends comes to the same server, nothing to the second."""
    servers = _Servers(ctx, "dns-cancel")
    got = servers.peer.expect(lambda m: m.method == "INVITE", 10.0)
    if got is None:
        ctx.inconclusive("no INVITE at the first SRV target")
    assert got is not None
    invite, addr = got
    servers.peer.answer(invite, addr, 180)
    cancel = servers.peer.expect(lambda m: m.method == "CANCEL", 3.0)
    elsewhere = servers.second.expect(lambda m: m.call_id == invite.call_id, 0.0)
    if cancel is not None:
        servers.peer.answer(cancel[0], cancel[1], 200)
        servers.peer.answer(invite, addr, 487)
    elif elsewhere is None:
        servers.peer.answer(invite, addr, 486)
        ctx.inconclusive("the target sent no CANCEL within 3 s of the 180")
    ctx.check(
        cancel is not None and elsewhere is None,
        "the CANCEL at the server the INVITE reached",
        f"at the second SRV target: {describe(elsewhere and elsewhere[0])}",
    )


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% First, a client resolving a SIPS URI MUST discard any services that do
##% not contain "SIPS" as the protocol in the service field.
@case(
    "uac-3263-sips-naptr",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble="a call from the target to a SIPS URI, found by DNS ([uac] dns-sips)",
    no_control="the connection to the SIPS+D2T target shows the target resolved the name",
)
def sips_naptr(ctx: Context) -> None:
    """``sips:uas@uac.sipref.test`` whose best NAPTR record is SIP+D2U (a UDP socket of the
    runner's) and the next SIPS+D2T (a TCP socket recording connections): the target
    connects to the SIPS one, never sends the INVITE over UDP."""
    _need_dns(ctx, "dns-sips")
    udp, tcp = ctx.listener(), TcpRecorder(ctx)
    records = [
        naptr(10, "SIP+D2U", f"_sip._udp.{DOMAIN}"),
        naptr(20, "SIPS+D2T", f"_sips._tcp.{DOMAIN}"),
        srv(f"_sip._udp.{DOMAIN}", port_of(udp)),
        srv(f"_sips._tcp.{DOMAIN}", tcp.port),
    ]
    dns = serve(ctx, records)
    peer = Peer(ctx, "dns-sips", server=udp, dns=dns, domain=DOMAIN)
    connected = tcp.attempted(5.0)
    got = _invite(ctx, peer, 0.5)
    if got is not None:
        peer.answer(got[0], got[1], 486)
    if got is None and not connected:
        ctx.inconclusive("the target made no attempt to reach sips:uas@" + DOMAIN)
    ctx.check(got is None, "no INVITE over UDP (SIP+D2U discarded)", "an INVITE over UDP")


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% A client resolving a SIP URI SHOULD retain records with "SIPS" as the
##% protocol, if the client supports TLS.
@case(
    "uac-3263-sip-keeps-sips",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=CALLED,
    no_control=RUNNER_ANSWERS,
)
def sip_keeps_sips(ctx: Context) -> None:
    """``sip:uas@uac.sipref.test`` whose best NAPTR record is SIPS+D2T (a TCP socket
    recording connections) and the next SIP+D2U (the runner's UDP socket): a target that
    supports TLS tries the SIPS one first."""
    _need_dns(ctx)
    udp, tcp = ctx.listener(), TcpRecorder(ctx)
    records = [
        naptr(10, "SIPS+D2T", f"_sips._tcp.{DOMAIN}"),
        naptr(20, "SIP+D2U", f"_sip._udp.{DOMAIN}"),
        srv(f"_sips._tcp.{DOMAIN}", tcp.port),
        srv(f"_sip._udp.{DOMAIN}", port_of(udp)),
    ]
    dns = serve(ctx, records)
    peer = Peer(ctx, "dns", server=udp, dns=dns, domain=DOMAIN)
    got = _invite(ctx, peer, 10.0)
    if got is not None:
        peer.answer(got[0], got[1], 486)
    connected = tcp.attempted(0.0 if got is not None else 0.5)
    if got is None and not connected:
        ctx.inconclusive("the target made no attempt to reach sip:uas@" + DOMAIN)
    ctx.check(connected, "a connection to the SIPS+D2T target first", "none (UDP only)")
