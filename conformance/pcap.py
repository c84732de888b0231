"""A pcap writer (and reader, for tests): the ladder as packets Wireshark and sngrep open.

Classic libpcap format (magic 0xa1b2c3d4, microsecond timestamps) with LINKTYPE_RAW (101):
each record is an IPv4 (or IPv6) packet synthesized around the SIP message, with a UDP
header for UDP and a TCP segment (PSH|ACK, running sequence numbers per direction, no
handshake) for TCP and TLS.  TLS messages are written as the plaintext SIP they carried, on
the TLS port, so a dissector told "SIP on this port" decodes them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from pathlib import Path

from conformance.wire import Event

__all__ = ["LINKTYPE_RAW", "read_pcap", "write_pcap"]

LINKTYPE_RAW = 101
_MAX = 65535 - 60


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packet(event: Event, seq: dict[tuple[tuple[str, int], tuple[str, int]], int]) -> bytes:
    src, dst = ipaddress.ip_address(event.src[0]), ipaddress.ip_address(event.dst[0])
    payload = event.data[:_MAX]
    if event.transport == "udp":
        proto = 17
        length = 8 + len(payload)
        transport = struct.pack("!HHHH", event.src[1], event.dst[1], length, 0)
    else:
        proto = 6
        key = (event.src, event.dst)
        number = seq.get(key, 1)
        seq[key] = (number + len(payload)) & 0xFFFFFFFF
        ack = seq.get((event.dst, event.src), 1)
        transport = struct.pack(
            "!HHIIBBHHH", event.src[1], event.dst[1], number, ack, 5 << 4, 0x18, 65535, 0, 0
        )
    segment = transport + payload
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, proto, len(segment))
        check = _checksum(pseudo + segment) or 0xFFFF
        offset = 6 if proto == 17 else 16
        segment = segment[:offset] + struct.pack("!H", check) + segment[offset + 2 :]
        header = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(segment),
            0,
            0x4000,
            64,
            proto,
            0,
            src.packed,
            dst.packed,
        )
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        return header + segment
    pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(segment), proto)
    check = _checksum(pseudo + segment) or 0xFFFF
    offset = 6 if proto == 17 else 16
    segment = segment[:offset] + struct.pack("!H", check) + segment[offset + 2 :]
    header = struct.pack("!IHBB16s16s", 6 << 28, len(segment), proto, 64, src.packed, dst.packed)
    return header + segment


def write_pcap(path: Path, events: Iterable[Event]) -> int:
    """Write the sent/received events to ``path``; the number of packets written."""
    seq: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
    count = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        for event in sorted(
            (e for e in events if e.direction in ("sent", "received") and e.data),
            key=lambda e: e.wall,
        ):
            packet = _packet(event, seq)
            seconds = int(event.wall)
            micros = round((event.wall - seconds) * 1_000_000)
            if micros >= 1_000_000:
                seconds, micros = seconds + 1, micros - 1_000_000
            out.write(struct.pack("<IIII", seconds, micros, len(packet), len(packet)))
            out.write(packet)
            count += 1
    return count


def read_pcap(path: Path) -> list[tuple[float, str, tuple[str, int], tuple[str, int], bytes]]:
    """(time, "udp"|"tcp", src, dst, payload) per record of a pcap written by `write_pcap`."""
    data = Path(path).read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or linktype != LINKTYPE_RAW:
        raise ValueError("not a LINKTYPE_RAW pcap with microsecond timestamps")
    out = []
    pos = 24
    while pos < len(data):
        seconds, micros, caplen, _ = struct.unpack("<IIII", data[pos : pos + 16])
        packet = data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen
        if packet[0] >> 4 == 4:
            ihl = (packet[0] & 15) * 4
            proto = packet[9]
            src, dst = (
                str(ipaddress.IPv4Address(packet[12:16])),
                str(ipaddress.IPv4Address(packet[16:20])),
            )
            if _checksum(packet[:ihl]) != 0:
                raise ValueError("bad IPv4 header checksum")
            rest = packet[ihl:]
        else:
            proto = packet[6]
            src, dst = (
                str(ipaddress.IPv6Address(packet[8:24])),
                str(ipaddress.IPv6Address(packet[24:40])),
            )
            rest = packet[40:]
        sport, dport = struct.unpack("!HH", rest[:4])
        if proto == 17:
            payload, kind = rest[8:], "udp"
        else:
            payload, kind = rest[(rest[12] >> 4) * 4 :], "tcp"
        out.append((seconds + micros / 1e6, kind, (src, sport), (dst, dport), payload))
    return out
