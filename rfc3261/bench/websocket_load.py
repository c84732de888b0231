"""SIP over WebSocket (RFC 7118) at the proxy program: idle connections held, REGISTER/s.

Measurements, all against ``python -m rfc3261 proxy`` listening on UDP and WS on
loopback (``-q``: no wire log; ``--max-connections`` above the connection count):

- **idle connections**: N WebSocket clients (10,000; 200 with ``--quick``) open a
  connection each, complete the ``sip`` handshake and stay silent; the proxy's
  RSS (``/proc/PID/status`` VmRSS) before and after, divided by N, is the memory
  held per connection, and N over the time until the last handshake completed
  is the accept rate (handshakes run 500 at a time);
- **REGISTER/s over WS vs UDP**: the same client process sends REGISTERs for
  distinct users, 64 in flight, over 64 WebSocket connections, then over one
  UDP socket, in the same run; each rate is requests answered 200 per second.

The clients are raw asyncio sockets with a hand-written handshake and frames
serialized by :mod:`websockets` (light enough that 10,000 of them fit in the
measuring process), so the figures are the server's.  ``floors_passed`` holds
the run to the issue's target: under 20 KB of RSS per idle connection.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NAME = "websocket_load"
TARGET_BYTES_PER_CONNECTION = 20 * 1024
REPO = Path(__file__).resolve().parents[2]
_PORTS = re.compile(r"(UDP|TCP|WS) \S+:(\d+)")


def _rss(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _start_proxy(workdir: Path, connections: int) -> tuple[subprocess.Popen[str], dict[str, int]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [
            sys.executable, "-m", "rfc3261", "proxy",
            "--listen", "sip:127.0.0.1:0", "--listen", "sip:127.0.0.1:0;transport=ws",
            "--domain", "127.0.0.1", "--db", str(workdir / "location.db"), "--sync", "OFF",
            "--max-connections", str(connections + 200), "--buffer", "4194304", "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=workdir,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on"):
        process.kill()
        raise RuntimeError(f"the proxy did not start: {line!r}")
    return process, {t: int(p) for t, p in _PORTS.findall(line)}


async def _open_ws(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: sip\r\n\r\n"
    )
    answer = await reader.readuntil(b"\r\n\r\n")
    if not answer.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {answer[:40]!r}")
    return reader, writer


def _frame(data: bytes) -> bytes:
    from websockets.frames import Frame, Opcode

    return Frame(Opcode.TEXT, data).serialize(mask=True, extensions=[])


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(length)


def _register(user: str, via: str, seq: int) -> bytes:
    return (
        f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{via};branch=z9hG4bK{seq:x}"
        f"{secrets.token_hex(3)};rport\r\nMax-Forwards: 70\r\nTo: <sip:{user}@127.0.0.1>\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={seq}\r\nCall-ID: {user}-{seq}\r\n"
        f"CSeq: {seq} REGISTER\r\nContact: <sip:{user}@h.invalid;transport=ws>\r\n"
        "Expires: 600\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def _idle_connections(pid: int, port: int, count: int, settle: float) -> dict[str, Any]:
    before = _rss(pid)
    held: list[asyncio.StreamWriter] = []
    started = time.perf_counter()
    for first in range(0, count, 500):
        batch = await asyncio.gather(
            *(_open_ws(port) for _ in range(first, min(count, first + 500)))
        )
        held.extend(writer for _, writer in batch)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(settle)  # let the server settle (buffers, sweep)
    after = _rss(pid)
    for writer in held:
        writer.close()
    return {
        "connections": count,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "bytes_per_connection": round((after - before) / count),
        "accept_per_second": round(count / elapsed),
    }


async def _registers_ws(port: int, total: int, window: int) -> float:
    peers = [await _open_ws(port) for _ in range(window)]

    async def worker(index: int, reader: Any, writer: Any) -> int:
        done = 0
        for seq in range(index, total, window):
            writer.write(_frame(_register(f"ws{seq}", "WS w.invalid", seq)))
            while True:
                answer = await _read_frame(reader)
                if answer.startswith(b"SIP/2.0 200"):
                    done += 1
                    break
                if not answer.startswith(b"SIP/2.0 1"):
                    break
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(
        *(worker(i, reader, writer) for i, (reader, writer) in enumerate(peers))
    )
    elapsed = time.perf_counter() - started
    for _, writer in peers:
        writer.close()
    return sum(counts) / elapsed


async def _registers_udp(port: int, total: int, window: int) -> float:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    local = sock.getsockname()[1]
    answered = 0
    sent = 0
    started = time.perf_counter()
    for seq in range(min(window, total)):
        sock.sendto(_register(f"udp{seq}", f"UDP 127.0.0.1:{local}", seq), ("127.0.0.1", port))
        sent += 1
    while answered < total:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
        except TimeoutError:
            break  # a lost datagram: count what was answered
        if data.startswith(b"SIP/2.0 200"):
            answered += 1
            if sent < total:
                message = _register(f"udp{sent}", f"UDP 127.0.0.1:{local}", sent)
                sock.sendto(message, ("127.0.0.1", port))
                sent += 1
    elapsed = time.perf_counter() - started
    sock.close()
    return answered / elapsed


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    connections = 200 if quick else 10_000
    registers = 300 if quick else 20_000
    _raise_fd_limit(connections + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        process, ports = _start_proxy(Path(tmp), connections)
        try:

            async def measure() -> dict[str, Any]:
                settle = 0.2 if quick else 1.0
                idle = await _idle_connections(process.pid, ports["WS"], connections, settle)
                await asyncio.sleep(settle)
                ws = await _registers_ws(ports["WS"], registers, 64)
                udp = await _registers_udp(ports["UDP"], registers, 64)
                return {
                    "idle": idle,
                    "register": {
                        "requests": registers,
                        "in_flight": 64,
                        "ws_per_second": round(ws),
                        "udp_per_second": round(udp),
                    },
                }

            figures = asyncio.run(measure())
        finally:
            process.terminate()
            process.wait(10)
    return {
        "name": NAME,
        "machine": machine_info(),
        **figures,
        "target_bytes_per_connection": TARGET_BYTES_PER_CONNECTION,
    }


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """True when an idle WebSocket connection holds under the target RSS."""
    return doc["idle"]["bytes_per_connection"] < TARGET_BYTES_PER_CONNECTION


def render(doc: dict[str, Any]) -> str:
    idle, register = doc["idle"], doc["register"]
    return "\n".join(
        [
            f"{NAME}: SIP over WebSocket at the proxy program",
            f"  {idle['connections']} idle connections: {idle['bytes_per_connection']} B RSS each"
            f" (target < {doc['target_bytes_per_connection']}),"
            f" {idle['accept_per_second']} handshakes/s",
            f"  REGISTER/s ({register['in_flight']} in flight): WS {register['ws_per_second']},"
            f" UDP {register['udp_per_second']}",
        ]
    )
