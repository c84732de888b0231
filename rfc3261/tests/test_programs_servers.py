"""The registrar and proxy programs as real processes (``python -m rfc3261 registrar|proxy``).

A small client in this file (``rfc3261.parse`` and ``bytes`` over a UDP, TCP or
TLS socket) sends REGISTER, OPTIONS and INVITE and reads the answers.  The
programs are started on port 0 (they print ``listening on ...``) and stopped
with SIGTERM by their PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rfc3261 import Request, Response, parse
from rfc3261.programs import common
from rfc3261.programs.proxy import build_parser as proxy_parser
from rfc3261.programs.proxy import parse_routes
from rfc3261.programs.registrar import build_parser as registrar_parser

from .transport_support import has_ipv6_loopback, make_certificate, stop_process

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "example.com"
_LISTENING = re.compile(r"(UDP|TCP|TLS|WSS|WS) (\S+):(\d+)")


class ServerProcess:
    """``python -m rfc3261 PROGRAM ARGS`` in a subprocess; ports read from its first line."""

    def __init__(self, program: str, *args: str, cwd: Path) -> None:
        self.log_path = cwd / f"{program}-{secrets.token_hex(3)}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rfc3261", program, *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
            cwd=cwd,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on"):
            self.stop()
            raise AssertionError(f"{program} did not start: {line!r}\n{self.log_text()}")
        self.ports = {t: int(p) for t, _, p in _LISTENING.findall(line)}

    @property
    def port(self) -> int:
        return self.ports.get("UDP") or next(iter(self.ports.values()))

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then wait (kill after ``timeout``); the exit status."""
        status = stop_process(self.process, timeout)
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()
        return status


class Client:
    """A few SIP requests over a UDP (or TCP/TLS) socket on loopback."""

    def __init__(self, transport: str = "UDP", server: tuple[str, int] | None = None,
                 context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.transport = transport
        if transport == "UDP":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            assert server is not None
            raw = socket.create_connection(server, timeout=5)
            self.sock = context.wrap_socket(raw, server_hostname=server[0]) if context else raw
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def request(
        self,
        method: str,
        uri: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        call_id: str | None = None,
        cseq: int = 1,
    ) -> Request:
        transport = self.transport
        return Request(
            method,
            uri,
            [
                ("Via", f"SIP/2.0/{transport} 127.0.0.1:{self.port};branch=z9hG4bK"
                 f"{secrets.token_hex(6)};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:client@{DOMAIN}>;tag={secrets.token_hex(4)}"),
                ("Call-ID", call_id or secrets.token_hex(8)),
                ("CSeq", f"{cseq} {method}"),
                *headers,
                ("Content-Length", str(len(body))),
            ],
            body,
        )  # fmt: skip

    def send(self, message: Request | Response | bytes, to: tuple[str, int]) -> None:
        data = message if isinstance(message, bytes) else bytes(message)
        if self.transport == "UDP":
            self.sock.sendto(data, to)
        else:
            self.sock.sendall(data)

    def receive(self, timeout: float = 5) -> Request | Response:
        self.sock.settimeout(timeout)
        if self.transport == "UDP":
            data, _ = self.sock.recvfrom(65535)
            return parse(data)
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = parse(self.buffer[: end + 4])
                total = end + 4 + head.content_length
                if len(self.buffer) >= total:
                    message = parse(self.buffer[:total])
                    self.buffer = self.buffer[total:]
                    return message
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk

    def final(self, timeout: float = 5) -> Response:
        """The next final response (100 Trying and other provisional ones skipped)."""
        while True:
            message = self.receive(timeout)
            if isinstance(message, Response) and message.status >= 200:
                return message

    def register(self, port: int, user: str, contact: str | None, expires: int | None = None,
                 call_id: str | None = None, cseq: int = 1) -> Response:  # fmt: skip
        headers = [("To", f"<sip:{user}@{DOMAIN}>")]
        if contact is not None:
            headers.append(("Contact", contact))
        if expires is not None:
            headers.append(("Expires", str(expires)))
        request = self.request("REGISTER", f"sip:{DOMAIN}", headers, call_id=call_id, cseq=cseq)
        request.headers.set("From", f"<sip:{user}@{DOMAIN}>;tag={secrets.token_hex(4)}")
        self.send(request, ("127.0.0.1", port))
        return self.final()


def contacts_of(response: Response) -> list[str]:
    return [str(c.uri) for c in response.contact]


# -- configuration ---------------------------------------------------------------------------


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "registrar.toml"
    config.write_text(
        'listen = ["sip:127.0.0.1:5070", "sip:127.0.0.1:5071;transport=tcp"]\n'
        'domain = "example.com"\nmin-expires = 5\ndb = "file.db"\n'
    )
    args = common.parse_args(registrar_parser(), ["--config", str(config), "--db", "other.db"])
    assert args.db == "other.db"  # the flag wins
    assert args.min_expires == 5 and args.domain == ["example.com"]
    assert [str(u) for u in args.listen_uris] == [
        "sip:127.0.0.1:5070",
        "sip:127.0.0.1:5071;transport=tcp",
    ]
    args = common.parse_args(
        registrar_parser(), ["--config", str(config), "--listen", "sip:[::1]:5072"]
    )
    assert args.listen == ["sip:[::1]:5072"]  # a list flag replaces the file's list


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        ("colour = 1\n", [], "unknown key 'colour'"),
        ("listen = [\n", [], "not valid TOML"),
        ("", ["--listen", "sips:127.0.0.1:5071"], "needs --cert and --key"),
        ("", ["--listen", "http://127.0.0.1/"], "use a sip: or sips: URI"),
        ("", ["--listen", "sip:127.0.0.1:5070;transport=sctp"], "transport must be"),
        ("", [], "at least one --listen"),
    ],
)
def test_bad_configuration_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, argv: list[str], message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        common.parse_args(registrar_parser(), ["--config", str(config), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_proxy_static_routes_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text(
        'listen = ["sip:127.0.0.1:0"]\nrecord-route = false\n'
        '[[route]]\ndomain = "Example.NET"\nnext-hop = "sip:127.0.0.1:5080;transport=tcp"\n'
    )
    args = common.parse_args(proxy_parser(), ["--config", str(config)], tables=("route",))
    assert args.record_route is False and args.registrar is True
    (route,) = parse_routes(args.config_tables["route"])
    assert route.domain == "example.net"
    assert (route.next_hop.transport, route.next_hop.host, route.next_hop.port) == (
        "TCP",
        "127.0.0.1",
        5080,
    )
    with pytest.raises(common.ConfigError, match="IP address"):
        parse_routes([{"domain": "x", "next-hop": "sip:proxy.example.net"}])


def test_wire_log_line_names_direction_transport_peer_and_first_line() -> None:
    assert (
        common._first_line(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n") == "OPTIONS sip:a SIP/2.0"
    )
    args = argparse.Namespace(log_file=None, verbose=0, quiet=True)
    common.setup_logging(args)
    assert common.WIRE_LOG.disabled
    common.WIRE_LOG.disabled = False


# -- the registrar program ---------------------------------------------------------------


@pytest.fixture
def registrar_db(tmp_path: Path) -> Path:
    return tmp_path / "location.db"


def start_registrar(tmp_path: Path, db: Path, *extra: str) -> ServerProcess:
    return ServerProcess(
        "registrar", "--listen", "sip:127.0.0.1:0", "--domain", DOMAIN, "--db", str(db),
        "--min-expires", "1", *extra, cwd=tmp_path,
    )  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% Registrations are soft state and expire unless refreshed, but can
##% also be explicitly removed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The response MUST contain
##% Contact header field values enumerating all current bindings.
def test_bindings_survive_a_restart_and_expire_on_time(tmp_path: Path, registrar_db: Path) -> None:
    server = start_registrar(tmp_path, registrar_db)
    client = Client()
    try:
        ok = client.register(server.port, "alice", "<sip:alice@127.0.0.1:5999>", 3600)
        assert ok.status == 200, ok
        ok = client.register(server.port, "bob", "<sip:bob@127.0.0.1:5998>", 2)
        assert ok.status == 200 and ok.contact[0].expires == 2, ok
    finally:
        assert server.stop() == 0  # clean shutdown on SIGTERM
    assert "<- UDP 127.0.0.1:" in server.log_text()  # the wire log
    assert "-> UDP 127.0.0.1:" in server.log_text()
    started = time.time()
    server = start_registrar(tmp_path, registrar_db)
    try:
        query = client.register(server.port, "alice", None)
        assert query.status == 200
        assert contacts_of(query) == ["sip:alice@127.0.0.1:5999"]
        assert 3590 <= query.contact[0].expires <= 3600
        query = client.register(server.port, "bob", None)
        assert contacts_of(query) == ["sip:bob@127.0.0.1:5998"]
        # Bob's binding was made with Expires: 2 before the restart.
        time.sleep(max(0.0, 2.3 - (time.time() - started)))
        query = client.register(server.port, "bob", None)
        assert query.status == 200 and contacts_of(query) == []
        time.sleep(0.3)
        # ... and the expiry timer has deleted it from the database.
        with sqlite3.connect(registrar_db) as db:
            rows = db.execute("SELECT aor FROM binding ORDER BY aor").fetchall()
        assert rows == [("sip:alice@example.com",)]
    finally:
        client.close()
        assert server.stop() == 0


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
@pytest.mark.parametrize(("program", "invite_status"), [("registrar", 405), ("proxy", 480)])
def test_bad_input_gets_400_and_the_server_stays_up(
    tmp_path: Path, registrar_db: Path, program: str, invite_status: int
) -> None:
    server = ServerProcess(
        program, "--listen", "sip:127.0.0.1:0", "--domain", DOMAIN, "--db", str(registrar_db),
        cwd=tmp_path,
    )  # fmt: skip
    client = Client()
    try:
        bad = client.request("REGISTER", f"sip:{DOMAIN}", [("To", f"<sip:x@{DOMAIN}>")])
        data = bytes(bad).replace(b"Max-Forwards: 70", b"Max-Forwards: seventy")
        client.send(data, ("127.0.0.1", server.port))
        answer = client.final()
        assert answer.status == 400 and "Max-Forwards" in answer.reason
        junks = (b"\x00\xff" * 50, b"INVITE\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n", b"", b"\r\n")
        for junk in junks:
            client.send(junk, ("127.0.0.1", server.port))
        # The registrar answers OPTIONS for its domain; the proxy answers for itself.
        target = f"sip:{DOMAIN}" if program == "registrar" else f"sip:127.0.0.1:{server.port}"
        options = client.request("OPTIONS", target, [("To", f"<{target}>")])
        client.send(options, ("127.0.0.1", server.port))
        answer = client.final()
        assert answer.status == 200
        if program == "registrar":
            assert "REGISTER" in answer.headers.get("Allow")
        # No binding for x: the registrar does not do INVITE (405), the proxy has
        # nowhere to send it (480).
        invite = client.request("INVITE", f"sip:x@{DOMAIN}", [("To", f"<sip:x@{DOMAIN}>")])
        client.send(invite, ("127.0.0.1", server.port))
        assert client.final().status == invite_status
        assert server.process.poll() is None
    finally:
        client.close()
        assert server.stop() == 0


def test_registrar_listens_on_tcp_and_tls(tmp_path: Path, registrar_db: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server = ServerProcess(
        "registrar", "--listen", "sip:127.0.0.1:0;transport=tcp", "--listen",
        "sips:127.0.0.1:0", "--cert", str(cert), "--key", str(key), "--domain", DOMAIN,
        "--db", str(registrar_db), cwd=tmp_path,
    )  # fmt: skip
    try:
        assert set(server.ports) == {"TCP", "TLS"}
        tcp = Client("TCP", ("127.0.0.1", server.ports["TCP"]))
        ok = tcp.register(server.ports["TCP"], "carol", "<sip:carol@127.0.0.1:5997>", 600)
        assert ok.status == 200 and contacts_of(ok) == ["sip:carol@127.0.0.1:5997"]
        tcp.close()
        context = ssl.create_default_context(cafile=str(cert))
        tls = Client("TLS", ("127.0.0.1", server.ports["TLS"]), context)
        query = tls.register(server.ports["TLS"], "carol", None)
        assert query.status == 200 and contacts_of(query) == ["sip:carol@127.0.0.1:5997"]
        tls.close()
    finally:
        assert server.stop() == 0
    assert "<- TLS 127.0.0.1:" in server.log_text()


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When the originating UAC receives the 401 (Unauthorized), it SHOULD,
##% if it is able, re-originate the request with the proper credentials.
def test_registrar_with_digest_authentication(tmp_path: Path, registrar_db: Path) -> None:
    from rfc3261.auth_client import AuthClient, StaticCredentials
    from rfc3261.digest_server import ha1_line

    ha1 = tmp_path / "ha1.txt"
    lines = [ha1_line("dave", DOMAIN, "secret", algorithm) for algorithm in ("SHA-256", "MD5")]
    ha1.write_text("\n".join(lines) + "\n")
    server = start_registrar(tmp_path, registrar_db, "--auth-file", str(ha1), "--realm", DOMAIN)
    client = Client()
    try:
        headers = [("To", f"<sip:dave@{DOMAIN}>"), ("Contact", "<sip:dave@127.0.0.1:5996>")]
        request = client.request("REGISTER", f"sip:{DOMAIN}", headers)
        request.headers.set("From", f"<sip:dave@{DOMAIN}>;tag=d1")
        client.send(request, ("127.0.0.1", server.port))
        challenge = client.final()
        assert challenge.status == 401
        assert f'realm="{DOMAIN}"' in challenge.headers.get("WWW-Authenticate")
        auth = AuthClient(StaticCredentials(default=("dave", "secret")))
        retry = auth.authorize(request, challenge, 0)
        assert retry is not None
        retry.headers.set("CSeq", "2 REGISTER")
        retry.headers.set("Via", f"SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bKdave2")
        client.send(retry, ("127.0.0.1", server.port))
        ok = client.final()
        assert ok.status == 200 and contacts_of(ok) == ["sip:dave@127.0.0.1:5996"]
        wrong = AuthClient(StaticCredentials(default=("dave", "wrong"))).authorize(
            request, challenge, 0
        )
        assert wrong is not None
        wrong.headers.set("CSeq", "3 REGISTER")
        wrong.headers.set("Via", f"SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bKdave3")
        client.send(wrong, ("127.0.0.1", server.port))
        assert client.final().status in (401, 403)
    finally:
        client.close()
        assert server.stop() == 0


# -- the proxy program ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.12
##= type=test
##% If it indicates this proxy, the proxy removes it
##% from the Route header field (this route node has been
##% reached).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If this proxy wishes to remain on the path of future requests in a
##% dialog created by this request (assuming the request creates a
##% dialog), it MUST insert a Record-Route header field value into the
##% copy before any existing Record-Route header field values, even if
##% a Route header field is already present.
def test_proxy_forwards_to_registered_contact_with_record_route(tmp_path: Path) -> None:
    proxy = ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--domain", DOMAIN,
        "--db", str(tmp_path / "p.db"), cwd=tmp_path,
    )  # fmt: skip
    alice, bob = Client(), Client()
    try:
        ok = bob.register(proxy.port, "bob", f"<sip:bob@127.0.0.1:{bob.port}>", 600)
        assert ok.status == 200
        invite = alice.request(
            "INVITE", f"sip:bob@{DOMAIN}",
            [("To", f"<sip:bob@{DOMAIN}>"), ("Contact", f"<sip:alice@127.0.0.1:{alice.port}>")],
        )  # fmt: skip
        alice.send(invite, ("127.0.0.1", proxy.port))
        forwarded = bob.receive()
        assert isinstance(forwarded, Request) and forwarded.method == "INVITE"
        assert str(forwarded.uri) == f"sip:bob@127.0.0.1:{bob.port}"
        assert forwarded.headers.get_all("Record-Route") == [f"<sip:127.0.0.1:{proxy.port};lr>"]
        assert len(forwarded.via) == 2 and forwarded.via[0].port == proxy.port
        answer = forwarded.make_response(200, to_tag="b0b")
        for value in forwarded.headers.get_all("Record-Route"):
            answer.headers.add("Record-Route", value)
        answer.headers.add("Contact", f"<sip:bob@127.0.0.1:{bob.port}>")
        bob.send(answer, ("127.0.0.1", proxy.port))
        ok = alice.final()
        assert ok.status == 200 and ok.headers.get_all("Record-Route") == [
            f"<sip:127.0.0.1:{proxy.port};lr>"
        ]
        assert len(ok.via) == 1
        # The BYE follows the route set: the proxy removes its own Route value (§16.12).
        bye = alice.request(
            "BYE", f"sip:bob@127.0.0.1:{bob.port}",
            [("To", f"<sip:bob@{DOMAIN}>;tag=b0b"), ("Route", f"<sip:127.0.0.1:{proxy.port};lr>")],
            call_id=invite.call_id, cseq=2,
        )  # fmt: skip
        alice.send(bye, ("127.0.0.1", proxy.port))
        forwarded = bob.receive()
        assert isinstance(forwarded, Request) and forwarded.method == "BYE"
        assert "Route" not in forwarded.headers
        assert str(forwarded.uri) == f"sip:bob@127.0.0.1:{bob.port}"
        bob.send(forwarded.make_response(200), ("127.0.0.1", proxy.port))
        assert alice.final().status == 200
        # An OPTIONS for the proxy itself is answered by the proxy.
        options = alice.request(
            "OPTIONS", f"sip:127.0.0.1:{proxy.port}", [("To", f"<sip:127.0.0.1:{proxy.port}>")]
        )
        alice.send(options, ("127.0.0.1", proxy.port))
        assert alice.final().status == 200
    finally:
        alice.close()
        bob.close()
        assert proxy.stop() == 0


def test_proxy_static_route_and_shared_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    registrar = start_registrar(tmp_path, db)
    upstream = Client()
    config = tmp_path / "proxy.toml"
    config.write_text(
        f'domain = "{DOMAIN}"\ndb = "{db}"\nregistrar = false\nrecord-route = false\n'
        f'[[route]]\ndomain = "example.net"\nnext-hop = "sip:127.0.0.1:{upstream.port}"\n'
    )
    proxy = ServerProcess("proxy", "--listen", "sip:127.0.0.1:0", "--config", str(config),
                          cwd=tmp_path)  # fmt: skip
    caller, callee = Client(), Client()
    try:
        ok = callee.register(registrar.port, "erin", f"<sip:erin@127.0.0.1:{callee.port}>", 600)
        assert ok.status == 200
        message = caller.request("MESSAGE", f"sip:erin@{DOMAIN}", [("To", f"<sip:erin@{DOMAIN}>")])
        caller.send(message, ("127.0.0.1", proxy.port))
        forwarded = callee.receive()
        assert isinstance(forwarded, Request) and forwarded.method == "MESSAGE"
        assert "Record-Route" not in forwarded.headers  # --no-record-route via the file
        message = caller.request(
            "MESSAGE", "sip:frank@example.net", [("To", "<sip:frank@example.net>")]
        )
        caller.send(message, ("127.0.0.1", proxy.port))
        routed = upstream.receive()
        assert isinstance(routed, Request) and str(routed.uri) == "sip:frank@example.net"
    finally:
        for client in (upstream, caller, callee):
            client.close()
        assert proxy.stop() == 0
        assert registrar.stop() == 0


# -- the benchmark module's logic ------------------------------------------------------------


def test_proxy_load_memory_and_floors() -> None:
    from rfc3261.bench import proxy_load

    memory = proxy_load.memory_per_transaction(50)
    # Each pending INVITE holds a server and a client transaction (and the 100 Trying's).
    assert memory["live_transactions"] >= 100
    assert 1_000 < memory["bytes_per_proxied_invite"] < 200_000
    step = {"rate": 3000, "exit_status": 0, "failed": 0}
    doc = {
        "proxy": {"ratio": 0.6},
        "register": {"best": step, "steps": [step]},
    }
    assert proxy_load.floors_passed(doc) is True
    doc["proxy"]["ratio"] = 0.4
    assert proxy_load.floors_passed(doc) is False
    assert (
        proxy_load.floors_passed({"proxy": {"skipped": "x"}, "register": {"skipped": "x"}}) is None
    )


def test_expiry_timer_deletes_bindings_at_most_recheck_late() -> None:
    import asyncio

    from rfc3261.location import Binding, SqliteLocationService
    from rfc3261.programs.registrar import ExpiryTimer
    from rfc3261.registrar import Registrar, RegistrarConfig

    async def scenario() -> list[int]:
        location = SqliteLocationService(":memory:")
        registrar = Registrar(location, RegistrarConfig(domains=frozenset({DOMAIN})))
        timer = ExpiryTimer(registrar)
        timer.RECHECK = 0.2

        def bind(user: str, seconds: float) -> None:
            aor, now = f"sip:{user}@{DOMAIN}", time.time()
            binding = Binding(aor, f"sip:{user}@127.0.0.1", now + seconds, "c", 1, None, None)
            location.update(aor, [binding], (), now)
            timer.schedule()

        bind("long", 3600)
        bind("short", 0.3)  # looked up again RECHECK later, not at once
        counts = [location.count(0)]
        await asyncio.sleep(0.7)
        counts.append(location.count(0))
        timer.stop()
        location.close()
        return counts

    assert asyncio.run(scenario()) == [2, 1]


def test_verbose_wire_log_and_sigint(tmp_path: Path, registrar_db: Path) -> None:
    log_file = tmp_path / "wire.log"
    server = start_registrar(tmp_path, registrar_db, "-v", "--log-file", str(log_file))
    client = Client()
    try:
        options = client.request("OPTIONS", f"sip:{DOMAIN}", [("To", f"<sip:{DOMAIN}>")])
        client.send(options, ("127.0.0.1", server.port))
        assert client.final().status == 200
    finally:
        client.close()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=10) == 0  # SIGINT stops it cleanly too
        server.stop()
    text = log_file.read_text()
    peer = f"127.0.0.1:{client.port}"
    assert f"<- UDP {peer} OPTIONS sip:{DOMAIN} SIP/2.0 (" in text
    assert f"-> UDP {peer} SIP/2.0 200 OK (" in text
    # -v: the whole message follows its summary line.
    assert f"Call-ID: {options.call_id}" in text and "Allow: REGISTER, OPTIONS" in text


def test_a_port_in_use_is_reported_with_exit_status_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rfc3261", "registrar", "--listen", f"sip:127.0.0.1:{port}",
             "--domain", DOMAIN, "--db", str(tmp_path / "x.db")],
            capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )  # fmt: skip
    assert result.returncode == 1
    assert "error:" in result.stderr and "in use" in result.stderr


def test_registrar_on_ipv6_loopback(tmp_path: Path, registrar_db: Path) -> None:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    server = ServerProcess(
        "registrar", "--listen", "sip:[::1]:0", "--domain", DOMAIN, "--db", str(registrar_db),
        cwd=tmp_path,
    )  # fmt: skip
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.bind(("::1", 0))
        sock.settimeout(5)
        port = sock.getsockname()[1]
        request = Request(
            "REGISTER",
            f"sip:{DOMAIN}",
            [
                ("Via", f"SIP/2.0/UDP [::1]:{port};branch=z9hG4bK6six"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:gina@{DOMAIN}>;tag=g"),
                ("To", f"<sip:gina@{DOMAIN}>"),
                ("Call-ID", "six@[::1]"),
                ("CSeq", "1 REGISTER"),
                ("Contact", f"<sip:gina@[::1]:{port}>"),
                ("Content-Length", "0"),
            ],
        )
        sock.sendto(bytes(request), ("::1", server.port))
        answer = parse(sock.recvfrom(65535)[0])
        assert isinstance(answer, Response) and answer.status == 200
        assert contacts_of(answer) == [f"sip:gina@[::1]:{port}"]
    finally:
        sock.close()
        assert server.stop() == 0
    assert "<- UDP [::1]:" in server.log_text()


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI uses a scheme not supported by the UAS,
##% it SHOULD reject the request with a 416 (Unsupported URI Scheme)
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% If a UAS does not understand an option-tag listed in a
##% Require header field, it MUST respond by generating a response with
##% status code 420 (Bad Extension).  The UAS MUST add an Unsupported
##% header field, and list in it those options it does not understand
##% amongst those in the Require header field of the request.
def test_registrar_program_inspects_options() -> None:
    from rfc3261.location import SqliteLocationService
    from rfc3261.programs.registrar import RegistrarUser
    from rfc3261.registrar import Registrar, RegistrarConfig

    registrar = Registrar(SqliteLocationService(), RegistrarConfig(domains=frozenset({DOMAIN})))
    user = RegistrarUser(registrar)

    def options(uri: str, *extra: str) -> Request:
        lines = [
            f"OPTIONS {uri} SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt1",
            "Max-Forwards: 70",
            f"To: <sip:{DOMAIN}>",
            f"From: <sip:client@{DOMAIN}>;tag=1",
            "Call-ID: options-1",
            "CSeq: 1 OPTIONS",
            *extra,
            "Content-Length: 0",
        ]
        request = parse(("\r\n".join(lines) + "\r\n\r\n").encode())
        assert isinstance(request, Request)
        return request

    assert user._inspect_options(options(f"sip:{DOMAIN}")) is None
    assert user._inspect_options(options("soap.beep://192.0.2.1:3002")).status == 416
    refused = user._inspect_options(options(f"sip:{DOMAIN}", "Require: nothingKnown"))
    assert refused.status == 420 and refused.headers.get("Unsupported") == "nothingKnown"


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The proxy MUST populate the 407 (Proxy Authentication Required) message with a
##% Proxy-Authenticate header field value applicable to the proxy for the requested
##% resource.
def test_proxy_program_challenges_with_407_when_asked(tmp_path: Path) -> None:
    from rfc3261.auth_client import AuthClient, StaticCredentials
    from rfc3261.digest_server import ha1_line

    ha1 = tmp_path / "ha1.txt"
    ha1.write_text(ha1_line("erin", DOMAIN, "secret", "SHA-256") + "\n")
    proxy = ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--domain", DOMAIN,
        "--db", str(tmp_path / "p.db"), "--auth-file", str(ha1), "--proxy-auth",
        cwd=tmp_path,
    )  # fmt: skip
    client = Client()
    try:
        options = client.request(
            "OPTIONS", f"sip:carol@{DOMAIN}", [("To", f"<sip:carol@{DOMAIN}>")]
        )
        client.send(options, ("127.0.0.1", proxy.port))
        challenge = client.final()
        assert challenge.status == 407
        assert f'realm="{DOMAIN}"' in challenge.headers.get("Proxy-Authenticate")
        assert "WWW-Authenticate" not in challenge.headers
        retry = AuthClient(StaticCredentials(default=("erin", "secret"))).authorize(
            options, challenge, 0
        )
        assert retry is not None and "Proxy-Authorization" in retry.headers
        retry.headers.set("CSeq", "2 OPTIONS")
        retry.headers.set("Via", f"SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bKerin2")
        client.send(retry, ("127.0.0.1", proxy.port))
        # Authenticated: carol has no bindings, so the proxy now answers 480 (§16.5).
        assert client.final().status == 480
    finally:
        client.close()
        assert proxy.stop() == 0


def test_proxy_auth_needs_an_auth_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rfc3261", "proxy", "--listen", "sip:127.0.0.1:0",
         "--domain", DOMAIN, "--db", str(tmp_path / "p.db"), "--proxy-auth"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "--proxy-auth needs --auth-file" in result.stderr
