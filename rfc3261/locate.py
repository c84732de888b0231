"""Locating SIP servers: the decisions of RFC 3263 §4.1, §4.2 and §5, sans-I/O.

Theory of operation
-------------------
RFC 3263 turns a SIP or SIPS URI into an ordered list of (transport, IP
address, port) targets: NAPTR records choose the transport (§4.1), SRV
records the hosts and ports (§4.2, ordered as RFC 2782 says), A and AAAA
records the addresses.  Which query comes next depends on the answer to the
one before, so the procedure is written here as a generator: it *yields* a
:class:`Query` (a name and a record type) and is *sent* the answer (a list of
:class:`Naptr`, :class:`Srv` or IP address strings; empty for "no such
record"), and finally *returns* the list of :class:`Target`.  No socket, no
clock, no DNS library: the asyncio edge (:mod:`rfc3261.asyncio.dns`) asks a
real DNS server, a test answers from a dict (:func:`run_with`).

- :func:`locate` is the client side (§4): for a request's URI.
- :func:`locate_sent_by` is the server side (§5): where a response goes when
  the connection its request came on is gone, from the top Via's sent-by.
- :class:`ServerFailover` is §4.3 for a UA core: after a 503, a transport
  failure or a timeout with no response, the same request (new branch) to the
  next server the host has left for it.
- :func:`srv_order` is the RFC 2782 "Usage rules" order: priority ascending,
  weighted random among equal priorities (``rng`` is given, so tests and
  stateless proxies can make it deterministic).

Bounds: a hostile zone cannot make the procedure unbounded.  Only
terminal NAPTR records (flag "S") are followed, one level deep, so NAPTR
chains and loops are never walked; at most :data:`MAX_SRV` SRV records of
an answer are ordered (those of the best priorities), at most
:data:`MAX_HOST_LOOKUPS` target names are looked up, at most
:data:`MAX_TARGETS` targets are returned.  A name that resolves to no address
(an SRV target naming itself, "." for "no service") simply gives no target.
"""

from __future__ import annotations

import functools
import ipaddress
import random
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from .extension import ClientRequest, UAExtension
from .headers import Via
from .message import Request, Response, parse
from .transports import default_port
from .uri import SipURI

__all__ = [
    "MAX_HOST_LOOKUPS",
    "MAX_SRV",
    "MAX_TARGETS",
    "NAPTR_SERVICES",
    "SRV_PREFIXES",
    "Locating",
    "Naptr",
    "Query",
    "ServerFailover",
    "Srv",
    "Target",
    "locate",
    "locate_sent_by",
    "run_with",
    "srv_order",
]

MAX_SRV = 32
MAX_HOST_LOOKUPS = 8
MAX_TARGETS = 32

# The NAPTR service field of each transport (RFC 3263 §4.1 and its IANA registry:
# D2U, D2T, D2S; RFC 7118 §5 adds D2W for WebSocket).  TLS is "SIPS+D2T".
NAPTR_SERVICES: dict[str, str] = {
    "SIP+D2U": "UDP",
    "SIP+D2T": "TCP",
    "SIPS+D2T": "TLS",
    "SIP+D2S": "SCTP",
    "SIPS+D2S": "TLS-SCTP",
    "SIP+D2W": "WS",
    "SIPS+D2W": "WSS",
}

# The SRV owner-name prefix of each transport (§4.2: "_sips" for TLS, "_sip" otherwise).
SRV_PREFIXES: dict[str, str] = {
    "UDP": "_sip._udp",
    "TCP": "_sip._tcp",
    "TLS": "_sips._tcp",
    "SCTP": "_sip._sctp",
    "TLS-SCTP": "_sips._sctp",
    "WS": "_sip._ws",
    "WSS": "_sips._ws",
}

# SRV probing order when a domain has no NAPTR records (§4.1 leaves it to the client).
_PROBE_ORDER = ("TLS", "TCP", "UDP", "WSS", "WS", "TLS-SCTP", "SCTP")
_SECURE = frozenset({"TLS", "TLS-SCTP", "WSS"})


@dataclass(frozen=True, slots=True)
class Query:
    """One DNS question: ``name`` (absolute, no trailing dot) and ``rdtype``."""

    name: str
    rdtype: str  # "NAPTR", "SRV", "A" or "AAAA"


@dataclass(frozen=True, slots=True)
class Naptr:
    """A NAPTR record (RFC 2915) as far as RFC 3263 reads it."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


@dataclass(frozen=True, slots=True)
class Srv:
    """An SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class Target:
    """Where to try to send: transport (Via token), IP literal, port."""

    transport: str
    host: str
    port: int


# What the generator yields, is sent, and returns.
Locating = Generator[Query, list[Any], list[Target]]


@functools.lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _name(host: str) -> str:
    """A domain name as queried: lower-case, no trailing dot."""
    return host.rstrip(".").lower()


def _secure_uri(uri: SipURI) -> bool:
    return uri.scheme.lower() == "sips"


def _uri_transport(uri: SipURI) -> str:
    """The transport of the ``transport`` parameter (TLS for a sips: URI over TCP)."""
    transport = (uri.transport or "").upper()
    if _secure_uri(uri):
        if transport == "UDP":
            raise ValueError(f"{uri}: a SIPS URI cannot name UDP (TLS runs over TCP)")
        return {"TCP": "TLS", "SCTP": "TLS-SCTP", "WS": "WSS"}.get(transport, transport)
    return transport


def locate(
    uri: SipURI,
    supported: Collection[str],
    rng: random.Random | None = None,
) -> Locating:
    """The targets for a request to ``uri`` (RFC 3263 §4.1, §4.2), as a query generator.

    ``supported``: the transports (Via tokens) the client can use.  Raises
    ValueError when the URI names a transport the client does not support.
    """
    rng = rng or random.Random()
    supported = {t.upper() for t in supported}
    secure = _secure_uri(uri)
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4
    ##% We define TARGET as the value of the maddr parameter of the URI, if
    ##% present, otherwise, the host value of the hostport component of the
    ##% URI.
    target = uri.maddr or uri.host
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% If the URI specifies a transport protocol in the transport parameter,
    ##% that transport protocol SHOULD be used.
    transport = _uri_transport(uri) or None
    if transport is not None and transport not in supported:
        raise ValueError(f"{uri}: transport {transport} is not supported here")
    if _is_ip(target):
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
        ##% Otherwise, if no transport protocol is specified, but the TARGET is a
        ##% numeric IP address, the client SHOULD use UDP for a SIP URI, and TCP
        ##% for a SIPS URI.
        transport = transport or ("TLS" if secure else "UDP")
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
        ##% If TARGET is a numeric IP address, the client uses that address.  If
        ##% the URI also contains a port, it uses that port.  If no port is
        ##% specified, it uses the default port for the particular transport
        ##% protocol.
        return [Target(transport, target.strip("[]"), uri.port or default_port(transport))]
    name = _name(target)
    if uri.port is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
        ##% Similarly, if no transport protocol is specified,
        ##% and the TARGET is not numeric, but an explicit port is provided, the
        ##% client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI.
        transport = transport or ("TLS" if secure else "UDP")
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
        ##% If the TARGET was not a numeric IP address, but a port is present in
        ##% the URI, the client performs an A or AAAA record lookup of the domain
        ##% name.
        return (yield from _addresses(transport, name, uri.port))
    if transport is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
        ##% If it was not, because a transport was specified
        ##% explicitly, the client performs an SRV query for that specific
        ##% transport, using the service identifier "_sips" for SIPS URIs.
        prefix = SRV_PREFIXES.get(transport, "_sip._" + transport.lower())
        srvs = _srvs((yield Query(f"{prefix}.{name}", "SRV")))
        services: list[tuple[str, list[Srv]]] = [(transport, srvs)] if srvs else []
    else:
        services = yield from _naptr_services(name, secure, supported)
        if not services:
            services = yield from _probe_srv(name, secure, supported)
    targets: list[Target] = []
    lookups = 0
    for service_transport, srvs in services:
        for srv in srv_order(srvs, rng):
            if lookups >= MAX_HOST_LOOKUPS or len(targets) >= MAX_TARGETS:
                break
            lookups += 1
            targets += yield from _addresses(service_transport, _name(srv.target), srv.port)
    if services:
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
        ##% Irregardless
        ##% of how the SRV records were determined, the procedures of RFC 2782,
        ##% as described in the section titled "Usage rules" are followed,
        ##% augmented by the additional procedures of Section 4.3 of this
        ##% document.
        return _unique(targets)[:MAX_TARGETS]
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% If no SRV records are found, the client SHOULD use TCP for a SIPS
    ##% URI, and UDP for a SIP URI.
    transport = transport or ("TLS" if secure else "UDP")
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
    ##% If no SRV records were found, the client performs an A or AAAA record
    ##% lookup of the domain name.  The result will be a list of IP
    ##% addresses, each of which can be contacted using the transport
    ##% protocol determined previously, at the default port for that
    ##% transport.
    return (yield from _addresses(transport, name, default_port(transport)))


def _naptr_services(
    name: str, secure: bool, supported: set[str]
) -> Generator[Query, list[Any], list[tuple[str, list[Srv]]]]:
    """§4.1: the NAPTR records of ``name`` that apply, in order, each with its SRV records."""
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% Otherwise, if no transport protocol or port is specified, and the
    ##% target is not a numeric IP address, the client SHOULD perform a NAPTR
    ##% query for the domain in the URI.
    records = [r for r in (yield Query(name, "NAPTR")) if isinstance(r, Naptr)]
    chosen: list[tuple[Naptr, str]] = []
    for record in records:
        service = record.service.upper()
        transport = NAPTR_SERVICES.get(service)
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
        ##% First, a client resolving a SIPS URI MUST discard any services that
        ##% do not contain "SIPS" as the protocol in the service field.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
        ##% The local outbound proxy server at atlanta.com SHOULD therefore establish a TLS
        ##% connection with the remote proxy server at biloxi.com.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.3
        ##% When Carol wishes to send an INVITE to "bob@biloxi.com", her UA SHOULD initiate a
        ##% TLS connection with the biloxi proxy directly (using the mechanism described in [4]
        ##% to determine how to best to reach the given Request-URI).
        if secure and not service.startswith("SIPS+"):
            continue

        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
        ##% A client resolving a SIP URI SHOULD
        ##% retain records with "SIPS" as the protocol, if the client supports
        ##% TLS.
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
        ##% Second, a client MUST discard any service fields that identify
        ##% a resolution service whose value is not "D2X", for values of X that
        ##% indicate transport protocols supported by the client.
        if transport is None or transport not in supported:
            continue
        # Only terminal "S" records, whose replacement names the SRV records, are
        # used: a non-terminal rule would start another NAPTR lookup (RFC 2915),
        # which RFC 3263 never needs and which a hostile zone could make loop.
        if record.flags.upper() != "S" or not record.replacement.strip("."):
            continue
        chosen.append((record, transport))
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% The NAPTR
    ##% processing as described in RFC 2915 will result in the discovery of
    ##% the most preferred transport protocol of the server that is supported
    ##% by the client, as well as an SRV record for the server.
    chosen.sort(key=lambda pair: (pair[0].order, pair[0].preference))
    services: list[tuple[str, list[Srv]]] = []
    seen: set[str] = set()
    for record, transport in chosen:
        replacement = _name(record.replacement)
        if replacement in seen:
            continue
        seen.add(replacement)
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
        ##% If the TARGET was not a numeric IP address, and no port was present
        ##% in the URI, the client performs an SRV query on the record returned
        ##% from the NAPTR processing of Section 4.1, if such processing was
        ##% performed.
        srvs = _srvs((yield Query(replacement, "SRV")))
        if srvs:
            services.append((transport, srvs))
    return services


def _probe_srv(
    name: str, secure: bool, supported: set[str]
) -> Generator[Query, list[Any], list[tuple[str, list[Srv]]]]:
    """§4.1 without NAPTR records: an SRV query per supported transport; the first that answers."""
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% If no NAPTR records are found, the client constructs SRV queries for
    ##% those transport protocols it supports, and does a query for each.
    ##% Queries are done using the service identifier "_sip" for SIP URIs and
    ##% "_sips" for SIPS URIs.
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.1
    ##% A particular transport is supported if the
    ##% query is successful.  The client MAY use any transport protocol it
    ##% desires which is supported by the server.
    for transport in _PROBE_ORDER:
        if transport not in supported or (secure and transport not in _SECURE):
            continue
        srvs = _srvs((yield Query(f"{SRV_PREFIXES[transport]}.{name}", "SRV")))
        if srvs:
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
            ##% If the NAPTR processing was not done because no NAPTR
            ##% records were found, but an SRV query for a supported transport
            ##% protocol was successful, those SRV records are selected.
            return [(transport, srvs)]
    return []


def _srvs(records: list[Any]) -> list[Srv]:
    # A target of "." means "the service is decidedly not available" (RFC 2782).
    return [r for r in records if isinstance(r, Srv) and r.target.strip(".")]


def _addresses(transport: str, name: str, port: int) -> Generator[Query, list[Any], list[Target]]:
    """The A, then AAAA records of ``name``, each a target at ``port``."""
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
    ##% The result will be a list of IP addresses, each of which can
    ##% be contacted at the specific port from the URI and transport protocol
    ##% determined previously.
    targets: list[Target] = []
    for rdtype in ("A", "AAAA"):
        for address in (yield Query(name, rdtype)):
            if isinstance(address, str) and _is_ip(address):
                targets.append(Target(transport, address, port))
    return targets[:MAX_TARGETS]


def srv_order(records: list[Srv], rng: random.Random) -> list[Srv]:
    """RFC 2782 "Usage rules": by priority; among equal priorities, weighted random.

    As RFC 2782 spells it: zero-weight records first, a random number from 0 to
    the sum of the weights, the first record whose running sum reaches it (so a
    record of weight 0 is picked with probability 1/(sum+1)).

    Only the :data:`MAX_SRV` records of the best priorities are ordered (a zone
    with thousands of records costs no more than one with 32).
    """
    ordered: list[Srv] = []
    by_priority = sorted(records, key=lambda r: r.priority)[:MAX_SRV]
    start = 0
    while start < len(by_priority):
        priority = by_priority[start].priority
        end = start
        while end < len(by_priority) and by_priority[end].priority == priority:
            end += 1
        # Zero-weight records first, then repeatedly pick with probability weight/sum.
        group = sorted(by_priority[start:end], key=lambda r: r.weight != 0)
        while len(group) > 1:
            total = sum(r.weight for r in group)
            choice = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= choice:
                    ordered.append(group.pop(index))
                    break
        ordered += group  # the last one: no choice to make
        start = end
    return ordered


def _unique(targets: list[Target]) -> list[Target]:
    seen: set[Target] = set()
    return [t for t in targets if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]


def locate_sent_by(via: Via, supported: Collection[str] = ()) -> Locating:
    """Where a response goes by the top Via's sent-by when its connection is gone (§5).

    ``supported`` is unused (the Via names the transport); kept for symmetry.
    """
    transport = via.transport.upper()
    host = via.host.strip("[]")
    if _is_ip(host):
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
        ##% If it contains a numeric IP
        ##% address, the server attempts to send the response to that address,
        ##% using the transport protocol from the Via header, and the port from
        ##% sent-by, if present, else the default for that transport protocol.
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
        ##% When this value is present, the server MUST
        ##% use TLS over TCP to send the response.
        return [Target(transport, host, via.port or default_port(transport))]
    name = _name(host)
    if via.port is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
        ##% If, however, the sent-by field contained a domain name and a port
        ##% number, the server queries for A or AAAA records with that name.
        return (yield from _addresses(transport, name, via.port))
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
    ##% If, however, the sent-by field contained a domain name and no port,
    ##% the server queries for SRV records at that domain name using the
    ##% service identifier "_sips" if the Via transport is "TLS", "_sip"
    ##% otherwise, and the transport from the topmost Via header ("TLS"
    ##% implies that the transport protocol in the SRV query is TCP).
    prefix = SRV_PREFIXES.get(transport, "_sip._" + transport.lower())
    srvs = _srvs((yield Query(f"{prefix}.{name}", "SRV")))
    targets: list[Target] = []
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
    ##% The
    ##% resulting list is sorted as described in [2], and the response is
    ##% sent to the topmost element on the new list described there.
    for srv in srv_order(srvs, random.Random())[:MAX_HOST_LOOKUPS]:
        targets += yield from _addresses(transport, _name(srv.target), srv.port)
    if not srvs:
        # No SRV records: the name's addresses at the transport's default port, as a
        # client would (§4.2); §5 does not say, and this is the only other choice.
        targets = yield from _addresses(transport, name, default_port(transport))
    return _unique(targets)[:MAX_TARGETS]


def run_with(
    locating: Locating, answer: Callable[[Query], list[Any]] | Mapping[Query, list[Any]]
) -> list[Target]:
    """Drive a :func:`locate` generator to its end with a synchronous ``answer``.

    ``answer`` is a function or a mapping (a missing key: no records).  For
    tests, and for answering from a cache.
    """
    ask = answer if callable(answer) else (lambda query: answer.get(query, []))  # type: ignore[union-attr]
    try:
        query = next(locating)
        while True:
            query = locating.send(ask(query))
    except StopIteration as stop:
        return stop.value


# -- §4.3: the next server after a failure, for a UA core ------------------------------


class ServerFailover(UAExtension):
    """RFC 3263 §4.3 for a UA core: after a failure, the same request to the next server.

    ``next_target(request)`` is the host's (``CoreHost.next_target``): it says
    whether the resolution that ``request`` was sent by has a server left, and
    queues it for the retry.  Retrying is the core's (§8.1.3.5 machinery: a new
    branch), so the retry is a new transaction; its CSeq stays (§4.3: identical
    but the branch).
    """

    name = "rfc3263-failover"
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
    ##% If a failure occurs, the client
    ##% SHOULD create a new request, which is identical to the previous, but
    ##% has a different value of the Via branch ID than the previous (and
    ##% therefore constitutes a new SIP transaction).
    retry_keeps_cseq = True

    def __init__(self, next_target: Callable[[Request], bool]) -> None:
        self.next_target = next_target

    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
    ##% If a failure occurs, the client
    ##% SHOULD create a new request, which is identical to the previous, but
    ##% has a different value of the Via branch ID than the previous (and
    ##% therefore constitutes a new SIP transaction).
    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
        ##% For SIP requests, failure occurs if the transaction layer reports a
        ##% 503 error response or a transport failure of some sort (generally,
        ##% due to fatal ICMP errors in UDP or connection failures in TCP).
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
        ##% Failure also occurs if the transaction layer times out without ever
        ##% having received any response, provisional or final (i.e., timer B or
        ##% timer F in RFC 3261 [1] fires).
        failed = response.status == 503 or (response.status == 408 and not client.provisional)
        if not failed or client.request.method in ("ACK", "CANCEL"):
            return None
        if not self.next_target(client.request):
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
        ##% That request is sent
        ##% to the next element in the list as specified by RFC 2782.
        copy = parse(bytes(client.request))
        return copy if isinstance(copy, Request) else None
