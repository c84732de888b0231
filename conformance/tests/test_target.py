"""Targets: URI and short forms, loopback only."""

from __future__ import annotations

import pytest

from conformance.target import TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "host", "port", "transport", "scheme"),
    [
        ("sip:127.0.0.1:5070", "127.0.0.1", 5070, "udp", "sip"),
        ("sip:127.0.0.1:5070;transport=tcp", "127.0.0.1", 5070, "tcp", "sip"),
        ("sips:127.0.0.1", "127.0.0.1", 5061, "tls", "sips"),
        ("tcp:127.0.0.1:5080", "127.0.0.1", 5080, "tcp", "sip"),
        ("udp:localhost:5080", "127.0.0.1", 5080, "udp", "sip"),
        ("sip:[::1]:5070", "[::1]", 5070, "udp", "sip"),
    ],
)
def test_forms(text: str, host: str, port: int, transport: str, scheme: str) -> None:
    target = parse_target(text)
    assert (target.host, target.port, target.transport, target.scheme) == (
        host,
        port,
        transport,
        scheme,
    )


def test_transport_option_overrides() -> None:
    assert parse_target("sip:127.0.0.1:5070", "tcp").transport == "tcp"


@pytest.mark.parametrize("text", ["sip:192.0.2.1:5060", "udp:example.com:5060"])
def test_remote_refused(text: str) -> None:
    with pytest.raises(TargetError, match="loopback"):
        parse_target(text)
    assert parse_target(text, allow_remote=True).port == 5060


@pytest.mark.parametrize("text", ["http://127.0.0.1", "sctp:127.0.0.1:5060", "127.0.0.1"])
def test_malformed(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)
