"""The pcap writer: read back with our reader, and by tshark when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conformance.pcap import LINKTYPE_RAW, read_pcap, write_pcap
from conformance.wire import Event

INVITE = b"INVITE sip:a@127.0.0.1:5070 SIP/2.0\r\nContent-Length: 0\r\n\r\n"
OK = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def _events(transport: str) -> list[Event]:
    now = time.time()
    a, b = ("127.0.0.1", 40000), ("127.0.0.1", 5070)
    return [
        Event(0.0, "sent", transport, a, b, INVITE, wall=now),
        Event(0.0, "event", transport, a, b, b"", "connected", wall=now + 0.0001),
        Event(0.0, "received", transport, b, a, OK, wall=now + 0.25),
        Event(0.0, "sent", transport, a, b, INVITE, wall=now + 0.5),
    ]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_round_trip(tmp_path: Path, transport: str) -> None:
    path = tmp_path / "x.pcap"
    assert write_pcap(path, _events(transport)) == 3
    data = path.read_bytes()
    assert int.from_bytes(data[20:24], "little") == LINKTYPE_RAW
    records = read_pcap(path)
    assert [r[4] for r in records] == [INVITE, OK, INVITE]
    assert {r[1] for r in records} == {transport}
    assert records[0][2] == ("127.0.0.1", 40000) and records[1][2] == ("127.0.0.1", 5070)
    assert 0.2 < records[1][0] - records[0][0] < 0.3


def test_tcp_sequence_numbers_advance(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    write_pcap(path, _events("tcp"))
    data = path.read_bytes()
    seqs = []
    pos = 24
    while pos < len(data):
        length = int.from_bytes(data[pos + 8 : pos + 12], "little")
        packet = data[pos + 16 : pos + 16 + length]
        seqs.append(int.from_bytes(packet[24:28], "big"))
        pos += 16 + length
    assert seqs[2] == seqs[0] + len(INVITE)


def test_tshark_reads_it(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip(
            "tshark is not installed (Debian package tshark); the reader test covers the format"
        )
    path = tmp_path / "x.pcap"
    write_pcap(path, _events("udp"))
    out = subprocess.run(
        [tshark, "-r", str(path), "-d", "udp.port==5070,sip", "-T", "fields", "-e", "sip.Method"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split().count("INVITE") == 2
