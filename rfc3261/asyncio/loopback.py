"""Loopback helpers shared by the tests, the benchmarks and the conformance runner.

Every network test of the project runs on 127.0.0.1 only; programs under test
listen on UDP and TCP on the same port (§18.2.1), so a port is taken only when
both are free.
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_port"]


def free_port(low: int | None = None) -> int:
    """A port free for both UDP and TCP on 127.0.0.1.

    ``low``: pick from ``low``..9999 instead of the kernel's ephemeral range (sipsak
    keeps only four digits of a port in its Request-URI).
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", 0 if low is None else random.randrange(low, 10000)))
            except OSError:
                continue
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no port free for both UDP and TCP on 127.0.0.1")
