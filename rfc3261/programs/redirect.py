"""``python -m rfc3261 redirect``: a redirect server (RFC 3261 §8.3) with its registrar.

Run it::

    python -m rfc3261 redirect --listen sip:127.0.0.1:5060 --domain example.com \\
        --db /var/lib/sipref/location.db [--user alice --user bob] [--status 302]

REGISTER requests are handled as ``python -m rfc3261 registrar`` handles them (the same
flags: ``--auth-file``, ``--min-expires``...), into the same location service (``--db``,
which a registrar or proxy program may share).  Any other request for a user of
``--domain`` is answered by :class:`rfc3261.redirect.RedirectServer`: a 3xx listing the
user's bindings as Contact values (q-values, expires), 404 for an unknown user, 480 for
one named by ``--user`` but not registered; ``--static USER=URI`` adds a contact that
does not expire.  CANCEL gets 200 (§8.3), an ACK is absorbed,
an OPTIONS to the server itself (no user part) gets 200 with Allow.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..asyncio.dispatcher import CORE_CLOCK, Source
from ..location import LocationError
from ..message import Request
from ..redirect import RedirectConfig, RedirectServer
from ..registrar import Registrar
from . import common
from .registrar import (
    RegistrarUser,
    add_registrar_arguments,
    add_t1_argument,
    make_dispatcher,
    make_registrar,
)

__all__ = ["RedirectUser", "build_parser", "main"]


class RedirectUser(RegistrarUser):
    """The transaction user of the redirect program: REGISTER as the registrar, the rest
    to the :class:`RedirectServer`; each request is answered at once."""

    def __init__(
        self, registrar: Registrar, redirect: RedirectServer, clock: Any = CORE_CLOCK
    ) -> None:
        super().__init__(registrar, clock)
        self.redirect = redirect

    def on_request(self, request: Request, transaction: Any, source: Source) -> None:
        if transaction is None:
            return  # an ACK outside a transaction: the server sends no 2xx to INVITE
        if request.method == "REGISTER":
            super().on_request(request, transaction, source)
            return
        try:
            response = self.redirect.respond(request, self.clock())
        except LocationError as error:
            common.LOG.error("location service failed: %s", error)
            response = request.make_response(500, "Server Internal Error (location)")
        if response is not None:
            self.dispatcher.send_response(transaction, response)


def build_parser() -> Any:
    parser = common.base_parser("python -m rfc3261 redirect", __doc__)
    add_registrar_arguments(parser)
    add_t1_argument(parser)
    parser.add_argument(
        "--user",
        action="append",
        default=None,
        metavar="NAME",
        help="a user of --domain that exists even when not registered (480 instead of 404; "
        "repeatable)",
    )
    parser.add_argument(
        "--static",
        action="append",
        default=None,
        metavar="USER=URI",
        help="a contact USER of --domain is always redirected to, besides its registered "
        "ones (repeatable)",
    )
    parser.add_argument(
        "--status",
        type=int,
        default=302,
        choices=(300, 301, 302, 305, 380),
        help="the 3xx to redirect with (default %(default)s)",
    )
    return parser


def make_redirect(args: Any, registrar: Registrar, location: Any) -> RedirectServer:
    """The redirect server the flags describe."""
    domains = frozenset(d.lower() for d in args.domain or ())
    known = frozenset(
        f"sip:{name}@{domain}" for name in (args.user or ()) for domain in sorted(domains)
    )
    static: dict[str, tuple[str, ...]] = {}
    for item in args.static or ():
        name, sep, uri = item.partition("=")
        if not sep or not name or not uri:
            raise common.ConfigError(f"--static {item!r}: expected USER=URI")
        for domain in sorted(domains):
            aor = f"sip:{name}@{domain}"
            static[aor] = (*static.get(aor, ()), uri)
    return RedirectServer(
        location,
        RedirectConfig(domains=domains, status=args.status),
        registrar,
        users=known.__contains__ if known else None,
        static=static,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the redirect server until SIGINT or SIGTERM."""
    parser = build_parser()
    args = common.parse_args(parser, argv)
    if not args.domain:
        parser.error("--domain is needed: a redirect server redirects the users of its domains")
    common.setup_logging(args)
    try:
        registrar, location = make_registrar(args)
    except (common.ConfigError, OSError, ValueError) as error:
        parser.error(str(error))
    try:
        redirect = make_redirect(args, registrar, location)
    except common.ConfigError as error:
        parser.error(str(error))

    async def amain(stop: asyncio.Event) -> int:
        user = RedirectUser(registrar, redirect)
        dispatcher = make_dispatcher(args, user)
        common.install_wire_log(dispatcher, verbose=args.verbose >= 1)
        try:
            await common.open_listeners(dispatcher, args.listen_uris)
            user.schedule_expiry()
            await stop.wait()
        finally:
            user.stop()
            await dispatcher.close()
            location.close()
        return 0

    return common.run(amain, args)
