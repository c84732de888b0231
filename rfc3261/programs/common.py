"""What every runnable program shares: flags, configuration file, wire log, signals, loop.

A program (``rfc3261.programs.registrar``, ``.proxy``, ``.ua``) builds its
argument parser with :func:`base_parser`, which adds the common flags:

``--listen URI`` (repeatable)
    Where to listen, as a SIP URI (RFC 3261 §19.1): ``sip:127.0.0.1:5070``
    listens on UDP *and* TCP on that port (§18.2.1 asks for both),
    ``sip:127.0.0.1:5070;transport=tcp`` on TCP only, ``sips:[::1]:5071`` on
    TLS (which needs ``--cert`` and ``--key``).  A URI another one already opens
    (``sip:H:P;transport=tcp`` beside ``sip:H:P``) is dropped.  Port 0 picks a free
    port; the program prints ``listening on URI, URI...`` once its sockets are open.
``--config FILE``
    One optional TOML file whose keys mirror the long flags (``listen =
    ["sip:127.0.0.1:5070"]``, ``domain = "example.com"``, ``record-route =
    false``); flags given on the command line override it.  Tables the
    program declares (the proxy's ``[[route]]``) are kept in
    ``args.config_tables``.
``-v`` / ``-q``
    The wire log: each message sent or received is logged on one line
    (direction, transport, peer, first line, size); ``-v`` adds the whole
    message, ``-q`` turns the wire log off (load tests).  ``--log-file``
    writes the log to a file instead of standard error.
``--cert``, ``--key``, ``--ca``
    PEM files for TLS: our certificate and key, and the CAs we trust when we
    connect out (default: the system's).
``--dns SERVER`` (repeatable)
    Locate host names by RFC 3263 (NAPTR, SRV, A/AAAA) asking this DNS server,
    e.g. ``127.0.0.1:5353``; ``system`` reads /etc/resolv.conf.  Without it no
    DNS is done and every host must be an IP literal (:func:`make_resolver`).
``--buffer``, ``--cpu``, ``--profile``
    UDP socket buffer bytes, the CPU to pin the process to, a cProfile output file.

:func:`parse_args` merges the configuration file and the flags,
:func:`install_wire_log` hooks the log onto a dispatcher or core host,
:func:`open_listeners` opens every ``--listen``, and :func:`run` runs the
program's coroutine on an event loop until SIGINT or SIGTERM asks it to stop
(the coroutine gets an :class:`asyncio.Event` to wait on, closes its sockets and
returns the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import ssl
import sys
import tomllib
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from ..asyncio.transport import Address, ListeningPoint, Source, TransportLimits
from ..errors import ParseError
from ..transports import default_port, transport_for_uri
from ..uri import SipURI, parse_uri

__all__ = [
    "WIRE_LOG",
    "ConfigError",
    "base_parser",
    "client_ssl_context",
    "install_wire_log",
    "load_config",
    "merge_listen",
    "open_listeners",
    "parse_args",
    "parse_listen",
    "run",
    "server_ssl_context",
    "setup_logging",
    "tls_contexts",
    "transport_limits",
]

WIRE_LOG = logging.getLogger("rfc3261.wire")
LOG = logging.getLogger("rfc3261.programs")


class ConfigError(ValueError):
    """The configuration (file or flags) is wrong; the message says where and why."""


# -- flags and configuration file ---------------------------------------------------------


def base_parser(prog: str, description: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the flags every program takes (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--listen",
        action="append",
        default=None,
        metavar="URI",
        help="where to listen, e.g. sip:127.0.0.1:5060, sip:[::1]:5060;transport=tcp, "
        "sips:127.0.0.1:5061 (repeatable)",
    )
    parser.add_argument("--config", default=None, metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log whole messages on the wire (-vv: debug logging too)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no wire log")
    parser.add_argument("--log-file", default=None, metavar="PATH", help="log here, not stderr")
    parser.add_argument("--cert", default=None, metavar="PEM", help="certificate for sips:")
    parser.add_argument("--key", default=None, metavar="PEM", help="private key for --cert")
    parser.add_argument(
        "--ca",
        default=None,
        metavar="PEM",
        help="CAs trusted for TLS peers (default: the system's)",
    )
    parser.add_argument(
        "--tls-client-auth",
        choices=("none", "optional", "require"),
        default="none",
        help="ask TLS clients for a certificate and verify it against --ca (mutual TLS, "
        "RFC 3261 §26.3.1); 'require' refuses a client without one (default: none)",
    )
    parser.add_argument(
        "--tls-rfc3261-ciphers",
        action="store_true",
        help="also offer TLS_RSA_WITH_AES_128_CBC_SHA, the suite RFC 3261 §26.2.1 makes "
        "mandatory (off by default: static RSA and CBC are deprecated)",
    )
    parser.add_argument(
        "--dns",
        action="append",
        default=None,
        metavar="SERVER",
        help="resolve host names by RFC 3263 (NAPTR, SRV, A/AAAA) asking this DNS server, "
        "e.g. 127.0.0.1:5353 (repeatable); 'system' reads /etc/resolv.conf. "
        "Without it no DNS is done: every host must be an IP literal",
    )
    parser.add_argument("--buffer", type=int, default=None, help="UDP socket buffer bytes")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=TransportLimits().max_connections,
        help="TCP, TLS and WebSocket connections held at once (more are refused)",
    )
    parser.add_argument(
        "--max-connections-per-source",
        type=int,
        default=None,
        metavar="N",
        help="connections one IP address may hold once half of --max-connections are "
        "taken (default: max(8, max-connections/16))",
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument("--profile", default=None, metavar="FILE", help="write cProfile stats")
    return parser


def load_config(path: str | Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; ConfigError naming the file when unreadable."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error


def parse_args(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    *,
    tables: Iterable[str] = (),
    require_listen: bool = True,
) -> argparse.Namespace:
    """Parse ``argv`` over the values of the ``--config`` file (flags win).

    Keys of the file are long flag names (``record-route`` or ``record_route``);
    an unknown key is an error, except the ``tables`` the program reads itself
    (returned in ``args.config_tables``).  A list flag (``--listen``) given on
    the command line replaces the file's list.  ``args.listen_uris`` holds the
    parsed ``--listen`` URIs (at least one unless ``require_listen`` is False).
    Errors exit with status 2.
    """
    args_list = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(args_list)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    config: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if known.config:
        try:
            data = load_config(known.config)
        except ConfigError as error:
            parser.error(str(error))
        for key, value in data.items():
            dest = key.replace("-", "_")
            if key in tables:
                extra[key] = value
            elif dest in actions and dest != "config":
                config[dest] = value
            else:
                parser.error(f"{known.config}: unknown key {key!r}")
    appended = {d for d, a in actions.items() if isinstance(a, argparse._AppendAction)}
    parser.set_defaults(**{d: v for d, v in config.items() if d not in appended})
    args = parser.parse_args(args_list)
    for dest in appended:
        if getattr(args, dest) is None and dest in config:
            value = config[dest]
            setattr(args, dest, [value] if isinstance(value, str) else list(value))
    args.config_tables = extra
    if not args.listen and require_listen:
        parser.error("at least one --listen URI is needed (flag or 'listen' in --config)")
    try:
        args.listen_uris = merge_listen([parse_listen(text) for text in args.listen or ()])
    except ConfigError as error:
        parser.error(str(error))
    secure = [u for u in args.listen_uris if u.scheme == "sips" or u.transport == "wss"]
    if secure and not (args.cert and args.key):
        parser.error("a sips: listener needs --cert and --key (RFC 3261 §26.2.1: TLS)")
    return args


def parse_listen(text: str) -> SipURI:
    """A ``--listen`` value: a SIP or SIPS URI naming an IP address (and port)."""
    try:
        uri = parse_uri(text)
    except ParseError as error:
        raise ConfigError(f"--listen {text!r}: not a SIP URI ({error})") from error
    if not isinstance(uri, SipURI):
        raise ConfigError(f"--listen {text!r}: use a sip: or sips: URI")
    transport = (uri.transport or ("tls" if uri.scheme == "sips" else "udp")).lower()
    # ws: SIP over WebSocket (RFC 7118 §5.2); wss spells out the secure one.
    if transport not in ("udp", "tcp", "tls", "ws", "wss"):
        raise ConfigError(f"--listen {text!r}: transport must be udp, tcp, tls, ws or wss")
    if uri.user is not None:
        raise ConfigError(f"--listen {text!r}: a listening address has no user part")
    return uri


def _sockets(uri: SipURI) -> set[tuple[str, str, int]]:
    """The (transport, host, port) sockets ``--listen uri`` opens (port 0: none known)."""
    transport = transport_for_uri(uri.scheme, uri.transport)
    port = default_port(transport) if uri.port is None else uri.port
    host = uri.host_lower.strip("[]")
    if port == 0:
        return set()  # a free port each time: never the same socket twice
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
    ##% For any port and interface
    ##% that a server listens on for UDP, it MUST listen on that same port
    ##% and interface for TCP.
    if transport == "UDP":
        return {("UDP", host, port), ("TCP", host, port)}
    return {(transport, host, port)}


def merge_listen(uris: list[SipURI]) -> list[SipURI]:
    """The ``--listen`` URIs without those another one already opens.

    ``sip:H:P`` (or ``;transport=udp``) listens on UDP *and* TCP (§18.2.1), so
    ``sip:H:P;transport=tcp`` beside it, or the same address twice, adds nothing and
    would fail with "address already in use": it is dropped, with a note in the log.
    A URI that opens some socket the others do not is kept.
    """
    both: set[tuple[str, str, int]] = set()  # what the UDP (and TCP) URIs open
    for uri in uris:
        if transport_for_uri(uri.scheme, uri.transport) == "UDP":
            both |= _sockets(uri)
    kept: list[SipURI] = []
    taken: set[tuple[str, str, int]] = set()
    for uri in uris:
        sockets = _sockets(uri)
        udp = transport_for_uri(uri.scheme, uri.transport) == "UDP"
        if sockets and sockets <= (taken if udp else taken | both):
            LOG.info("--listen %s: already opened by another --listen URI; skipped", uri)
            continue
        taken |= sockets
        kept.append(uri)
    return kept


# -- TLS, limits ---------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.1
##% The TLS_RSA_WITH_AES_128_CBC_SHA ciphersuite [6] MUST be supported at
##% a minimum by implementers when TLS is used in a SIP application.
#: TLS_RSA_WITH_AES_128_CBC_SHA in OpenSSL's naming (a TLS 1.2 suite).
RFC3261_CIPHER = "AES128-SHA"


def _offer_rfc3261_cipher(context: ssl.SSLContext) -> None:
    """Add RFC 3261's mandatory suite to the context's default ones (TLS 1.3 suites stay)."""
    current = ":".join(c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3")
    context.set_ciphers(f"{current}:{RFC3261_CIPHER}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##% Proxy servers, redirect servers, and registrars MUST implement TLS, and
##% MUST support both mutual and one-way authentication.
def server_ssl_context(
    cert: str | None,
    key: str | None,
    *,
    client_auth: str = "none",
    ca: str | None = None,
    rfc3261_ciphers: bool = False,
) -> ssl.SSLContext | None:
    """The TLS server context for sips: listeners, or None without a certificate.

    ``client_auth`` "optional" or "require" asks the client for a certificate and verifies
    it against ``ca`` (or the system's CAs): mutual authentication; "none" is one-way.
    """
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
    ##% The registrar SHOULD offer a certificate to the UA
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_auth != "none":
        if ca:
            context.load_verify_locations(cafile=ca)
        else:
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        context.verify_mode = ssl.CERT_REQUIRED if client_auth == "require" else ssl.CERT_OPTIONAL
    if rfc3261_ciphers:
        _offer_rfc3261_cipher(context)
    return context


def client_ssl_context(
    ca: str | None = None,
    *,
    cert: str | None = None,
    key: str | None = None,
    rfc3261_ciphers: bool = False,
) -> ssl.SSLContext:
    """The TLS client context for connections we open (RFC 3261 §26.2.1: verify the peer);
    with ``cert`` it also proves who we are when the server asks (mutual TLS)."""
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
    ##% Certificates received in the authentication process SHOULD be validated with root
    ##% certificates held by the client; failure to validate a certificate SHOULD result in
    ##% the failure of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
    ##% When it receives the TLS Certificate message, the UA SHOULD verify the certificate
    ##% and inspect the site identified by the certificate.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
    ##% If the certificate is invalid, revoked, or if it does not identify the appropriate
    ##% party, the UA MUST NOT send the REGISTER message and otherwise proceed with the
    ##% registration.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
    ##% Each side of the connection SHOULD verify and inspect the certificate of the other,
    ##% noting the domain name that appears in the certificate for comparison with the
    ##% header fields of SIP messages.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
    ##% The atlanta.com proxy server, for example, SHOULD verify at this stage that the
    ##% certificate received from the remote side corresponds with the biloxi.com domain.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.3
    ##% When her UA receives a certificate from the biloxi proxy, it SHOULD be verified
    ##% normally before she passes her INVITE across the TLS connection.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
    ##% the site identified by the certificate MUST correspond with the domain in which the
    ##% UA intends to register
    # Verifying the chain and the host name: a failed handshake fails the request.
    context = ssl.create_default_context(cafile=ca)
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
    ##% The use of SIPS in particular entails that mutual TLS authentication
    ##% SHOULD be employed, as SHOULD the ciphersuite
    ##% TLS_RSA_WITH_AES_128_CBC_SHA.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
    ##% Since both of the participants in this TLS connection are servers that possess site
    ##% certificates, mutual TLS authentication SHOULD occur.
    if cert:
        context.load_cert_chain(cert, key)
    if rfc3261_ciphers:
        _offer_rfc3261_cipher(context)
    return context


def tls_contexts(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, ssl.SSLContext]:
    """(server context, client context) from the common TLS flags."""
    legacy = getattr(args, "tls_rfc3261_ciphers", False)
    server = server_ssl_context(
        args.cert,
        args.key,
        client_auth=getattr(args, "tls_client_auth", "none"),
        ca=args.ca,
        rfc3261_ciphers=legacy,
    )
    client = client_ssl_context(args.ca, cert=args.cert, key=args.key, rfc3261_ciphers=legacy)
    return server, client


def make_resolver(args: argparse.Namespace) -> Any:
    """The RFC 3263 resolver ``--dns`` asks for; None (IP literals only) without it."""
    servers = getattr(args, "dns", None)
    if not servers:
        return None
    from ..asyncio.dns import DnsResolver  # dnspython is needed only with --dns

    if servers == ["system"]:
        return DnsResolver()
    try:
        return DnsResolver(servers)
    except ValueError as error:
        raise ConfigError(f"--dns: {error}") from None


def transport_limits(args: argparse.Namespace) -> TransportLimits:
    """Transport limits from the common flags (socket buffers, connection limits)."""
    return TransportLimits(
        socket_buffer=args.buffer,
        max_connections=getattr(args, "max_connections", TransportLimits().max_connections),
        max_connections_per_source=getattr(args, "max_connections_per_source", None),
    )


# -- logging ------------------------------------------------------------------------------


def setup_logging(args: argparse.Namespace) -> None:
    """Send the program's log (and the wire log unless ``-q``) to stderr or ``--log-file``."""
    handler: logging.Handler
    if args.log_file:
        handler = logging.FileHandler(args.log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger("rfc3261")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.DEBUG if args.verbose >= 2 else logging.INFO)
    WIRE_LOG.disabled = bool(args.quiet)


def _first_line(data: bytes) -> str:
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    return line.rstrip(b"\r")[:200].decode("utf-8", "backslashreplace")


def install_wire_log(endpoint: Any, *, verbose: bool = False) -> None:
    """Log every message ``endpoint`` (a Dispatcher or CoreHost) receives or sends.

    One line per message: ``<-`` received / ``->`` sent, transport, the peer,
    the first line and the size; with ``verbose`` the whole message follows.
    Installs nothing when the wire log is off (``-q``), so it costs nothing then.
    """
    if WIRE_LOG.disabled:
        return
    layer = endpoint.transport
    receiver = layer.receiver
    send = layer.send

    def log(arrow: str, data: bytes, address: Address) -> None:
        peer = f"{address.transport} {address.hostport}"
        text = f"{arrow} {peer} {_first_line(data)} ({len(data)} bytes)"
        if verbose:
            text += "\n" + data.decode("utf-8", "backslashreplace")
        WIRE_LOG.info(text)

    def logged_receiver(data: bytes, source: Source) -> None:
        log("<-", data, source.remote)
        receiver(data, source)

    def logged_send(data: bytes, destination: Address, **kwargs: Any) -> None:
        connection = kwargs.get("connection")
        if connection is not None and getattr(connection, "is_open", False):
            remote = getattr(connection, "remote", None)
            destination = remote if isinstance(remote, Address) else destination
        log("->", data, destination)
        send(data, destination, **kwargs)

    layer.receiver = logged_receiver
    layer.send = logged_send


async def open_listeners(endpoint: Any, uris: Iterable[SipURI]) -> list[ListeningPoint]:
    """Listen on every URI; print ``listening on ...`` (tests and scripts wait for it)."""
    points: list[ListeningPoint] = []
    for uri in uris:
        points.extend(await endpoint.listen(uri))
    print("listening on " + ", ".join(str(p.address) for p in points), flush=True)
    return points


# -- the process ---------------------------------------------------------------------------


def _tune_process(args: argparse.Namespace) -> None:
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    # A server's objects live for a transaction or a call and are freed by reference
    # counting; cyclic collection every 700 allocations only costs time under load.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def run(amain: Callable[[asyncio.Event], Awaitable[int | None]], args: argparse.Namespace) -> int:
    """Run ``amain(stop)`` on a new event loop; SIGINT/SIGTERM set ``stop``.

    ``amain`` opens its sockets, waits for ``stop``, closes everything and
    returns the exit status.  ``--cpu`` and ``--profile`` are applied here.
    """
    _tune_process(args)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return int(await amain(stop) or 0)
        except OSError as error:
            LOG.error("cannot run: %s", error)
            print(f"error: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    with contextlib.suppress(KeyboardInterrupt):
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            try:
                return profiler.runcall(asyncio.run, main())
            finally:
                profiler.dump_stats(args.profile)
        return asyncio.run(main())
    return 130
