"""The limited STUN server of RFC 5626 §8, and its client messages, sans-I/O.

RFC 5626 §8 changes the SIP transport layer: STUN Binding requests (RFC 5389) may
arrive on the UDP port SIP listens on, mixed with SIP messages, as keep-alives of a
flow; the server answers each with a Binding success response carrying
XOR-MAPPED-ADDRESS, the address and port the request came from as the server saw
them (so a client notices when a NAT changed its mapping).  Nothing else of STUN is
needed: no attributes in the request, no authentication, no other methods.

A STUN message is told from a SIP message by its first octet: 0 or 1 (the two top
bits of every STUN message are zero), which no SIP message starts with.

The encoding (RFC 5389 §6, §15.2): a 20-octet header -- message type (Binding
request 0x0001, success response 0x0101), length of the attributes, the magic cookie
0x2112A442, a 96-bit transaction ID -- then attributes as type, length, value padded
to 4 octets.  XOR-MAPPED-ADDRESS (0x0020) holds the family, the port XOR the cookie's
top 16 bits, and the address XOR the cookie (IPv4) or the cookie and the
transaction ID (IPv6).
"""

from __future__ import annotations

import ipaddress
import secrets
import struct

__all__ = [
    "BINDING_REQUEST",
    "BINDING_SUCCESS",
    "MAGIC_COOKIE",
    "binding_request",
    "binding_response",
    "is_stun",
    "parse_binding_response",
]

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
MAGIC_COOKIE = 0x2112A442
XOR_MAPPED_ADDRESS = 0x0020
_HEADER = struct.Struct("!HHI12s")


def is_stun(data: bytes) -> bool:
    """Whether a datagram is a STUN message (not SIP): first octet 0 or 1, a whole
    header, the magic cookie, and a length that is a multiple of 4 matching the rest."""
    if len(data) < 20 or data[0] > 1:
        return False
    _, length, cookie, _ = _HEADER.unpack_from(data)
    return cookie == MAGIC_COOKIE and length % 4 == 0 and length == len(data) - 20


def binding_request(transaction_id: bytes | None = None) -> bytes:
    """A Binding request without attributes (what a keep-alive needs)."""
    tid = transaction_id if transaction_id is not None else secrets.token_bytes(12)
    if len(tid) != 12:
        raise ValueError("a STUN transaction ID has 96 bits")
    return _HEADER.pack(BINDING_REQUEST, 0, MAGIC_COOKIE, tid)


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##% The UAS, proxy, or
##% registrar responds to a valid Binding Request with a Binding Response
##% that MUST include the XOR-MAPPED-ADDRESS attribute.
def binding_response(request: bytes, host: str, port: int) -> bytes | None:
    """The Binding success response to ``request`` received from ``host``:``port``,
    or None when ``request`` is not a valid Binding request (it is then dropped)."""
    if not is_stun(request):
        return None
    kind, _, _, tid = _HEADER.unpack_from(request)
    if kind != BINDING_REQUEST:
        return None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    xport = port ^ (MAGIC_COOKIE >> 16)
    if address.version == 4:
        mask = MAGIC_COOKIE.to_bytes(4, "big")
        family = 0x01
    else:
        mask = MAGIC_COOKIE.to_bytes(4, "big") + tid
        family = 0x02
    xaddr = bytes(a ^ b for a, b in zip(address.packed, mask, strict=True))
    value = struct.pack("!BBH", 0, family, xport) + xaddr
    attribute = struct.pack("!HH", XOR_MAPPED_ADDRESS, len(value)) + value
    return _HEADER.pack(BINDING_SUCCESS, len(attribute), MAGIC_COOKIE, tid) + attribute


def parse_binding_response(data: bytes) -> tuple[bytes, str, int] | None:
    """(transaction ID, host, port) of a Binding success response's XOR-MAPPED-ADDRESS;
    None for anything else."""
    if not is_stun(data):
        return None
    kind, length, _, tid = _HEADER.unpack_from(data)
    if kind != BINDING_SUCCESS:
        return None
    offset = 20
    while offset + 4 <= 20 + length:
        attribute, size = struct.unpack_from("!HH", data, offset)
        value = data[offset + 4 : offset + 4 + size]
        if attribute == XOR_MAPPED_ADDRESS and len(value) in (8, 20):
            family, xport = value[1], struct.unpack_from("!H", value, 2)[0]
            mask = MAGIC_COOKIE.to_bytes(4, "big") + (tid if family == 0x02 else b"")
            if len(mask) != len(value) - 4:
                return None  # the family does not match the address length
            raw = bytes(a ^ b for a, b in zip(value[4:], mask, strict=True))
            return tid, str(ipaddress.ip_address(raw)), xport ^ (MAGIC_COOKIE >> 16)
        offset += 4 + size + (-size % 4)
    return None
