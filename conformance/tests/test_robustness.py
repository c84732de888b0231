"""Targets that reset, spew garbage or never frame a message do not crash or hang the runner."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from conformance.model import REGISTRY, Profile
from conformance.runner import NoAnswer, Runner, select_cases
from conformance.target import parse_target
from conformance.tests.support import run_cases  # noqa: F401  (registers the cases)


def _server(mode: str, stop: threading.Event, listener: socket.socket) -> None:
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            if mode == "reset":
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                continue
            conn.settimeout(0.2)
            try:
                conn.recv(65536)
                if mode == "garbage":
                    conn.sendall(b"\x00\x01garbage without any framing" * 4000)
                elif mode == "unframed":
                    conn.sendall(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n" + b"y" * 10)
                time.sleep(0.3)
            except OSError:
                pass


@pytest.fixture(params=["reset", "garbage", "unframed"])
def hostile_tcp(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    thread = threading.Thread(target=_server, args=(request.param, stop, listener), daemon=True)
    thread.start()
    yield request.param, listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def test_hostile_tcp_target_is_reported_not_fatal(hostile_tcp: tuple[str, int]) -> None:
    mode, port = hostile_tcp
    runner = Runner(parse_target(f"tcp:127.0.0.1:{port}"), "uas", Profile(), probe_timeout=1.0)
    began = time.monotonic()
    with pytest.raises(NoAnswer):
        runner.run(select_cases(REGISTRY.values(), "uas", "uas-options-final"))
    assert time.monotonic() - began < 5
    notes = " ".join(e.note for e in runner.probe_ladder.events)
    if mode == "garbage":  # (a reset may already fail the connect: nothing to record then)
        assert "closed" in notes or "failed" in notes or "framed" in notes


def test_run_case_never_raises_on_a_dead_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = Runner(parse_target(f"tcp:127.0.0.1:{port}"), "uas", Profile())
    result = runner.run_case(REGISTRY["uas-options-final"])
    assert result.verdict.value == "inconclusive" and "cannot reach" in result.reason
