"""``python -m rfc3261 registrar``: a registrar (RFC 3261 §10.3) on UDP, TCP and TLS.

Run it::

    python -m rfc3261 registrar --listen sip:127.0.0.1:5060 --domain example.com \\
        --db /var/lib/sipref/location.db [--auth-file ha1.txt --realm example.com] \\
        [--listen sips:127.0.0.1:5061 --cert cert.pem --key key.pem] [--config FILE]

The sans-I/O :class:`rfc3261.registrar.Registrar` answers REGISTER requests
through server transactions on the :class:`rfc3261.asyncio.dispatcher.Dispatcher`;
bindings live in an SQLite file (:class:`rfc3261.location.SqliteLocationService`,
WAL journal), so they survive a restart and the proxy program can share them;
``--db postgresql://...`` keeps them in PostgreSQL instead, shared by several
registrar and proxy processes (:mod:`rfc3261.location_pg`); then steps 6-8 of each
REGISTER run on one of ``--db-workers`` threads with a connection of its own
(:class:`BindWorkers`), so the process has several REGISTERs in the database at once.
OPTIONS gets 200 (§11.2) unless §8.2.2 refuses it (416, 420), CANCEL 200 or 481
(§9.2), other methods 405 with Allow (§8.2.1).  Bindings that expire are deleted
when their time comes.  ``--auth-file`` (lines of ``user:realm:algorithm:ha1``)
turns on Digest authentication (§22, 401); ``--digest-algorithms`` says which
algorithms the challenges offer, most preferred first (RFC 8760 §2.3).
Path (RFC 3327) is supported, with the extension ``path`` of ``extensions/``: the
path vector of a REGISTER is stored with its bindings and returned in the 200 OK
(a Path from a UA without ``Supported: path`` is refused with 420 unless
``--path-without-supported``).  ``--outbound`` adds RFC 5626 (extension
``outbound``): bindings per instance-id and reg-id, the flow of a UA registered
directly, 439, ``Require: outbound`` and ``Flow-Timer: --flow-timer``, and a STUN
server on the UDP port.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..asyncio.dispatcher import CORE_CLOCK, Dispatcher, Source, TransactionUser
from ..asyncio.transport import TransportLimits
from ..capabilities import method_check, require_check
from ..digest import UnsupportedAlgorithm, base_algorithm
from ..digest_server import DigestAuthenticator, HA1File
from ..location import LocationError, LocationService, SqliteLocationService
from ..message import Request, Response
from ..registrar import Registrar, RegistrarConfig, RegistrarExtension, Screened
from ..timers import DEFAULT_TIMERS, TimerValues
from ..uri import SipURI
from ..websocket_edge import WebSocketRegistrar
from . import common
from .plugins import available_extensions

__all__ = [
    "DEFAULT_BIND_WORKERS",
    "DEFAULT_DIGEST_ALGORITHMS",
    "BindWorkers",
    "ExpiryTimer",
    "RegistrarUser",
    "add_registrar_arguments",
    "add_t1_argument",
    "digest_algorithms",
    "main",
    "make_authenticator",
    "make_bind_workers",
    "make_dispatcher",
    "make_registrar",
    "open_location",
    "outbound_limits",
]

# Seconds a flow may stay silent beyond its Flow-Timer (RFC 5626 §5.4 grace period).
FLOW_GRACE = 10

ALLOW_METHODS = ("REGISTER", "OPTIONS")
ALLOW = ", ".join(ALLOW_METHODS)

# RFC 8760 §2.3: the most preferred algorithm first.  SHA-256 is the one RFC 8760 adds
# for its strength; MD5 is offered only when configured (--digest-algorithms
# SHA-256,MD5) for clients that know nothing else.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##% The obsolete MD5 algorithm
##% remains only for backward compatibility with [RFC2617], but its use
##% is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##% The most effective way of dealing with this type
##% of attack is to either validate the client and challenge it
##% accordingly or remove the support for backward compatibility by not
##% supporting MD5.
DEFAULT_DIGEST_ALGORITHMS = ("SHA-256",)

# Server transactions alive at once (each ~7 KiB while Timer J/H/I keeps it): ~150 MiB
# at most; at 20,000 a UDP server still takes ~600 new non-INVITE requests a second
# (Timer J is 32 s).  See docs/guides/security.rst.
DEFAULT_MAX_TRANSACTIONS = 20_000

# REGISTERs in the database at once per process with --db postgresql:// (see BindWorkers
# and docs/guides/postgresql.rst for why this many).
DEFAULT_BIND_WORKERS = 4


def add_registrar_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The registrar's flags (shared with the proxy, which embeds a registrar)."""
    parser.add_argument(
        "--domain",
        action="append",
        default=None,
        metavar="NAME",
        help="a domain whose bindings this server keeps (repeatable)",
    )
    parser.add_argument(
        "--db",
        default=":memory:",
        metavar="PATH|URL",
        help="location database: an SQLite file (WAL), or postgresql://... for one that "
        "several registrars and proxies share",
    )
    parser.add_argument(
        "--sync",
        default="NORMAL",
        choices=("OFF", "NORMAL", "FULL"),
        help="SQLite synchronous setting (FULL: sync every commit)",
    )
    parser.add_argument("--auth-file", default=None, metavar="HA1FILE", help="Digest H(A1) file")
    parser.add_argument("--realm", default=None, help="Digest realm (default: first --domain)")
    parser.add_argument(
        "--digest-algorithms",
        default=",".join(DEFAULT_DIGEST_ALGORITHMS),
        metavar="LIST",
        help="Digest algorithms to challenge with, most preferred first, comma-separated "
        "(default: %(default)s, RFC 8760 §2.3)",
    )
    parser.add_argument(
        "--nonce-lifetime",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="age after which a nonce gets stale=true (RFC 7616 §3.3; default %(default)s)",
    )
    parser.add_argument(
        "--max-nonces",
        type=int,
        default=100_000,
        metavar="N",
        help="nonces in use remembered for replay checks (default %(default)s)",
    )
    parser.add_argument(
        "--auth-max-failures",
        type=int,
        default=10,
        metavar="N",
        help="failed Digest attempts per source address or user name before 503 with "
        "Retry-After until --auth-failure-window ends (0: no throttling; default %(default)s)",
    )
    parser.add_argument(
        "--auth-failure-window", type=float, default=60.0, metavar="SECONDS", help="see above"
    )
    parser.add_argument(
        "--bind-from",
        action="store_true",
        help="refuse (403) an authenticated request whose From user is not the "
        "authenticated user name",
    )
    parser.add_argument(
        "--path-without-supported",
        action="store_true",
        help="store a Path (RFC 3327) even when the UA did not say Supported: path "
        "(default: 420, the policy RFC 3327 §5.3 recommends)",
    )
    parser.add_argument(
        "--outbound",
        action="store_true",
        help="RFC 5626 outbound registrar: bindings per instance-id and reg-id, flows, "
        "439, Require: outbound, STUN keep-alives on the UDP port",
    )
    parser.add_argument(
        "--outbound-only",
        action="store_true",
        help="with --outbound: refuse (421) registrations without instance-id and reg-id "
        "or through an edge without outbound (RFC 5626 §6 local policy)",
    )
    parser.add_argument(
        "--flow-timer",
        type=int,
        default=30,
        metavar="SECONDS",
        help="with --outbound: Flow-Timer for UAs registered over a direct flow "
        "(default %(default)s; idle connections are kept longer than that)",
    )
    parser.add_argument("--min-expires", type=int, default=60, help="shortest binding (423)")
    parser.add_argument("--default-expires", type=int, default=3600, help="expiry if none given")
    parser.add_argument("--max-expires", type=int, default=86400, help="longest binding")
    parser.add_argument(
        "--max-bindings-per-aor", type=int, default=10, help="more are refused with 403"
    )
    parser.add_argument(
        "--max-transactions",
        type=int,
        default=DEFAULT_MAX_TRANSACTIONS,
        metavar="N",
        help="server transactions alive at once; beyond, a stateless 503 with Retry-After "
        "(RFC 3261 §21.5.4; default %(default)s)",
    )


def digest_algorithms(text: str) -> tuple[str, ...]:
    """The ``--digest-algorithms`` value: known names, each once, most preferred first.

    ConfigError for an empty list, an unknown name or a repeated one (RFC 8760 §2.3:
    one challenge per algorithm, in the order of preference).
    """
    names = tuple(name.strip() for name in str(text).split(",") if name.strip())
    if not names:
        raise common.ConfigError("--digest-algorithms: name at least one algorithm")
    for name in names:
        try:
            base_algorithm(name)
        except UnsupportedAlgorithm as error:
            raise common.ConfigError(f"--digest-algorithms: {error}") from None
    if len({name.upper() for name in names}) != len(names):
        raise common.ConfigError(f"--digest-algorithms: {text!r} names an algorithm twice")
    return names


def make_authenticator(
    args: argparse.Namespace, realm: str, algorithms: tuple[str, ...], *, proxy: bool = False
) -> DigestAuthenticator:
    """The Digest authenticator the flags describe (401 for the registrar, 407 for
    ``--proxy-auth``)."""
    return DigestAuthenticator(
        realm,
        HA1File(args.auth_file),
        algorithms=algorithms,
        proxy=proxy,
        nonce_lifetime=args.nonce_lifetime,
        max_nonces=args.max_nonces,
        max_failures=args.auth_max_failures,
        failure_window=args.auth_failure_window,
        bind_from=args.bind_from,
    )


def make_registrar(
    args: argparse.Namespace, *, proxy: bool = False
) -> tuple[Registrar, LocationService]:
    """The registrar and location service the flags describe."""
    domains = frozenset(args.domain or ())
    algorithms = digest_algorithms(args.digest_algorithms)  # checked with or without a file
    authenticator = None
    if args.auth_file:
        realm = args.realm or (sorted(domains)[0] if domains else None)
        if not realm:
            raise common.ConfigError("--auth-file needs --realm or --domain")
        authenticator = make_authenticator(args, realm, algorithms)
    location = open_location(args.db, synchronous=args.sync)
    config = RegistrarConfig(
        domains=domains,
        default_expires=args.default_expires,
        min_expires=args.min_expires,
        max_expires=args.max_expires,
        max_bindings_per_aor=args.max_bindings_per_aor,
    )
    # Bindings made over a WebSocket remember their connection (RFC 7118 §5).
    extensions: list[RegistrarExtension] = [WebSocketRegistrar()]
    # RFC 3327 Path, from extensions/ when installed (the core never imports it).
    available = available_extensions(RegistrarExtension)
    path = available.get("path")
    if path is not None:
        extensions.append(path(without_supported=args.path_without_supported))  # type: ignore[call-arg]
    if args.outbound_only and not args.outbound:
        raise common.ConfigError("--outbound-only needs --outbound")
    if args.outbound:
        # RFC 5626 §6, after Path (it reads the stored path vector's first value).
        if "outbound" not in available or path is None:
            raise common.ConfigError("--outbound needs the extensions outbound and path")
        outbound = available["outbound"]
        extensions.append(outbound(flow_timer=args.flow_timer, only=args.outbound_only))  # type: ignore[call-arg]
    return Registrar(location, config, authenticator, extensions=extensions), location


def make_dispatcher(args: argparse.Namespace, user: TransactionUser) -> Dispatcher:
    """The dispatcher the flags describe: transport limits, TLS, the transaction cap."""
    server_ssl, client_ssl = common.tls_contexts(args)
    t1 = getattr(args, "t1", None)
    dispatcher = Dispatcher(
        user,
        # --t1: shorter timers (G, H, J: 64*T1) make them testable quickly (§17.1.1.2)
        timers=TimerValues(T1=t1) if t1 else DEFAULT_TIMERS,
        limits=outbound_limits(args, common.transport_limits(args)),
        server_ssl=server_ssl,
        client_ssl=client_ssl,
        resolver=common.make_resolver(args),
    )
    dispatcher.transactions.max_server_transactions = args.max_transactions
    # RFC 5626 §8: STUN keep-alives are answered on the SIP UDP port.
    dispatcher.transport.stun_server = bool(args.outbound)
    return dispatcher


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##% The server MUST wait for an amount of time
##% larger than the Flow-Timer in order to have a grace period to account
##% for transport delay.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##% To be compliant with this specification, registrars that can receive
##% SIP requests directly from a UAC without intervening edge proxies
##% MUST implement the same keep-alive mechanisms as edge proxies
##% (Section 5.4).
def outbound_limits(args: argparse.Namespace, limits: TransportLimits) -> TransportLimits:
    """With ``--outbound``: idle connections (flows) live longer than the Flow-Timer the
    UAs keep them alive by, with a grace period for transport delay."""
    if getattr(args, "outbound", False):
        limits.idle_timeout = max(limits.idle_timeout, args.flow_timer + FLOW_GRACE)
    return limits


def is_postgres_url(db: str) -> bool:
    """Whether a ``--db`` value names a PostgreSQL database rather than an SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def open_location(db: str, *, synchronous: str = "NORMAL") -> Any:
    """The location service ``--db`` names: PostgreSQL for a ``postgresql://`` URL
    (:mod:`rfc3261.location_pg`, needs the ``postgresql`` extra), else an SQLite file."""
    if is_postgres_url(db):
        try:
            from ..location_pg import PostgresLocationService
        except ImportError as error:
            raise common.ConfigError(
                f"--db {db.split('@')[-1]!r}: PostgreSQL needs psycopg "
                "(pip install 'sipref[postgresql]')"
            ) from error
        try:
            return PostgresLocationService(db)
        except LocationError as error:
            raise common.ConfigError(f"--db: {error}") from error
    return SqliteLocationService(db, synchronous=synchronous)


class ExpiryTimer:
    """Deletes expired bindings when their time comes (§10.2.2), on one event-loop timer.

    Lookups already ignore expired bindings; this keeps the table from growing.
    Call :meth:`schedule` after every change of the bindings.
    """

    def __init__(self, registrar: Registrar, clock: Any = CORE_CLOCK) -> None:
        self.registrar = registrar
        self.clock = clock
        self.loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None
        self._checked = float("-inf")
        self._recheck: asyncio.TimerHandle | None = None

    # How often, at most, the next expiry is looked up again while a timer is armed: a
    # binding may then be deleted up to this late, which lookups never notice (they skip
    # expired bindings); under load it saves one query per REGISTER.
    RECHECK = 1.0

    def schedule(self) -> None:
        now = self.clock()
        loop = self.loop or asyncio.get_running_loop()
        if self._handle is not None and now - self._checked < self.RECHECK:
            if self._recheck is None:
                self._recheck = loop.call_later(self.RECHECK, self._recheck_now)
            return
        self._checked = now
        try:
            deadline = self.registrar.next_deadline()
        except LocationError as error:
            # The store is unreachable (a database restarting): look again a bit later.
            common.LOG.error("location service failed: %s", error)
            if self._recheck is None:
                self._recheck = loop.call_later(self.RECHECK, self._recheck_now)
            return
        if deadline is None or (self._at is not None and self._at <= deadline):
            return
        if self._handle is not None:
            self._handle.cancel()
        self._at = deadline
        self._handle = loop.call_later(max(0.0, deadline - now), self._expire)

    def _expire(self) -> None:
        self._handle = None
        self._at = None
        self._checked = float("-inf")
        try:
            removed = self.registrar.handle_timer(self.clock())
        except LocationError as error:
            common.LOG.error("location service failed: %s", error)
            removed = 0
        if removed:
            common.LOG.info("%d binding(s) expired", removed)
        self.schedule()

    def _recheck_now(self) -> None:
        self._recheck = None
        self._checked = float("-inf")
        self.schedule()

    def stop(self) -> None:
        for handle in (self._handle, self._recheck):
            if handle is not None:
                handle.cancel()
        self._handle = self._recheck = None


class BindWorkers:
    """Steps 6 to 8 of REGISTERs (:meth:`Registrar.bind`, one database transaction each)
    on a few threads, so that one process has several REGISTERs in flight against a
    database server instead of waiting for each one's round trips.

    Each thread owns one of ``registrars``: the same configuration, authenticator and
    extensions as the event loop's registrar, but a location service (a connection) of
    its own.  Steps 1 to 5 (:meth:`Registrar.screen`, Digest nonces included) stay on
    the event loop, and so does everything of the transaction layer: a worker takes a
    screened REGISTER from a queue and hands back its final response, which the loop
    sends on the server transaction.  The REGISTERs of one address-of-record go to the
    workers one at a time, in the order they arrived (§10.3); those of other AORs
    overlap.  libpq releases the GIL while it waits for the server, so the loop
    receives and screens more requests meanwhile.
    """

    def __init__(self, registrars: list[Registrar]) -> None:
        if not registrars:
            raise ValueError("BindWorkers needs at least one registrar")
        self.registrars = list(registrars)
        self._loop: asyncio.AbstractEventLoop | None = None  # set by submit
        self._jobs: queue.SimpleQueue[_BindJob | None] = queue.SimpleQueue()
        # AOR -> the REGISTERs waiting behind the one of that AOR on a worker.
        self._waiting: dict[str, collections.deque[_BindJob]] = {}
        # Daemon threads: a process that ends without close() does not wait for them.
        self._threads = [
            threading.Thread(
                target=self._work, args=(registrar,), name=f"register-{n}", daemon=True
            )
            for n, registrar in enumerate(self.registrars)
        ]
        for thread in self._threads:
            thread.start()

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% REGISTER requests MUST be processed by a registrar in the order that
    ##% they are received.
    def submit(
        self,
        request: Request,
        screened: Screened,
        now: float,
        source: object,
        done: Callable[[Response], None],
    ) -> None:
        """Run steps 6-8 of ``request`` on a worker; ``done(response)`` on the loop after.
        Called on the event loop."""
        self._loop = asyncio.get_running_loop()
        job = _BindJob(request, screened, now, source, done)
        waiting = self._waiting.get(screened.aor)
        if waiting is not None:  # this AOR's previous REGISTER is not answered yet
            waiting.append(job)
            return
        self._waiting[screened.aor] = collections.deque()
        self._jobs.put(job)

    @property
    def in_flight(self) -> int:
        """Addresses-of-record with a REGISTER on a worker now."""
        return len(self._waiting)

    def _work(self, registrar: Registrar) -> None:
        """A worker thread: REGISTERs from the queue until None."""
        while (job := self._jobs.get()) is not None:
            try:
                response = registrar.bind(job.request, job.screened, job.now, source=job.source)
            except Exception:  # a bug, not the database (bind answers LocationError 500)
                common.LOG.exception("REGISTER failed")
                response = job.request.make_response(500, "Server Internal Error")
            try:
                assert self._loop is not None  # submit set it before the job was queued
                self._loop.call_soon_threadsafe(self._finished, job, response)
            except RuntimeError:  # the loop is closed: nobody to answer any more
                return

    def _finished(self, job: _BindJob, response: Response) -> None:
        """On the loop: send the response, start the AOR's next REGISTER."""
        job.done(response)
        waiting = self._waiting.get(job.screened.aor)
        if waiting:
            self._jobs.put(waiting.popleft())
        else:
            self._waiting.pop(job.screened.aor, None)

    def close(self, timeout: float = 5.0) -> None:
        """Let the REGISTERs on the workers end (for up to ``timeout`` seconds), drop
        those waiting, close the connections of the workers that ended."""
        self._waiting.clear()
        while True:  # jobs not started yet are dropped (their transactions too)
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread, registrar in zip(self._threads, self.registrars, strict=True):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():  # stuck in the database: never close a busy connection
                common.LOG.warning("%s still waiting for the database", thread.name)
                continue
            close = getattr(registrar.location, "close", None)
            if close is not None:
                close()


class _BindJob:
    """A screened REGISTER waiting for, or on, a worker."""

    __slots__ = ("done", "now", "request", "screened", "source")

    def __init__(
        self,
        request: Request,
        screened: Screened,
        now: float,
        source: object,
        done: Callable[[Response], None],
    ) -> None:
        self.request, self.screened, self.now, self.source = request, screened, now, source
        self.done = done


def make_bind_workers(args: argparse.Namespace, registrar: Registrar) -> BindWorkers | None:
    """With a ``postgresql://`` ``--db`` and ``--db-workers`` above 0, the workers that run
    steps 6-8 (each a registrar like ``registrar`` on its own connection); else None:
    SQLite needs no round trips, its REGISTERs run on the event loop."""
    size = getattr(args, "db_workers", DEFAULT_BIND_WORKERS)
    if size < 0:
        raise common.ConfigError("--db-workers must be 0 or more")
    if not is_postgres_url(args.db) or size == 0:
        return None
    registrars = []
    try:
        for _ in range(size):
            worker = Registrar(
                open_location(args.db),
                registrar.config,
                registrar.authenticator,
                extensions=registrar.extensions,
            )
            # The whole table is counted (for max_bindings_total) about once a second
            # per process, as on the event loop, not once per worker.
            worker.recount_interval = registrar.recount_interval * size
            registrars.append(worker)
    except common.ConfigError:
        for made in registrars:
            made.location.close()
        raise
    return BindWorkers(registrars)


class RegistrarUser(TransactionUser):
    """The transaction user of the registrar program: REGISTER, OPTIONS, CANCEL, 405 for
    the rest."""

    def __init__(
        self, registrar: Registrar, clock: Any = CORE_CLOCK, *, workers: BindWorkers | None = None
    ) -> None:
        self.registrar = registrar
        self.clock = clock
        self.registers = 0
        self.expiry = ExpiryTimer(registrar, clock)
        self.workers = workers

    def on_request(self, request: Request, transaction: Any, source: Source) -> None:
        if transaction is None:
            return  # an ACK: the registrar's final responses are non-2xx or non-INVITE
        method = request.method
        if method == "REGISTER":
            self.registers += 1
            if self.workers is not None:
                self._register_on_worker(request, transaction, source)
                return
            try:
                response = self.registrar.handle(
                    request, self.clock(), source=source.remote.hostport
                )
            except LocationError as error:
                common.LOG.error("location service failed: %s", error)
                response = request.make_response(500, "Server Internal Error (location)")
            self.dispatcher.send_response(transaction, response)
            self.schedule_expiry()
        elif method == "OPTIONS":
            refusal = self._inspect_options(request)
            if refusal is not None:
                self.dispatcher.send_response(transaction, refusal)
                return
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
            ##% Allow, Accept, Accept-Encoding, Accept-Language, and
            ##% Supported header fields SHOULD be present in a 200 (OK) response
            ##% to an OPTIONS request.
            response = request.make_response(200)
            response.headers.add("Allow", ALLOW)
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Accept-Encoding", "identity")
            response.headers.add("Accept-Language", "en")
            response.headers.add("Supported", "")
            self.dispatcher.send_response(transaction, response)
        elif method == "CANCEL":
            self.dispatcher.send_response(transaction, self._cancel(request))
        else:
            # 405 (or 501 for a method nobody knows) with Allow (§8.2.1).
            refusal = method_check(request, ALLOW_METHODS)
            if refusal is not None:
                self.dispatcher.send_response(transaction, refusal)

    def _register_on_worker(self, request: Request, transaction: Any, source: Source) -> None:
        """Steps 1-5 here, steps 6-8 on a worker (:class:`BindWorkers`); the response is
        sent on the loop when the worker is done."""
        now = self.clock()
        screened = self.registrar.screen(request, now)
        if isinstance(screened, Response):
            self.dispatcher.send_response(transaction, screened)
            return
        assert self.workers is not None

        def answer(response: Response) -> None:
            self.dispatcher.send_response(transaction, response)
            self.schedule_expiry()

        self.workers.submit(request, screened, now, source.remote.hostport, answer)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% If the UAS did not find a matching transaction for the CANCEL
    ##% according to the procedure above, it SHOULD respond to the CANCEL with
    ##% a 481 (Call Leg/Transaction Does Not Exist).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% If it has, the CANCEL request has no effect on the processing of the
    ##% original request, no effect on any session state, and no effect on the
    ##% responses generated for the original request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% Regardless of the method of the original request, as long as the
    ##% CANCEL matched an existing transaction, the UAS answers the CANCEL
    ##% request itself with a 200 (OK) response.
    def _cancel(self, cancel: Request) -> Response:
        """§9.2: 200 if the CANCEL matches a transaction, else 481.

        A REGISTER is never cancelled: it was answered already, or (on a database
        worker) it will be, as if the CANCEL had not come (§9.1: non-INVITE requests
        are answered at once, so a CANCEL of one always races with its response).
        """
        if self.dispatcher.transactions.find_cancel_target(cancel) is None:
            return cancel.make_response(481)
        return cancel.make_response(200)

    def _inspect_options(self, request: Request) -> Response | None:
        """§8.2.2: the 416 or 420 an OPTIONS gets before it may be answered 200, or None."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% If the Request-URI uses a scheme not supported by the UAS,
        ##% it SHOULD reject the request with a 416 (Unsupported URI Scheme)
        ##% response.
        if not isinstance(request.uri, SipURI):
            return request.make_response(416)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
        ##% If a UAS does not understand an option-tag listed in a
        ##% Require header field, it MUST respond by generating a response with
        ##% status code 420 (Bad Extension).  The UAS MUST add an Unsupported
        ##% header field, and list in it those options it does not understand
        ##% amongst those in the Require header field of the request.
        return require_check(request, self.registrar.config.supported)

    def schedule_expiry(self) -> None:
        self.expiry.schedule()

    def stop(self) -> None:
        self.expiry.stop()
        if self.workers is not None:
            self.workers.close()


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser("python -m rfc3261 registrar", __doc__)
    add_registrar_arguments(parser)
    parser.add_argument(
        "--db-workers",
        type=int,
        default=DEFAULT_BIND_WORKERS,
        metavar="N",
        help="with --db postgresql://: REGISTERs in the database at once, each on its own "
        "connection (0: one at a time on the event loop; default %(default)s)",
    )
    add_t1_argument(parser)
    return parser


def add_t1_argument(parser: argparse.ArgumentParser) -> None:
    """``--t1``: the T1 the server transactions' timers derive from (G, H, J)."""
    parser.add_argument(
        "--t1",
        type=t1_value,
        default=None,
        metavar="S",
        help="T1, the round-trip estimate Timer G, H and J derive from (RFC 3261 §17.1.1.2; "
        "default 0.5 s; smaller makes them testable quickly)",
    )


def t1_value(text: str) -> float:
    """A ``--t1`` value: positive, at most T2 (4 s)."""
    value = float(text)
    if not 0 < value <= 4.0:
        raise argparse.ArgumentTypeError("--t1 must be positive and at most T2, 4 s")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the registrar until SIGINT or SIGTERM."""
    parser = build_parser()
    args = common.parse_args(parser, argv)
    if not args.domain:
        parser.error("--domain is needed: a registrar must know its domains (RFC 3261 §10.3)")
    common.setup_logging(args)
    try:
        registrar, location = make_registrar(args)
        workers = make_bind_workers(args, registrar)
    except (common.ConfigError, OSError, ValueError) as error:
        parser.error(str(error))

    async def amain(stop: asyncio.Event) -> int:
        user = RegistrarUser(registrar, workers=workers)
        dispatcher = make_dispatcher(args, user)
        common.install_wire_log(dispatcher, verbose=args.verbose >= 1)
        try:
            await common.open_listeners(dispatcher, args.listen_uris)
            # Bindings from before a restart may be due already.
            user.schedule_expiry()
            await stop.wait()
        finally:
            user.stop()
            await dispatcher.close()
            location.close()
            common.LOG.info(
                "stopped: %d REGISTER, %d malformed", user.registers, dispatcher.malformed
            )
        return 0

    return common.run(amain, args)
