"""``python -m rfc3261 proxy``: a stateful proxy (RFC 3261 §16) with an embedded registrar.

Run it::

    python -m rfc3261 proxy --listen sip:127.0.0.1:5060 --domain example.com \\
        --db location.db [--no-registrar] [--no-record-route] \\
        [--auth-file ha1.txt --realm example.com] [--config proxy.toml]

The sans-I/O :class:`rfc3261.proxy.Proxy` runs on a
:class:`rfc3261.asyncio.dispatcher.CoreHost` (its adapter contract).  Requests for
``--domain`` go to the targets the location service holds (§16.5); REGISTERs
for them are answered by the embedded registrar (§10.3) unless
``--no-registrar``, in which case the bindings are read from ``--db``, which a
separate ``registrar`` program may write.  Record-Route is on by default
(``--no-record-route`` turns it off).  Requests for other domains are
forwarded to their Request-URI, or along a static route from the
configuration file, which names the next hop for a domain (``*`` for any)::

    listen = ["sip:127.0.0.1:5060"]
    domain = ["example.com"]

    [[route]]
    domain = "example.net"
    next-hop = "sip:127.0.0.1:5080"

Without ``--dns`` no DNS is done (next hops are IP addresses); with it, next hops
that are names are located by RFC 3263 (NAPTR, SRV, A/AAAA) and tried in turn.

``--path`` makes the proxy an edge of RFC 3327: it puts its own URI on the Path of
the REGISTERs it forwards for UAs that support Path (``--path-require``: and asks the
registrar to support it with Require, refusing UAs without support with 421), so
that requests for them come back through it.

``--edge`` makes it an RFC 5626 edge proxy (extension ``outbound``): the Path of an
outbound REGISTER names the UA's flow (a flow token, ``ob``), and requests coming
back go out over that flow (430 Flow Failed when it is gone); STUN keep-alives are
answered on the UDP port, CRLF keep-alives on connections.  ``--outbound`` makes the
embedded registrar and the proxy follow RFC 5626 §6 and §7 (see the registrar).

``--presence URI`` also runs a presence server (RFC 3903 event state compositor and
RFC 6665 notifier, :mod:`rfc3261.programs.presence`) listening on URI, with its
publications in the ``--db`` file: PUBLISH and presence SUBSCRIBE requests for users of
``--domain`` are routed to it (challenged with 401 when ``--auth-file`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..asyncio.dispatcher import CoreHost
from ..asyncio.transport import Address, bracketed, is_ip_address
from ..digest_server import DigestAuthenticator
from ..message import Request
from ..proxy import NextHop, Proxy, ProxyConfig, ProxyExtension
from ..proxy.crossing import TransportCrossing
from ..timers import DEFAULT_TIMERS, TimerValues
from ..uri import SipURI, parse_uri
from ..websocket_edge import WebSocketEdge
from . import common
from .plugins import load_extension
from .presence import start_compositor
from .registrar import (
    ExpiryTimer,
    add_registrar_arguments,
    digest_algorithms,
    make_authenticator,
    make_registrar,
    outbound_limits,
)

__all__ = ["ProgramProxy", "StaticRoute", "main", "parse_routes"]

# Seconds an edge proxy keeps a silent connection (RFC 5626 flows: see main()).
EDGE_IDLE_TIMEOUT = 900.0


@dataclass(frozen=True)
class StaticRoute:
    """Requests for ``domain`` (``*``: any domain not ours) go to ``next_hop``."""

    domain: str
    next_hop: NextHop


def parse_routes(tables: list[dict[str, Any]], *, names: bool = False) -> list[StaticRoute]:
    """The ``[[route]]`` tables of the configuration file (``names``: with --dns)."""
    routes = []
    for number, table in enumerate(tables, 1):
        domain = table.get("domain")
        target = table.get("next-hop", table.get("next_hop"))
        if not isinstance(domain, str) or not isinstance(target, str):
            raise common.ConfigError(f"[[route]] #{number}: needs domain and next-hop strings")
        uri = parse_uri(target)
        if not isinstance(uri, SipURI) or not (names or is_ip_address(uri.maddr or uri.host)):
            raise common.ConfigError(
                f"[[route]] #{number}: next-hop {target!r} must be a SIP URI with an IP address"
                " (no DNS, RFC 3263)"
            )
        transport = (uri.transport or ("tls" if uri.scheme == "sips" else "udp")).upper()
        routes.append(
            StaticRoute(
                domain.lower(), NextHop(transport, uri.maddr or uri.host, uri.port, uri=uri)
            )
        )
    return routes


class ProgramProxy(Proxy):
    """The proxy core plus static routes for requests outside our domains."""

    def __init__(
        self,
        *args: Any,
        routes: Iterable[StaticRoute] = (),
        websocket: WebSocketEdge | None = None,
        **kwargs: Any,
    ) -> None:
        if websocket is not None:
            kwargs["extensions"] = (*kwargs.get("extensions", ()), websocket)
        super().__init__(*args, **kwargs)
        self.routes = {route.domain: route.next_hop for route in routes}
        self.websocket = websocket

    def next_hop(self, copy: Request, strict: bool = False) -> NextHop:
        """§16.6 step 7, but a request without Route for a routed domain takes the route
        (one routed back to a WebSocket client goes on its connection: the hook of
        WebSocketEdge, RFC 7118, which the core asks first)."""
        uri = copy.uri
        if self.routes and not copy.route and isinstance(uri, SipURI):
            host = uri.host_lower
            if not self.is_in_domain(uri) and not self.is_own_uri(uri):
                hop = self.routes.get(host) or self.routes.get("*")
                if hop is not None:
                    return hop
        return super().next_hop(copy, strict)

    def relay_allowed(self, request: Request, hop: NextHop) -> bool:
        """The next hops of the static routes are trusted to receive an ACK or CANCEL
        this proxy cannot match (with ``--proxy-auth``; see :mod:`rfc3261.proxy.relay`)."""
        return hop in self.routes.values()


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser("python -m rfc3261 proxy", __doc__)
    add_registrar_arguments(parser)
    parser.add_argument(
        "--registrar",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer REGISTERs for --domain (default) or forward them (--no-registrar)",
    )
    parser.add_argument(
        "--record-route",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add Record-Route to requests that may create dialogs (§16.6 step 4)",
    )
    parser.add_argument(
        "--forking", choices=("parallel", "sequential"), default="parallel", help="§16.6"
    )
    parser.add_argument(
        "--local-route",
        action="append",
        default=None,
        metavar="URI",
        help="a loose-routing proxy (URI with ;lr) every forwarded request visits first: "
        "pushed on its Route (§16.6 step 5; repeatable)",
    )
    parser.add_argument(
        "--presence",
        metavar="URI",
        help="run a presence server (PUBLISH, SUBSCRIBE) for --domain's users listening on URI",
    )
    parser.add_argument(
        "--path",
        action="store_true",
        help="add our URI to the Path of REGISTERs we forward (RFC 3327 §5.2, an edge proxy)",
    )
    parser.add_argument(
        "--edge",
        action="store_true",
        help="RFC 5626 edge proxy: flow tokens in Path (ob) and Record-Route, requests for "
        "registered UAs over their flows (430 when gone), STUN on the UDP port; implies "
        "--path for UAs without outbound",
    )
    parser.add_argument(
        "--path-require",
        action="store_true",
        help="with --path: Require: path towards the registrar; 421 to UAs without it",
    )
    parser.add_argument(
        "--proxy-auth",
        action="store_true",
        help="with --auth-file: demand Proxy-Authorization (407) on requests the proxy "
        "forwards (§22.3); REGISTERs for the embedded registrar still get 401",
    )
    parser.add_argument(
        "--t1",
        type=float,
        metavar="S",
        help="T1, the round-trip estimate the transaction timers derive from (RFC 3261 "
        "§17.1.1.2; default 0.5 s; smaller makes Timer B, F and H testable quickly; Timer C "
        "stays over 3 minutes)",
    )
    return parser


def make_proxy_authenticator(args: argparse.Namespace) -> DigestAuthenticator | None:
    """The 407-challenging authenticator of ``--proxy-auth`` (None without the flag)."""
    if not args.proxy_auth:
        return None
    if not args.auth_file:
        raise common.ConfigError("--proxy-auth needs --auth-file")
    realm = args.realm or (sorted(args.domain)[0] if args.domain else None)
    if not realm:
        raise common.ConfigError("--proxy-auth needs --realm or --domain")
    algorithms = digest_algorithms(args.digest_algorithms)
    return make_authenticator(args, realm, algorithms, proxy=True)


def main(argv: list[str] | None = None) -> int:
    """Run the proxy until SIGINT or SIGTERM."""
    parser = build_parser()
    args = common.parse_args(parser, argv, tables=("route",))
    common.setup_logging(args)
    try:
        routes = parse_routes(args.config_tables.get("route", []), names=bool(args.dns))
        resolver = common.make_resolver(args)
        authenticator = make_proxy_authenticator(args)
        if args.path_require and not args.path:
            raise common.ConfigError("--path-require needs --path")
        if args.path_require and args.edge:
            raise common.ConfigError("--path-require is for --path without --edge")
        if args.t1 is not None and not 0 < args.t1 <= 4.0:
            raise common.ConfigError("--t1 must be positive and at most T2, 4 s (§17.1.2.2)")
        registrar, location = make_registrar(args)
    except (common.ConfigError, OSError, ValueError) as error:
        parser.error(str(error))

    limits = outbound_limits(args, common.transport_limits(args))
    if args.edge:
        # A UA keeps its flow to the edge alive by CRLF pings every 95-120 s, or up to
        # 840 s on battery, unless told a Flow-Timer (RFC 5626 §4.4.1): keep them.
        limits.idle_timeout = max(limits.idle_timeout, EDGE_IDLE_TIMEOUT)

    async def amain(stop: asyncio.Event) -> int:
        server_ssl, client_ssl = common.tls_contexts(args)
        host = CoreHost(
            None,
            limits=limits,
            server_ssl=server_ssl,
            client_ssl=client_ssl,
            resolver=resolver,
        )
        common.install_wire_log(host, verbose=args.verbose >= 1)
        expiry = ExpiryTimer(registrar)

        def flow_alive(hop: NextHop) -> bool:
            """Whether the flow a token names is still there (RFC 5626 §5.3): an open
            connection; a UDP flow cannot be seen closing and counts as alive."""
            if hop.port is None or hop.transport not in ("TCP", "TLS", "WS", "WSS"):
                return True
            connection = host.transport.connections.get(Address(hop.transport, hop.host, hop.port))
            return connection is not None and connection.is_open

        presence_host: CoreHost | None = None
        try:
            points = await common.open_listeners(host, args.listen_uris)
            extensions = []
            if args.presence:
                domains = frozenset(d.lower() for d in args.domain or ())
                presence_host, routing, _ = await start_compositor(
                    args.presence,
                    domains,
                    args.db,
                    authenticator=registrar.authenticator,
                    timers=DEFAULT_TIMERS if args.t1 is None else TimerValues(T1=args.t1),
                    server_ssl=server_ssl,
                    client_ssl=client_ssl,
                )
                extensions.append(routing)
            first = points[0].address
            # Our address per transport: the Record-Route URI of each side (RFC 5658).
            interfaces: dict[str, str] = {}
            for point in points:
                interfaces.setdefault(point.transport, point.address.hostport)
            config = ProxyConfig(
                host=bracketed(first.host),
                port=first.port,
                transport=first.transport,
                domains=frozenset(args.domain or ()),
                aliases=frozenset(p.address.hostport for p in points),
                record_route=args.record_route,
                local_route=tuple(args.local_route or ()),
                forking=args.forking,
                # the sent-by of our Via per transport (§18.1.1, §18.2.2)
                sent_by=dict(interfaces),
            )
            if args.edge or args.outbound:
                # RFC 5626: the edge (§5) and the authoritative proxy (§7) in one.
                extensions.append(
                    load_extension(
                        ProxyExtension,
                        "outbound",
                        interfaces=interfaces,
                        edge=args.edge,
                        path=args.edge or args.path,
                        flow_alive=flow_alive,
                    )
                )
                host.transport.stun_server = True  # RFC 5626 §8
            elif args.path:
                extensions.append(
                    load_extension(
                        ProxyExtension, "path", interfaces=interfaces, require=args.path_require
                    )
                )

            # ... and per IP version, for a request crossing from IPv4 to IPv6 (RFC 5658 §5).
            sides = dict(interfaces)
            for point in points:
                version = 6 if point.address.family == socket.AF_INET6 else 4
                sides.setdefault(f"{point.transport}/IPv{version}", point.address.hostport)
            websocket = None
            if any(t in ("WS", "WSS") for t in interfaces):
                websocket = WebSocketEdge(sides, lambda uri: host.core.is_own_uri(uri))
            elif len(points) > 1:
                # Several listening points: double Record-Route when a request changes them.
                extensions.append(TransportCrossing(sides, lambda uri: host.core.is_own_uri(uri)))
            host.core = ProgramProxy(
                config,
                location,
                registrar=registrar if args.registrar else False,
                authenticator=authenticator,
                routes=routes,
                websocket=websocket,
                extensions=extensions,
                timers=DEFAULT_TIMERS if args.t1 is None else TimerValues(T1=args.t1),
            )
            host.core.layer.max_server_transactions = args.max_transactions
            if resolver is not None:
                # §16.6 step 10: after a failed tuple, the next one the resolver gave.
                host.core.next_tuple = host.next_target
            if args.registrar:
                expiry.schedule()
                host.deliver = lambda effect: None
                # The embedded registrar changes bindings inside the core: re-arm after each
                # request (cheap: one indexed MIN query).
                receive = host.core.receive_request

                def receive_request(request: Request, source: Any, now: float) -> list[Any]:
                    effects = receive(request, source, now)
                    if request.method == "REGISTER":
                        expiry.schedule()
                    return effects

                host.core.receive_request = receive_request  # type: ignore[method-assign]
            await stop.wait()
        finally:
            expiry.stop()
            if presence_host is not None:
                await presence_host.close()
            await host.close()
            location.close()
            common.LOG.info("stopped: %d malformed", host.malformed)
        return 0

    return common.run(amain, args)
