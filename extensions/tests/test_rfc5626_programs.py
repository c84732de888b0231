"""RFC 5626 outbound end to end with the programs, on loopback.

Bob's UA is a TCP socket of the test (the UA side of RFC 5626 is another module): it
registers a flow through the edge (``proxy --edge``) at the registrar (``registrar
--outbound``) with a Contact nobody can connect to (``bob.invalid``).  Alice calls
through the home proxy (``proxy --no-registrar --outbound``, sharing the location
database): the INVITE must come to Bob over his connection.  When that connection is
gone, the next call gets 430 (Flow Failed).  The edge and the registrar answer STUN
Binding requests on their UDP ports, and a CRLF ping on the connection with a pong.
"""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

from rfc3261.message import Request, Response
from rfc3261.stun import binding_request, parse_binding_response
from rfc3261.tests.test_programs_servers import Client, ServerProcess

INSTANCE = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
OB_PARAMS = f"+sip.instance={INSTANCE};reg-id=1"


def start(tmp_path: Path) -> tuple[ServerProcess, ServerProcess, ServerProcess]:
    db = str(tmp_path / "location.db")
    started: list[ServerProcess] = []
    try:
        registrar = ServerProcess(
            "registrar", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            "--outbound", "--flow-timer", "25", cwd=tmp_path,
        )  # fmt: skip
        started.append(registrar)
        home = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            "--no-registrar", "--outbound", cwd=tmp_path,
        )  # fmt: skip
        started.append(home)
        config = tmp_path / "edge.toml"
        config.write_text(
            f'[[route]]\ndomain = "example.com"\nnext-hop = "sip:127.0.0.1:{registrar.port}"\n'
        )
        edge = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--config", str(config), "--edge", "-v",
            cwd=tmp_path,
        )  # fmt: skip
        started.append(edge)
    except BaseException:
        for server in started:
            server.stop()
        raise
    return registrar, home, edge


def register_flow(bob: Client, edge_port: int) -> Response:
    request = bob.request(
        "REGISTER",
        "sip:example.com",
        [
            ("Route", f"<sip:127.0.0.1:{edge_port};transport=tcp;lr>"),
            ("To", "<sip:bob@example.com>"),
            ("Contact", f"<sip:bob@bob.invalid;transport=tcp;ob>;{OB_PARAMS}"),
            ("Supported", "path, outbound"),
            ("Expires", "600"),
        ],
    )  # fmt: skip
    request.headers.set("From", f"<sip:bob@example.com>;tag={secrets.token_hex(4)}")
    bob.send(request, ("127.0.0.1", edge_port))
    return bob.final()


def call(alice: Client, home_port: int) -> Response:
    request = alice.request(
        "INVITE", "sip:bob@example.com",
        [("To", "<sip:bob@example.com>"), ("Contact", f"<sip:alice@127.0.0.1:{alice.port}>")],
    )  # fmt: skip
    alice.send(request, ("127.0.0.1", home_port))
    return alice.final(timeout=10)


def stun_ping(port: int) -> tuple[str, int, int]:
    """A STUN Binding request to our UDP ``port``; (mapped host, mapped port, our port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        request = binding_request()
        sock.sendto(request, ("127.0.0.1", port))
        data, _ = sock.recvfrom(2048)
        parsed = parse_binding_response(data)
        assert parsed is not None and parsed[0] == request[8:20]
        return parsed[1], parsed[2], sock.getsockname()[1]


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% If a server compliant to this section receives SIP requests on a
##% given interface and UDP port, it MUST also provide a limited version
##% of a STUN server on the same interface and UDP port.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% All edge proxies compliant with this specification MUST implement
##% support for STUN NAT keep-alives on their SIP UDP ports as described
##% in Section 8.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% To be compliant with this specification, registrars that can receive
##% SIP requests directly from a UAC without intervening edge proxies
##% MUST implement the same keep-alive mechanisms as edge proxies
##% (Section 5.4).
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If the flow no longer exists, the proxy SHOULD
##% send a 430 (Flow Failed) response to the request.
def test_a_flow_registered_through_the_edge_carries_calls_until_it_closes(tmp_path: Path) -> None:
    registrar, home, edge = start(tmp_path)
    bob = Client("TCP", ("127.0.0.1", edge.ports["TCP"]))
    alice = Client()
    try:
        # STUN keep-alives on the SIP UDP ports of the edge and of the registrar.
        for port in (edge.port, registrar.port):
            host, mapped, ours = stun_ping(port)
            assert (host, mapped) == ("127.0.0.1", ours)
        ok = register_flow(bob, edge.ports["TCP"])
        assert ok.status == 200, ok
        assert [t.lower() for t in ok.header("Require")] == ["outbound"]
        [path] = ok.headers.get_all("Path")
        assert ";ob" in path and "@127.0.0.1:" in path  # the flow token, in the user part
        assert ok.headers.get("Flow-Timer") is None  # the registrar was not the first hop
        # CRLF keep-alive on the flow (§4.4.1, §5.4).
        bob.sock.sendall(b"\r\n\r\n")
        assert bob.sock.recv(16) == b"\r\n"

        request = alice.request(
            "INVITE", "sip:bob@example.com",
            [("To", "<sip:bob@example.com>"), ("Contact", f"<sip:alice@127.0.0.1:{alice.port}>")],
        )  # fmt: skip
        alice.send(request, ("127.0.0.1", home.port))
        incoming = bob.receive(timeout=10)
        assert isinstance(incoming, Request) and incoming.method == "INVITE"
        assert str(incoming.uri) == "sip:bob@bob.invalid;transport=tcp;ob"
        bob.send(incoming.make_response(486, to_tag="b0b"), ("127.0.0.1", edge.ports["TCP"]))
        assert alice.final(timeout=10).status == 486

        bob.close()  # the flow is gone
        time.sleep(0.3)
        assert call(alice, home.port).status == 430
    finally:
        alice.close()
        logs = edge.log_text()
        for server in (edge, home, registrar):
            server.stop()
    assert "INVITE sip:bob@bob.invalid" in logs


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy is co-located with the registrar and stored information
##% about the flow to the UA that created the binding, then the proxy
##% MUST send the request over the same 'logical flow' saved with the
##% binding, since that flow is known to deliver data to the specific
##% target UA instance's network flow that was saved with the binding.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Registrars with a direct flow with a UA MAY include a
##% Flow-Timer header in a 2xx class registration response that includes
##% the outbound option-tag in the Require header.
def test_a_flow_registered_directly_at_the_proxy_carries_calls(tmp_path: Path) -> None:
    proxy = ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com",
        "--db", str(tmp_path / "location.db"), "--outbound", "--flow-timer", "20", cwd=tmp_path,
    )  # fmt: skip
    bob = Client("TCP", ("127.0.0.1", proxy.ports["TCP"]))
    alice = Client()
    try:
        # Binary garbage on the SIP UDP port (a bad STUN message, a lone byte) is
        # dropped; STUN still works after it.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
            for data in (b"\x00", b"\x01\x01" + bytes(18), binding_request()[:-2], b"\x00" * 600):
                junk.sendto(data, ("127.0.0.1", proxy.port))
        host, mapped, ours = stun_ping(proxy.port)
        assert (host, mapped) == ("127.0.0.1", ours)
        ok = register_flow(bob, proxy.ports["TCP"])
        assert ok.status == 200, ok
        assert [t.lower() for t in ok.header("Require")] == ["outbound"]
        assert ok.headers.get("Flow-Timer") == "20"  # a direct flow
        assert ok.headers.get_all("Path") == []
        request = alice.request(
            "INVITE", "sip:bob@example.com",
            [("To", "<sip:bob@example.com>"), ("Contact", f"<sip:alice@127.0.0.1:{alice.port}>")],
        )  # fmt: skip
        alice.send(request, ("127.0.0.1", proxy.port))
        incoming = bob.receive(timeout=10)
        assert isinstance(incoming, Request) and incoming.method == "INVITE"
        assert str(incoming.uri) == "sip:bob@bob.invalid;transport=tcp;ob"
        bob.send(incoming.make_response(486, to_tag="b0b"), ("127.0.0.1", proxy.ports["TCP"]))
        assert alice.final(timeout=10).status == 486
        bob.close()
        time.sleep(0.3)
        # The only flow is gone: no target is left (§7), the call is not deliverable.
        assert call(alice, proxy.port).status == 480
    finally:
        alice.close()
        proxy.stop()
