"""RFC 3263 over real DNS: the :class:`DnsResolver` behind the resolver seam.

Theory of operation
-------------------
The decisions of RFC 3263 (which record to ask for next, which transport,
which order) are :mod:`rfc3261.locate`, a generator that yields DNS queries.
This module answers those queries with dnspython's asyncio resolver
(``dns.asyncresolver``), so a lookup never blocks the event loop, and keeps
every answer for its TTL:

- :meth:`DnsResolver.resolve` (the :class:`~rfc3261.asyncio.resolver.Resolver`
  protocol) resolves a SIP URI, its text, a next hop or an Address into the
  ordered :class:`~rfc3261.asyncio.transport.Address` targets.
- :meth:`DnsResolver.resolve_now` answers without waiting when every record
  needed is cached (or the host is an IP literal), None otherwise: the
  dispatcher sends at once instead of starting a task, so in steady state DNS
  costs a few dictionary look-ups.
- :meth:`DnsResolver.resolve_sent_by` is the server side (RFC 3263 §5).

``nameservers`` names the DNS servers to ask ("127.0.0.1:5353", or
(address, port) pairs); then nothing else is consulted (no /etc/resolv.conf,
no /etc/hosts).  Without it, the system's resolver configuration is read
(/etc/resolv.conf), never the C library's getaddrinfo.

Bounds: every query has ``timeout`` seconds (dnspython retries over TCP when
a UDP answer is truncated); one resolution at most ``lifetime`` seconds; the
cache holds at most ``cache_size`` answers; a name that does not exist, a
server failure, a timeout or an unreadable answer are all "no records" for
that query (cached for :data:`NEGATIVE_TTL` seconds, or not at all for a
timeout), so :mod:`rfc3261.locate` moves on and the resolution ends with the
targets found so far (ValueError when there are none).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from ..headers import Via
from ..locate import Locating, Naptr, Query, Srv, Target, locate, locate_sent_by
from ..transports import TRANSPORTS, default_port
from ..uri import SipURI, parse_uri
from .resolver import resolve_destination
from .transport import Address, Source, is_ip_address

__all__ = ["NEGATIVE_TTL", "DnsResolver", "parse_nameserver"]

# How long "no such record" is remembered (RFC 2308 would take the SOA minimum;
# a short constant keeps this simple and bounds a stale negative answer).
NEGATIVE_TTL = 30.0


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"`` or ``"127.0.0.1"`` as (address, port)."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not is_ip_address(host):
        raise ValueError(f"DNS server {text!r}: give an IP address (and :port)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"DNS server {text!r}: bad port")
    return host, int(port)


class DnsResolver:
    """RFC 3263 with dnspython's asyncio resolver and a TTL cache (see the module doc)."""

    def __init__(
        self,
        nameservers: Iterable[str | tuple[str, int]] | None = None,
        *,
        timeout: float = 2.0,
        lifetime: float = 8.0,
        cache_size: int = 4096,
        transports: Iterable[str] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if nameservers is None:
            # The system's configuration (resolv.conf): only when none is given.
            self.dns = dns.asyncresolver.Resolver()
        else:
            servers = [parse_nameserver(s) if isinstance(s, str) else s for s in nameservers]
            if not servers:
                raise ValueError("nameservers: give at least one DNS server")
            self.dns = dns.asyncresolver.Resolver(configure=False)
            self.dns.nameservers = [
                dns.nameserver.Do53Nameserver(address, port) for address, port in servers
            ]
        self.dns.timeout = timeout
        self.dns.lifetime = timeout
        self.dns.cache = None  # ours below: resolve_now must read it without awaiting
        self.lifetime = lifetime
        self.cache_size = cache_size
        self.transports = None if transports is None else {t.upper() for t in transports}
        self.rng = rng or random.Random()
        self.clock = clock
        self._cache: OrderedDict[Query, tuple[float, list[Any]]] = OrderedDict()
        self._pending: dict[Query, asyncio.Future[list[Any]]] = {}
        # Whole answers that involved no random choice, until their first record expires.
        self._memo: dict[tuple[str, frozenset[str]], tuple[float, list[Address]]] = {}
        self._expires = float("inf")
        # Counters for tests and logs.
        self.queries = 0
        self.failures = 0

    # -- the Resolver protocol -------------------------------------------------------

    def supported(self) -> set[str]:
        """The transports this client can send over: those with a driver (and allowed)."""
        usable = {name for name, info in TRANSPORTS.items() if info.driver is not None}
        return usable if self.transports is None else usable & self.transports

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% Unless there is local policy specifying otherwise, the destination
    ##% MUST be determined by applying the DNS procedures described in [4] as
    ##% follows.
    async def resolve(self, destination: Any) -> list[Address]:
        """The ordered targets for ``destination`` (RFC 3263 §4); ValueError when none."""
        known = _literal(destination)
        if known is not None:
            return known
        uri = _uri_of(destination)
        try:
            async with asyncio.timeout(self.lifetime):
                targets = await self._run(locate(uri, self.supported(), self.rng))
        except TimeoutError:
            raise ValueError(f"{uri}: DNS resolution took over {self.lifetime} s") from None
        return _addresses(uri, targets)

    def resolve_now(self, destination: Any) -> list[Address] | None:
        """The targets when nothing needs to be waited for (IP literal, cached records)."""
        known = _literal(destination)
        if known is not None:
            return known
        uri = _uri_of(destination)
        supported = self.supported()
        key = (str(uri), frozenset(supported))
        memo = self._memo.get(key)
        now = self.clock()
        if memo is not None and memo[0] > now:
            return memo[1]
        rng = _CountingRandom(self.rng)
        self._expires = float("inf")
        targets = self._run_cached(locate(uri, supported, rng))  # type: ignore[arg-type]
        if targets is None:
            return None
        addresses = _addresses(uri, targets)
        if not rng.draws:
            # No weighted choice was made: the same records give the same answer until
            # the first of them expires, so the answer itself can be kept until then.
            if len(self._memo) >= self.cache_size:
                self._memo.clear()
            self._memo[key] = (self._expires, addresses)
        return addresses

    async def resolve_sent_by(self, via: Via) -> list[Address]:
        """Where a response goes when its connection is gone: the Via's sent-by (§5)."""
        try:
            async with asyncio.timeout(self.lifetime):
                targets = await self._run(locate_sent_by(via))
        except TimeoutError:
            raise ValueError(f"sent-by {via.host}: DNS resolution timed out") from None
        if not targets:
            raise ValueError(f"sent-by {via.host}: no address found in DNS")
        return [Address(t.transport, t.host, t.port) for t in targets]

    # -- answering the queries of rfc3261.locate --------------------------------------

    async def _run(self, locating: Locating) -> list[Target]:
        try:
            query = next(locating)
            while True:
                query = locating.send(await self.lookup(query))
        except StopIteration as stop:
            return stop.value

    def _run_cached(self, locating: Locating) -> list[Target] | None:
        try:
            query = next(locating)
            while True:
                records = self.cached(query)
                if records is None:
                    locating.close()
                    return None
                query = locating.send(records)
        except StopIteration as stop:
            return stop.value

    def cached(self, query: Query) -> list[Any] | None:
        """The cached records of ``query`` while their TTL lasts; None when not cached."""
        entry = self._cache.get(query)
        if entry is None:
            return None
        expires, records = entry
        if expires <= self.clock():
            del self._cache[query]
            return None
        self._expires = min(self._expires, expires)
        return records

    ##= https://www.rfc-editor.org/rfc/rfc3263#section-7
    ##% A client which frequently contacts the same domain SHOULD cache whether
    ##% or not its NAPTR records contain SIPS in the services field.
    async def lookup(self, query: Query) -> list[Any]:
        """The records of ``query``, from the cache or the DNS server; [] when there are none."""
        records = self.cached(query)
        if records is not None:
            return records
        # Requests that arrive together for one name ask the server once.
        pending = self._pending.get(query)
        if pending is None:
            pending = asyncio.ensure_future(self._ask(query))
            self._pending[query] = pending
            pending.add_done_callback(lambda _: self._pending.pop(query, None))
        return list(await asyncio.shield(pending))

    async def _ask(self, query: Query) -> list[Any]:
        self.queries += 1
        ttl: float | None = NEGATIVE_TTL
        try:
            answer = await self.dns.resolve(
                query.name + ".", query.rdtype, search=False, raise_on_no_answer=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN):
            # No such name, or every server failed (SERVFAIL, REFUSED, garbage).
            self.failures += 1
            records = []
        except dns.exception.Timeout:
            self.failures += 1
            records, ttl = [], None  # not cached: the next request asks again
        except dns.exception.DNSException:
            self.failures += 1
            records = []
        else:
            records = _records(answer.rrset)
            if answer.rrset is not None:
                ttl = float(answer.rrset.ttl)
        if ttl is not None:
            self._store(query, records, ttl)
        return records

    def _store(self, query: Query, records: list[Any], ttl: float) -> None:
        cache = self._cache
        cache[query] = (self.clock() + ttl, records)
        cache.move_to_end(query)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)


class _CountingRandom:
    """The resolver's random source, counting the draws one resolution makes."""

    def __init__(self, source: random.Random) -> None:
        self.source = source
        self.draws = 0

    def randint(self, a: int, b: int) -> int:
        self.draws += 1
        return self.source.randint(a, b)


def _records(rrset: Any) -> list[Any]:
    """dnspython rdata as the plain records of :mod:`rfc3261.locate`."""
    if rrset is None:
        return []
    kind = rrset.rdtype
    if kind == dns.rdatatype.NAPTR:
        return [
            Naptr(
                r.order,
                r.preference,
                r.flags.decode("ascii", "replace"),
                r.service.decode("ascii", "replace"),
                r.regexp.decode("ascii", "replace"),
                r.replacement.to_text(omit_final_dot=True),
            )
            for r in rrset
        ]
    if kind == dns.rdatatype.SRV:
        return [
            Srv(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True)) for r in rrset
        ]
    if kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return [r.address for r in rrset]
    return []  # a CNAME chain dnspython did not follow, or anything unexpected


def _literal(destination: Any) -> list[Address] | None:
    """The one target of an Address, a Source or an IP-literal destination; else None."""
    if isinstance(destination, Address):
        return [destination]
    if isinstance(destination, Source):
        return [destination.remote]
    uri = getattr(destination, "uri", None)
    if isinstance(uri, SipURI):  # a next hop that carries its URI: resolve that
        return None
    try:
        return [resolve_destination(destination)]
    except ValueError:
        return None


def _uri_of(destination: Any) -> SipURI:
    """The SIP(S) URI RFC 3263 is applied to for ``destination``."""
    if isinstance(destination, SipURI):
        return destination
    if isinstance(destination, str):
        uri = parse_uri(destination)
        if not isinstance(uri, SipURI):
            raise ValueError(f"{destination!r} is not a SIP or SIPS URI")
        return uri
    uri = getattr(destination, "uri", None)
    if isinstance(uri, SipURI):
        return uri
    host = getattr(destination, "host", None)
    if not isinstance(host, str):
        raise ValueError(f"{destination!r}: nothing to resolve")
    # A next hop without its URI: the temporary URI of RFC 3263 §4 ("sip:<proxy>").
    transport = str(getattr(destination, "transport", "") or "")
    port = getattr(destination, "port", None)
    scheme = "sips" if transport.upper() == "TLS" else "sip"
    text = f"{scheme}:{host}" + (f":{port}" if port else "")
    if transport and transport.upper() != "TLS":
        text += f";transport={transport.lower()}"
    return parse_uri(text)  # type: ignore[return-value]


def _addresses(uri: SipURI, targets: list[Target]) -> list[Address]:
    if not targets:
        raise ValueError(f"{uri}: no server found in DNS (RFC 3263)")
    return [Address(t.transport, t.host, t.port or default_port(t.transport)) for t in targets]
