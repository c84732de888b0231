"""Where a request goes: the resolver seam (RFC 3261 §8.1.2, §16.6 step 7, §18.1.1).

Theory of operation
-------------------
A core names where a request goes as a SIP or SIPS URI, or a next hop
(transport, host, port or None).  A :class:`Resolver` turns that into an
ordered list of :class:`~rfc3261.asyncio.transport.Address` targets (transport, IP
literal, port): the order in which to try them, the next one when sending to
the one before fails.  That is the shape of RFC 3263 §4: NAPTR, then SRV
records sorted by priority and weight, then A/AAAA records, each a target.

The default, :class:`IpLiteralResolver`, takes a numeric host only and
answers with exactly one target (the transport from ``sips:`` or the
``transport`` parameter, the port given or the transport's default): no DNS.
RFC 3263 over DNS is :class:`rfc3261.asyncio.dns.DnsResolver`, handed to the
dispatcher (``resolver=``) like any other implementation of :class:`Resolver`.

A resolver may also offer ``resolve_now(destination)``, an answer known
without waiting (an IP literal, a cache hit) or None; the dispatcher uses it
to send at once instead of scheduling a task.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..transports import default_port, transport_for_uri
from ..uri import SipURI, parse_uri
from .transport import Address, Source, is_ip_address, unbracketed

__all__ = [
    "IpLiteralResolver",
    "Resolver",
    "address_for_uri",
    "resolve_destination",
]


@runtime_checkable
class Resolver(Protocol):
    """Turns a request's destination into the ordered targets to try (RFC 3263 §4)."""

    async def resolve(self, destination: Any) -> list[Address]:
        """Targets for ``destination`` (SIP/SIPS URI, its text, a next hop, an Address).

        Best first; raises ValueError when there is none.
        """
        ...


def address_for_uri(uri: SipURI | str) -> Address:
    """The transport address a SIP(S) URI with an IP address host names (RFC 3263 §4 without DNS).

    sips: means TLS; otherwise the ``transport`` parameter, UDP by default.
    ``maddr`` replaces the host.  Raises ValueError for a domain name.
    """
    if isinstance(uri, str):
        parsed = parse_uri(uri)
        if not isinstance(parsed, SipURI):
            raise ValueError(f"{uri!r} is not a SIP or SIPS URI")
        uri = parsed
    transport = transport_for_uri(uri.scheme, uri.transport)
    host = uri.maddr or uri.host
    if not is_ip_address(host):
        raise ValueError(f"{host!r} is not an IP address; name resolution (RFC 3263) is not done")
    return Address(transport, unbracketed(host), uri.port or default_port(transport))


def resolve_destination(destination: Any) -> Address:
    """An :class:`Address` for a request's destination: Address, Source, SIP URI or next hop.

    A next hop is anything with ``transport``, ``host`` and ``port`` (None:
    the transport's default).  Names are not resolved (RFC 3263): ValueError.
    """
    if isinstance(destination, Address):
        return destination
    if isinstance(destination, Source):
        return destination.remote
    if isinstance(destination, SipURI | str):
        return address_for_uri(destination)
    transport = str(getattr(destination, "transport", "") or "UDP").upper()
    host = getattr(destination, "host", None)
    if not isinstance(host, str) or not is_ip_address(host):
        raise ValueError(
            f"{destination!r}: no IP address to send to; name resolution (RFC 3263) is not done"
        )
    port = getattr(destination, "port", None)
    return Address(transport, unbracketed(host), port or default_port(transport))


class IpLiteralResolver:
    """The default resolver: numeric hosts only, one target (:func:`resolve_destination`)."""

    async def resolve(self, destination: Any) -> list[Address]:
        return [resolve_destination(destination)]

    def resolve_now(self, destination: Any) -> list[Address]:
        """The same answer without awaiting: nothing here waits."""
        return [resolve_destination(destination)]
