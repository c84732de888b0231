"""RFC 3263 seen at a proxy: the next hop of a request for a host name located by NAPTR, SRV
and A records (§4.1, §4.2), the transport of the URI's parameter kept, an explicit port
meaning no SRV, an IP literal meaning no DNS, the next SRV target tried after a 503 with a new
branch (§4.3), and a transaction's retransmissions, ACK and CANCEL sent to the server that
was contacted (§4, §4.4).

The runner serves the zone: each case starts dnsmasq (Debian's ``dnsmasq-base``) on the
address the profile's ``dns`` names — the DNS server the proxy asks (``proxy --dns``; the
selftest variant ``sipref-proxy-edge`` sets both) — with records naming its own UDP
listeners, the only way to reach them.  The cases run one after another (they share that
port).  Without ``dns`` in the profile, or without dnsmasq, they are not applicable.
"""

from __future__ import annotations

import time

from conformance.cases._dns_support import start_dnsmasq
from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    cancel_of,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 79
#: one DNS server port for all: the cases run one after another (`Case.serial`)
SERIAL = "proxy-dns"

PROXY = ("proxy",)
#: the parent of every name the cases serve (dnsmasq answers for it alone)
ZONE = "rfc3263.test"

Got = tuple[Message, tuple[str, int]]


def serve(ctx: Context, records: list[str]) -> str:
    """Start dnsmasq on the profile's ``dns`` address with ``records`` (dnsmasq options:
    --naptr-record, --srv-host, --host-record) under a fresh domain; that domain.  The
    server is stopped in the postamble."""
    if not ctx.profile.dns:
        ctx.not_applicable("the profile names no DNS server the proxy asks (dns = HOST:PORT)")
    host, _, port = ctx.profile.dns.rpartition(":")
    domain = f"{unique('d')}.{ZONE}"
    zone = [f"--local=/{ZONE}/", *[r.replace("{domain}", domain) for r in records]]
    with ctx.preamble(f"the zone {domain} served on {ctx.profile.dns}"):
        start_dnsmasq(ctx, host, int(port), zone)
    return domain


def _srv(service: str, host: str, port: int, priority: int = 10, weight: int = 0) -> str:
    return f"--srv-host={service}.{{domain}},{host}.{{domain}},{port},{priority},{weight}"


def _a(host: str) -> str:
    return f"--host-record={host}.{{domain}},127.0.0.1"


def _naptr(order: int, service: str, replacement: str) -> str:
    return f"--naptr-record={{domain}},{order},10,S,{service},,{replacement}.{{domain}}"


def _send(ctx: Context, uri: str, method: str = "MESSAGE") -> tuple[Link, Outgoing]:
    link = ctx.link()
    req = ctx.request(method, link, uri=uri)
    link.send(bytes(req), f"{method} for a host name")
    return link, req


def _which(downs: list[Listener], method: str, call_id: str, timeout: float) -> tuple[int, Got]:
    """The listener the request reached first (its index, the copy); (-1, None) if none."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for i, down in enumerate(downs):
            got = arrives(down, method, call_id, timeout=0.05)
            if got is not None:
                return i, got
    return -1, None  # type: ignore[return-value]


def _reached(ctx: Context, uri: str, downs: list[Listener]) -> tuple[int, Message | None]:
    """A MESSAGE for ``uri`` through the proxy: which of ``downs`` it reached (answered 200
    there), -1 for none, and the proxy's final response."""
    link, req = _send(ctx, uri)
    index, got = _which(downs, "MESSAGE", req.call_id, timeout=2.0)
    if index >= 0:
        reply(downs[index], got, 200)
    return index, final_of(link, req, timeout=1.0)


def _named(index: int, names: list[str], final: Message | None) -> str:
    return names[index] if index >= 0 else f"none ({describe(final)})"


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol or port is specified, and the target is not a numeric
##% IP address, the client SHOULD perform a NAPTR query for the domain in the URI.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Second, a client MUST discard any service fields that identify a resolution service whose
##% value is not "D2X", for values of X that indicate transport protocols supported by the
##% client.
@case("proxy-3263-naptr", roles=PROXY, level="SHOULD", transports=("udp",), no_control=FORWARDED)
def naptr(ctx: Context) -> None:
    """A request for a domain goes where its NAPTR records lead, skipping a service the proxy
    does not support.

    NAPTR: order 10 "SIP+D2Q" (no such transport) to one server, order 20 "SIP+D2U" to
    ``_sip._udp.alt.DOMAIN``, SRV there to the second; ``_sip._udp.DOMAIN`` itself (what a
    proxy skipping NAPTR finds) names a third.  The request must reach the second."""
    bogus, right, plain = ctx.listener(), ctx.listener(), ctx.listener()
    domain = serve(
        ctx,
        [
            _naptr(10, "SIP+D2Q", "_sip._udp.bogus"),
            _naptr(20, "SIP+D2U", "_sip._udp.alt"),
            _srv("_sip._udp.bogus", "one", bogus.local[1]),
            _srv("_sip._udp.alt", "two", right.local[1]),
            _srv("_sip._udp", "three", plain.local[1]),
            _a("one"),
            _a("two"),
            _a("three"),
        ],
    )
    index, final = _reached(ctx, f"sip:someone@{domain}", [bogus, right, plain])
    names = ["the D2Q service's server", "the NAPTR D2U server", "the plain SRV server"]
    ctx.check(index != 0, "the unknown service discarded", names[0], 1)
    ctx.should(index == 1, names[1], _named(index, names, final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If the URI specifies a transport protocol in the transport parameter, that transport
##% protocol SHOULD be used.
@case(
    "proxy-3263-transport-param",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def transport_param(ctx: Context) -> None:
    """``;transport=udp`` in the URI wins over NAPTR records preferring TCP.

    NAPTR: "SIP+D2T" first (to ``_sip._tcp``, a port where nothing listens over TCP), then
    "SIP+D2U"; the URI says UDP: the request reaches the ``_sip._udp`` server over UDP."""
    down = ctx.listener()
    domain = serve(
        ctx,
        [
            _naptr(10, "SIP+D2T", "_sip._tcp"),
            _naptr(20, "SIP+D2U", "_sip._udp"),
            _srv("_sip._tcp", "tcp", down.local[1]),
            _srv("_sip._udp", "udp", down.local[1]),
            _a("tcp"),
            _a("udp"),
        ],
    )
    index, final = _reached(ctx, f"sip:someone@{domain};transport=udp", [down])
    ctx.should(index == 0, "the request over UDP", _named(index, ["UDP"], final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Similarly, if no transport protocol is specified, and the TARGET is not numeric, but an
##% explicit port is provided, the client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI.
@case(
    "proxy-3263-explicit-port",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def explicit_port(ctx: Context) -> None:
    """A host name with a port: its address at that port over UDP, no SRV.

    ``sip:someone@host.DOMAIN:PORT`` where the SRV records of ``host.DOMAIN`` name another
    server: the request reaches the one at PORT."""
    down, decoy = ctx.listener(), ctx.listener()
    domain = serve(
        ctx,
        [_a("host"), _srv("_sip._udp.host", "host", decoy.local[1]), _naptr(10, "SIP+D2U", "x")],
    )
    uri = f"sip:someone@host.{domain}:{down.local[1]}"
    index, final = _reached(ctx, uri, [down, decoy])
    names = ["the URI's port over UDP", "the SRV record's server"]
    ctx.should(index == 0, names[0], _named(index, names, final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% Otherwise, if no transport protocol is specified, but the TARGET is a numeric IP address,
##% the client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI.
@case(
    "proxy-3263-ip-literal",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def ip_literal(ctx: Context) -> None:
    """A numeric IP address without transport: the request goes over UDP to it (no DNS).

    The zone is served all the same (the proxy finds nothing to ask there)."""
    down = ctx.listener()
    serve(ctx, [])
    index, final = _reached(ctx, f"sip:someone@{down.hostport}", [down])
    ctx.should(index == 0, "the request over UDP", _named(index, ["UDP"], final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% First, a client resolving a SIPS URI MUST discard any services that do not contain "SIPS"
##% as the protocol in the service field.
@case("proxy-3263-sips-discards-sip", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def sips_discards_sip(ctx: Context) -> None:
    """A SIPS URI whose domain offers only "SIP+D2U" is not sent there over UDP.

    The proxy finds no SIPS service (and no ``_sips._tcp`` SRV): it answers with an error; the
    UDP server the SIP service names gets nothing."""
    down = ctx.listener()
    domain = serve(
        ctx,
        [_naptr(10, "SIP+D2U", "_sip._udp"), _srv("_sip._udp", "udp", down.local[1]), _a("udp")],
    )
    link, req = _send(ctx, f"sips:someone@{domain}")
    got = arrives(down, "MESSAGE", req.call_id, timeout=1.0)
    if got is not None:
        reply(down, got, 200)
    final = final_of(link, req, timeout=2.0)
    ctx.check(got is None, "nothing over UDP for a SIPS URI", f"sent there ({describe(final)})")


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% The client SHOULD try the first record.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% If an attempt should fail, based on the definition of failure in Section 4.3, the next
##% SHOULD be tried, and if that should fail, the next SHOULD be tried, and so on.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% If a failure occurs, the client SHOULD create a new request, which is identical to the
##% previous, but has a different value of the Via branch ID than the previous (and therefore
##% constitutes a new SIP transaction).
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% As such, whenever a proxy does not successfully contact the first server, it SHOULD act as
##% a stateful proxy.
@case(
    "proxy-3263-srv-failover",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def srv_failover(ctx: Context) -> None:
    """The SRV record of the best priority first; after its 503, the next, with a new branch.

    ``_sip._udp.DOMAIN``: priority 10 to a server answering 503, priority 20 to another:
    the request reaches the first, then the second (a new Via branch), whose 200 the
    UAC gets."""
    first, second = ctx.listener(), ctx.listener()
    domain = serve(
        ctx,
        [
            _srv("_sip._udp", "one", first.local[1], 10),
            _srv("_sip._udp", "two", second.local[1], 20),
            _a("one"),
            _a("two"),
        ],
    )
    link, req = _send(ctx, f"sip:someone@{domain}")
    index, got = _which([first, second], "MESSAGE", req.call_id, timeout=2.0)
    if index != 0:
        if index == 1:
            reply(second, got, 200)
        final = final_of(link, req, timeout=1.0)
        ctx.should(
            False, "the priority 10 server first", _named(index, ["", "priority 20"], final)
        )
        return
    reply(first, got, 503)
    again = arrives(second, "MESSAGE", req.call_id, timeout=2.0)
    if again is not None:
        reply(second, again, 200)
    final = final_of(link, req, timeout=1.0)
    ctx.should(again is not None, "the request retried at priority 20", describe(final))
    if again is not None:
        ctx.should(
            again[0].branch != got[0].branch,
            "a new Via branch",
            f"the same branch {got[0].branch}",
        )
        ctx.should(final is not None and final.status == 200, "the 200 upstream", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% The procedures here MUST be done exactly once per transaction, where transaction is as
##% defined in [1].
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% That is, once a SIP server has successfully been contacted (success is defined below), all
##% retransmissions of the SIP request and the ACK for non-2xx SIP responses to INVITE MUST be
##% sent to the same host.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% Furthermore, a CANCEL for a particular SIP request MUST be sent to the same SIP server that
##% the SIP request was delivered to.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% When a server is contacted successfully, all retransmissions of the request for the
##% transaction, as well as ACK for a non-2xx final response, and CANCEL requests for that
##% transaction, MUST go to the same server.
@case("proxy-3263-same-server", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def same_server(ctx: Context) -> None:
    """Retransmissions, the CANCEL and the ACK of the 487 go to the server the INVITE
    reached, not to the other one of equal priority.

    Two SRV records of one priority and weight: the INVITE reaches one (left unanswered a
    moment, so the proxy retransmits it), which then rings; the UAC's CANCEL follows."""
    servers = [ctx.listener(), ctx.listener()]
    domain = serve(
        ctx,
        [
            _srv("_sip._udp", "one", servers[0].local[1], 10, 50),
            _srv("_sip._udp", "two", servers[1].local[1], 10, 50),
            _a("one"),
            _a("two"),
        ],
    )
    link, req = _send(ctx, f"sip:someone@{domain}", "INVITE")
    index, got = _which(servers, "INVITE", req.call_id, timeout=2.0)
    if index < 0:
        final = final_of(link, req, timeout=1.0)
        ack_upstream(link, req, final)
        ctx.inconclusive(f"the INVITE reached neither server ({describe(final)})")
    server, other = servers[index], servers[1 - index]
    # unanswered for 3 T1: the proxy's Timer A retransmits the INVITE (RFC 3261 §17.1.1.2)
    time.sleep(max(3 * ctx.profile.t1, 0.3))
    reply(server, got, 180)
    upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    link.send(bytes(cancel_of(req)), "CANCEL")
    cancel = arrives(server, "CANCEL", req.call_id, timeout=2.0)
    if cancel is not None:
        reply(server, cancel, 200)
    reply(server, got, 487)
    ack = server.expect(lambda m: m.method == "ACK" and m.call_id == req.call_id, timeout=1.0)
    final = final_of(link, req, timeout=1.0)
    ack_upstream(link, req, final)
    strays = []
    while (stray := other.expect(lambda m: m.call_id == req.call_id, timeout=0.05)) is not None:
        strays.append(stray[0].start_line)
    ctx.check(not strays, "nothing at the other server", " | ".join(strays), 1)
    ctx.check(cancel is not None, "the CANCEL at the server the INVITE reached", "none", 2)
    ctx.check(ack is not None, "the ACK of the 487 at that server", "none", 3)


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
##= type=test
##% If no SRV records are found, the client SHOULD use TCP for a SIPS URI, and UDP for a SIP URI.
@case(
    "proxy-3263-no-srv-udp",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control=FORWARDED,
)
def no_srv_udp(ctx: Context) -> None:
    """A domain with an address but no NAPTR or SRV record: UDP to its port 5060.

    The runner listens on 127.0.0.1:5060 (not applicable when that port is taken)."""
    try:
        down = Listener(ctx.ladder, ctx.deadline, port=5060)
    except OSError as exc:
        ctx.not_applicable(f"the runner cannot listen on UDP 127.0.0.1:5060 ({exc})")
    ctx.links.append(down)
    domain = serve(ctx, [_a("host")])
    index, final = _reached(ctx, f"sip:someone@host.{domain}", [down])
    ctx.should(index == 0, "the request over UDP to port 5060", _named(index, ["5060"], final))


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% The stateless proxy MUST define a deterministic order to the records in that case, using
##% any algorithm at its disposal.
@case(
    "proxy-3263-retransmission-same-server", roles=PROXY, transports=("udp",), no_control=FORWARDED
)
def retransmission_same_server(ctx: Context) -> None:
    """Every copy of a request the UAC repeats goes to one server of two equal SRV records.

    A stateless proxy forwards each retransmission anew: its order of equal records must be
    deterministic; a stateful one absorbs them (its own retransmissions go to the server it
    contacted)."""
    servers = [ctx.listener(), ctx.listener()]
    domain = serve(
        ctx,
        [
            _srv("_sip._udp", "one", servers[0].local[1], 10, 50),
            _srv("_sip._udp", "two", servers[1].local[1], 10, 50),
            _a("one"),
            _a("two"),
        ],
    )
    link, req = _send(ctx, f"sip:someone@{domain}")
    seen: list[tuple[int, Got]] = []
    for _ in range(3):
        time.sleep(max(ctx.profile.t1, 0.1))
        link.send(bytes(req), "retransmission")
    end = time.monotonic() + max(4 * ctx.profile.t1, 0.5)
    while time.monotonic() < end:
        for i, down in enumerate(servers):
            got = arrives(down, "MESSAGE", req.call_id, timeout=0.02)
            if got is not None:
                seen.append((i, got))
    if not seen:
        final = final_of(link, req, timeout=1.0)
        ctx.inconclusive(f"the request reached neither server ({describe(final)})")
    index, got = seen[0]
    reply(servers[index], got, 200)
    final_of(link, req, timeout=1.0)
    where = sorted({i for i, _ in seen})
    ctx.check(len(where) == 1, "every copy at one server", f"copies at servers {where}")
