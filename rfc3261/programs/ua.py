"""``python -m rfc3261 ua``: a command-line user agent (RFC 3261 §8, §10.2, §11, §13, §15).

The program runs the sans-I/O :class:`rfc3261.ua_core.UserAgent` on sockets with
:class:`rfc3261.asyncio.dispatcher.CoreHost` and does, in this order, what its options ask:

1. ``--register AOR`` binds its contact to AOR (§10.2) with a REGISTER whose
   Request-URI is the AOR's domain, sent to ``--registrar`` (a Route to it), else
   through ``--outbound-proxy``, else to the domain itself; it answers a 401/407 with
   ``--user``/``--password`` (§22.2); the binding is removed on exit;
2. ``--options URI`` sends OPTIONS (§11) and prints the response; ``--open URI`` sends
   the request a SIP URI asks for (§19.1.5: its method parameter, its headers, what the
   UA honours of them) and prints the response, or why it refused to send it;
3. ``--call URI`` sends INVITE (§13.2), waits for the answer, hangs up with BYE
   after ``--duration`` seconds (§15.1.1), ``--count`` times; with ``--transfer-to
   URI`` it transfers the peer to URI instead (REFER, RFC 3515: the NOTIFYs' progress
   is printed, BYE after the final 2xx), with ``--attended URI`` it calls URI too and
   transfers the first peer to it with Replaces (RFC 3891), hanging up both legs;
4. ``--message URI --text TEXT`` sends an instant message (RFC 3428, with
   ``--extension message``; incoming ones are printed);
5. ``--publish-presence open|closed`` publishes our presence (RFC 3903, PIDF of
   RFC 3863) for the AOR, through the outbound proxy (extension ``publisher``), kept
   refreshed while the program runs and removed on exit; ``--subscribe URI`` subscribes
   to URI's presence (RFC 6665, RFC 3856; extension ``events``) and prints the state
   each NOTIFY carries, ``--count`` of them, then unsubscribes;
6. ``--answer CODE`` accepts (200) or refuses (4xx-6xx) every incoming INVITE
   (§13.3.1; those for ``--ring-user`` only ring, to be CANCELled, §9.2; those for
   ``--busy-user`` get 486, §13.3.1.3; those for ``--hang-up-user`` are answered and
   hung up by us ``--hang-up-after`` seconds later, §15, those for ``--hold-user``
   put on hold by our re-INVITE then, §14.1) until
   ``--count`` calls are over, ``--timeout`` seconds have passed or the process
   gets SIGINT/SIGTERM.

With ``--outbound URI`` (repeatable) ``--register`` uses RFC 5626 outbound
(``extensions/rfc5626_ua.py``): one flow per URI, each registered with
``--instance-id`` and its reg-id, kept alive (CRLF on TCP, STUN on UDP) and
registered again when it fails; each change of a flow's state is printed.

``--extension NAMES`` installs extensions from ``extensions/`` by name
(:mod:`rfc3261.programs.plugins`; ``--help`` lists them): ``reason`` adds a Reason
(RFC 3326) to the program's CANCEL and BYE (``--reason`` to choose it) and prints the
one a peer gives; ``timer`` negotiates session timers (RFC 4028, ``--session-expires``,
``--min-se``) and prints the interval agreed and each refresh sent.

Exit status: 0 when everything succeeded; 3, 4, 5 or 6 for a final response of
that class (the status itself is printed; a transaction timeout is a 408 and a
transport failure a 503, §8.1.3.1); 1 when ``--timeout`` ran out first; 2 for
bad usage.  Without ``--dns`` there is no DNS: every host the program sends to
must be an IP literal; with it names are located by RFC 3263 and a failed server
is followed by the next (ServerFailover).  Each message on the wire is logged
(:func:`rfc3261.programs.common.install_wire_log`: ``-v`` whole messages, ``-q`` none).
Usage and examples: docs/guides/programs-ua.rst.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.transport import bracketed, is_ip_address, unbracketed
from rfc3261.auth_client import StaticCredentials
from rfc3261.extension import UAExtension
from rfc3261.headers import Via
from rfc3261.locate import ServerFailover
from rfc3261.message import Request, Response
from rfc3261.programs.common import (
    base_parser,
    client_ssl_context,
    install_wire_log,
    make_resolver,
    open_listeners,
    parse_args,
    run,
    server_ssl_context,
    setup_logging,
    transport_limits,
)
from rfc3261.programs.plugins import available_ua_extensions, load_ua_extensions
from rfc3261.registration import Registration, RegistrationEvent
from rfc3261.session import (
    Call,
    CallEnded,
    CallEstablished,
    CallFailed,
    IncomingCall,
    ReinviteReceived,
    ReinviteResult,
)
from rfc3261.timers import TimerValues, is_reliable
from rfc3261.transaction import SendMessage
from rfc3261.ua_core import (
    Dropped,
    IncomingRequest,
    ResponseEvent,
    UAConfig,
    UserAgent,
)
from rfc3261.uac import InvalidURIRequest
from rfc3261.uri import SipURI, parse_uri

__all__ = [
    "Outcome",
    "UsageError",
    "UserAgentProgram",
    "accepts_sdp",
    "build_parser",
    "check_arguments",
    "main",
    "run_program",
    "sdp_answer",
    "sdp_offer",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(ValueError):
    """A command line the program cannot act on (exit status 2)."""


# -- command line ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The common program flags (``--listen``, ``-v``/``-q``, TLS files...) and the UA's."""
    parser = base_parser(
        "python -m rfc3261 ua",
        "A SIP user agent: register, send OPTIONS, call, answer.\n"
        "No DNS: every host it sends to must be an IP literal.",
    )
    ua = parser.add_argument_group("user agent")
    ua.add_argument("--aor", metavar="URI", help="our address-of-record (From)")
    ua.add_argument("--register", metavar="AOR", help="register this address-of-record")
    ua.add_argument(
        "--registrar",
        metavar="URI",
        help="where to send REGISTER (default: the outbound proxy, else the AOR's host)",
    )
    ua.add_argument("--expires", type=int, default=3600, help="registration interval (seconds)")
    ua.add_argument("--user", help="digest username (default: the AOR's user part)")
    ua.add_argument("--password", help="digest password, to answer 401/407 challenges")
    ua.add_argument("--outbound-proxy", metavar="URI", help="send every request through it")
    ua.add_argument(
        "--outbound",
        metavar="URI",
        action="append",
        help="with --register: register through this edge with RFC 5626 outbound, one flow"
        " per --outbound (repeatable), kept alive and re-formed when it fails",
    )
    ua.add_argument("--instance-id", metavar="URN", help="our +sip.instance (a UUID URN)")
    ua.add_argument(
        "--outbound-base-time",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="RFC 5626 §4.5 back-off base time when every flow failed (default 30;"
        " with a flow up it is 3 times this, and the wait is capped at 60 times)",
    )
    ua.add_argument("--options", metavar="URI", help="send OPTIONS and print the response")
    ua.add_argument(
        "--open",
        metavar="URI",
        help="send the request URI asks for (RFC 3261 §19.1.5: ;method=, ?headers) and print "
        "the response; an INVITE formed this way is a single transaction, not a call",
    )
    ua.add_argument("--call", metavar="URI", help="call this URI")
    ua.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="seconds to stay in a call before BYE (with --publish-presence: to keep the "
        "publication, refreshed, before removing it)",
    )
    ua.add_argument(
        "--answer",
        type=int,
        metavar="CODE",
        help="answer every incoming INVITE: 200 accepts, 400-699 refuses",
    )
    ua.add_argument("--ring", action="store_true", help="send 180 (Ringing) before answering")
    ua.add_argument(
        "--ring-user",
        metavar="USER",
        help="INVITEs for this Request-URI user ring (180) and are never answered",
    )
    ua.add_argument(
        "--busy-user",
        metavar="USER",
        help="INVITEs for this Request-URI user are refused 486 (Busy Here)",
    )
    ua.add_argument(
        "--hang-up-user",
        metavar="USER",
        help="calls to this Request-URI user are answered, then hung up by us (BYE)"
        " --hang-up-after seconds later",
    )
    ua.add_argument(
        "--hold-user",
        metavar="USER",
        help="calls to this Request-URI user are answered, then put on hold by us (a"
        " re-INVITE) --hang-up-after seconds later",
    )
    ua.add_argument(
        "--hang-up-after",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between answering a --hang-up-user call and our BYE (default 1)",
    )
    ua.add_argument(
        "--codecs",
        metavar="LIST",
        help="codecs to offer and answer with, e.g. PCMU,PCMA,opus (SDP, RFC 3264; "
        "default PCMU,PCMA; no media is sent)",
    )
    ua.add_argument(
        "--hold", type=float, metavar="S", help="put each call on hold S seconds after it starts"
    )
    ua.add_argument(
        "--resume", type=float, metavar="S", help="take it off hold S seconds after it starts"
    )
    ua.add_argument(
        "--hold-as",
        choices=("sendonly", "recvonly", "inactive"),
        default=None,
        help="the direction --hold offers (default: sendonly, RFC 3264 §8.4; recvonly or "
        "inactive: the wish to only receive, or neither, §5.1)",
    )
    ua.add_argument(
        "--count", type=int, default=None, help="calls or OPTIONS to send, or calls to answer"
    )
    ua.add_argument(
        "--timeout", type=float, default=None, help="give up (or stop answering) after S seconds"
    )
    ua.add_argument(
        "--cancel-after",
        type=float,
        metavar="S",
        help="hang up (CANCEL) a call not answered within S seconds",
    )
    ua.add_argument(
        "--require-100rel",
        action="store_true",
        help="insist on reliable provisional responses: Require: 100rel in our INVITEs "
        "(RFC 3262; needs --extension 100rel)",
    )
    ua.add_argument(
        "--invite-expires",
        type=int,
        metavar="S",
        help="put Expires: S in our INVITEs: the core CANCELs one still unanswered then "
        "(RFC 3261 §13.2.1)",
    )
    ua.add_argument(
        "--t1",
        type=float,
        metavar="S",
        help="T1, the round-trip estimate every retransmission timer derives from (RFC 3261 "
        "§17.1.1.2; default 0.5 s; smaller makes timeouts testable quickly)",
    )
    add_extension_arguments(ua)
    return parser


def add_extension_arguments(group: argparse._ArgumentGroup) -> None:
    """``--extension`` (with what is installed) and the options of the extensions."""
    installed = ", ".join(available_ua_extensions()) or "none"
    group.add_argument(
        "--extension",
        metavar="NAMES",
        help=f"install these extensions (comma-separated; installed: {installed})",
    )
    group.add_argument(
        "--message", metavar="URI", help="send an instant message (needs --extension message)"
    )
    group.add_argument("--text", default="", help="the text of --message")
    group.add_argument(
        "--publish-presence",
        choices=("open", "closed"),
        help="publish our presence for the AOR (RFC 3903; loads --extension publisher)",
    )
    group.add_argument(
        "--publish-change",
        choices=("open", "closed"),
        help="once --publish-presence is accepted, modify it to this state (RFC 3903 §4.4)",
    )
    group.add_argument(
        "--subscribe",
        metavar="URI",
        help="subscribe to URI's presence and print each NOTIFY (RFC 6665; loads events)",
    )
    group.add_argument(
        "--transfer-to",
        metavar="URI",
        help="once --call is up, transfer the peer to URI with REFER (RFC 3515; loads refer)",
    )
    group.add_argument(
        "--attended",
        metavar="URI",
        help="once --call is up, call URI too, then transfer the first peer to it with "
        "REFER and Replaces (RFC 3515, RFC 3891; loads refer)",
    )
    group.add_argument(
        "--reason",
        metavar="VALUE",
        help="Reason of our CANCEL and BYE, e.g. 'SIP;cause=600;text=\"Busy\"' "
        "(needs --extension reason)",
    )
    group.add_argument(
        "--session-expires",
        type=int,
        metavar="SECONDS",
        help="session interval to ask for, RFC 4028 (needs --extension timer)",
    )
    group.add_argument(
        "--min-se",
        type=int,
        metavar="SECONDS",
        help="smallest session interval accepted (needs --extension timer)",
    )


def sip_uri(text: str, what: str) -> SipURI:
    """``text`` parsed as a SIP or SIPS URI; UsageError naming the option otherwise."""
    try:
        uri = parse_uri(text)
    except ValueError as error:
        raise UsageError(f"{what}: {text!r} is not a valid URI ({error})") from None
    if not isinstance(uri, SipURI):
        raise UsageError(f"{what}: {text!r} is not a SIP or SIPS URI")
    return uri


def require_ip_literal(text: str, what: str) -> SipURI:
    """``text`` parsed as a SIP(S) URI whose host is an IP literal; UsageError otherwise."""
    uri = sip_uri(text, what)
    host = uri.maddr or uri.host
    if not is_ip_address(unbracketed(host)):
        raise UsageError(
            f"{what}: {host!r} is not an IP address; this program does no DNS "
            "without --dns: write the host as an IP literal, or give --dns SERVER"
        )
    return uri


def uri_transport(uri: SipURI) -> str:
    """The transport a request to ``uri`` uses: TLS for sips:, else ``transport`` or UDP."""
    return "TLS" if uri.scheme == "sips" else (uri.transport or "udp").upper()


@dataclass
class Plan:
    """The checked first hops: outbound proxy, registrar, and the --options/--call targets."""

    proxy: SipURI | None
    registrar: SipURI | None
    targets: dict[str, SipURI]
    extensions: list[UAExtension] = field(default_factory=list)
    # The SDP extension the program adds itself (None: named in --extension, or absent).
    sdp: UAExtension | None = None


def check_arguments(args: argparse.Namespace) -> Plan:
    """What the command line asks for; UsageError for one the program cannot carry out."""
    actions = (
        args.register,
        args.options,
        args.open,
        args.call,
        args.message,
        args.publish_presence,
    )
    if not (any(actions) or args.subscribe or args.answer is not None):
        raise UsageError(
            "nothing to do: give --register, --options, --open, --call, --message,"
            " --publish-presence,"
            " --subscribe or --answer"
        )
    if args.answer is not None and not (args.answer == 200 or 400 <= args.answer <= 699):
        raise UsageError(f"--answer {args.answer}: use 200 (accept) or 400-699 (refuse)")
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.t1 is not None and not 0 < args.t1 <= 4.0:
        raise UsageError("--t1 must be positive and at most T2, 4 s (RFC 3261 §17.1.2.2)")
    if args.cert and not args.key:
        raise UsageError("--cert needs --key")
    if args.password is not None and not (args.user or args.register or args.aor):
        raise UsageError("--password needs --user (or an AOR with a user part)")
    # With --dns any host is resolved (RFC 3263); without it the first hop is an IP.
    require_ip_host = sip_uri if getattr(args, "dns", None) else require_ip_literal
    proxy = (
        require_ip_host(args.outbound_proxy, "--outbound-proxy") if args.outbound_proxy else None
    )
    registrar: SipURI | None = None
    if args.register:
        aor = sip_uri(args.register, "--register")
        # The REGISTER names the AOR's domain (RFC 3261 §10.2) and goes to --registrar,
        # else through --outbound-proxy, else to that domain, which must then be an IP.
        if args.registrar:
            registrar = require_ip_host(args.registrar, "--registrar")
        elif proxy is None and not getattr(args, "outbound", None):
            try:
                registrar = require_ip_host(
                    f"{aor.scheme}:{aor.host_port}", "--register (registrar from the AOR)"
                )
            except UsageError as error:
                raise UsageError(f"{error}; or give --registrar or --outbound-proxy") from None
    elif args.registrar:
        raise UsageError("--registrar needs --register")
    outbound = getattr(args, "outbound", None)
    if (outbound or getattr(args, "instance_id", None)) and not (args.register and outbound):
        raise UsageError("--outbound needs --register, and --instance-id needs --outbound")
    # Without --dns the first hop of every request must be an IP literal.
    targets: dict[str, SipURI] = {}
    if args.publish_presence:
        aor = args.aor or args.register
        if not aor:
            raise UsageError("--publish-presence needs --aor or --register (the presentity)")
        targets["publish_presence"] = (
            sip_uri(aor, "--aor") if proxy else require_ip_host(aor, "--publish-presence (AOR)")
        )
    if (args.transfer_to or args.attended) and not args.call:
        raise UsageError("--transfer-to and --attended need --call (the call to transfer)")
    if args.transfer_to and args.attended:
        raise UsageError("give --transfer-to (blind) or --attended, not both")
    for option in ("options", "open", "call", "message", "subscribe", "transfer_to", "attended"):
        text = getattr(args, option)
        if text is None:
            continue
        if proxy is None:
            targets[option] = require_ip_host(text, f"--{option}")
        else:
            targets[option] = sip_uri(text, f"--{option}")

    extensions = extensions_of(args)
    return Plan(proxy, registrar, targets, extensions, sdp_of(args, extensions))


def extensions_of(args: argparse.Namespace) -> list[UAExtension]:
    """The extensions ``--extension`` names, checked against the options that need them."""
    try:
        extensions = load_ua_extensions(args.extension)
        names = {extension.name for extension in extensions}
        # The presence options load what they need (RFC 3903's publisher, RFC 6665's events).
        wanted = [
            n
            for o, n in (
                *(("publish_presence", "publisher"), ("subscribe", "events")),
                *(("transfer_to", "refer"), ("attended", "refer")),
            )
            if getattr(args, o) and n not in names
        ]
        if getattr(args, "outbound", None) and "outbound" not in names:
            wanted.append("outbound")  # RFC 5626 (extensions/rfc5626_ua.py)
        extensions += load_ua_extensions(",".join(dict.fromkeys(wanted))) if wanted else []
        # refer joins an events extension installed before it (else it installs its own).
        extensions.sort(key=lambda extension: extension.name != "events")
    except ValueError as error:
        raise UsageError(f"--extension: {error}") from None
    names = {extension.name for extension in extensions}
    needs = (("message", "message"), ("reason", "reason"), ("session-expires", "timer"))
    for option, name in (*needs, ("min-se", "timer")):
        if getattr(args, option.replace("-", "_")) is not None and name not in names:
            raise UsageError(f"--{option} needs --extension {name}")
    if args.publish_change and not args.publish_presence:
        raise UsageError("--publish-change needs --publish-presence")
    if args.text and not args.message:
        raise UsageError("--text needs --message")
    if getattr(args, "require_100rel", False) and "100rel" not in names:
        raise UsageError("--require-100rel needs --extension 100rel")
    for extension in extensions:
        if extension.name == "100rel" and getattr(args, "require_100rel", False):
            extension.require = True  # type: ignore[attr-defined]
        if extension.name == "reason" and args.reason:
            try:
                extension.give("--reason", args.reason)  # type: ignore[attr-defined]
            except ValueError as error:
                raise UsageError(f"--reason: {error}") from None
        if extension.name == "outbound" and getattr(args, "outbound", None):
            try:
                instance = args.instance_id or extension.new_instance_id()  # type: ignore[attr-defined]
                base = args.outbound_base_time
                extension.configure(  # type: ignore[attr-defined]
                    instance_id=instance,
                    proxies=args.outbound,
                    expires=args.expires,
                    base_time_all_failed=base,
                    base_time_some_ok=3 * base,
                    max_time=60 * base,
                )
            except ValueError as error:
                raise UsageError(f"--outbound/--instance-id: {error}") from None
        if extension.name == "timer":
            try:
                extension.configure(  # type: ignore[attr-defined]
                    session_expires=args.session_expires, min_se=args.min_se
                )
            except ValueError as error:
                raise UsageError(f"--session-expires/--min-se: {error}") from None
    return extensions


def sdp_of(args: argparse.Namespace, extensions: list[UAExtension]) -> UAExtension | None:
    """The SDP offer/answer extension (RFC 3264, extensions/rfc3264.py), configured.

    Installed unless ``--extension`` named it already; without the extensions package
    the program falls back to descriptions with every stream at port 0.
    """
    sdp = next((e for e in extensions if e.name == "sdp"), None)
    if sdp is None and "sdp" in available_ua_extensions():
        (sdp,) = load_ua_extensions("sdp")
    if sdp is None and (args.codecs or args.hold is not None or args.resume is not None):
        raise UsageError("--codecs, --hold and --resume need the sdp extension")
    if args.resume is not None and (args.hold is None or args.resume <= args.hold):
        raise UsageError("--resume needs a --hold before it")
    if sdp is not None and args.codecs:
        try:
            sdp.configure(codecs=args.codecs)  # type: ignore[attr-defined]
        except ValueError as error:
            raise UsageError(f"--codecs: {error}") from None
    return sdp if sdp not in extensions else None


# -- session descriptions without the sdp extension (no media: every stream is port 0) ---


def sdp_offer(host: str) -> bytes:
    """An SDP offer with one audio stream at port 0: offered, never used (RFC 3264 §5.1)."""
    family = "IP6" if ":" in host else "IP4"
    lines = [
        "v=0",
        f"o=- 1 1 IN {family} {host}",
        "s=-",
        f"c=IN {family} {host}",
        "t=0 0",
        "m=audio 0 RTP/AVP 0",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.1
##% The semantics are also identical, with the exception that if no Accept
##% header field is present, the server SHOULD assume a default value of
##% application/sdp.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.1
##% An empty Accept header field means that no formats are acceptable.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.7
##% The resource identified by the request is only capable of generating
##% response entities that have content characteristics not acceptable
##% according to the Accept header field sent in the request.
def accepts_sdp(request: Request) -> bool:
    """Whether a response to ``request`` may carry an SDP body (else 406)."""
    if request.headers.get("Accept") is None:
        return True
    try:
        ranges = request.header("Accept") or []
    except ValueError:
        # §8.2.2: a malformed header field the UAS can do without is ignored.
        return True
    return any(
        (r.type.lower(), r.subtype.lower()) in (("application", "sdp"), ("application", "*"))
        or (r.type, r.subtype) == ("*", "*")
        for r in ranges
    )


def sdp_answer(offer: bytes, host: str) -> bytes:
    """An SDP answer declining every offered stream with port 0 (RFC 3264 §6)."""
    family = "IP6" if ":" in host else "IP4"
    lines = ["v=0", f"o=- 1 1 IN {family} {host}", "s=-", f"c=IN {family} {host}", "t=0 0"]
    for line in offer.decode("utf-8", "replace").splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            if len(fields) >= 4:
                lines.append(f"m={fields[0]} 0 {fields[2]} {' '.join(fields[3:])}")
    return ("\r\n".join(lines) + "\r\n").encode()


# -- output ------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")


def _status_line(response: Response) -> str:
    return f"{response.status} {response.reason}"


# -- the program ---------------------------------------------------------------------------


class ProgramUserAgent(UserAgent):
    """The UA core, with each request's Via naming the transport it is sent over.

    The core writes one Via transport (its configuration's); this program listens on
    several, and a request follows its destination URI (a ``;transport=tcp`` remote
    target, a sips: route) to whichever transport that names.
    """

    def __init__(
        self, config: UAConfig, host: CoreHost, extensions: list[UAExtension] | None = None
    ) -> None:
        super().__init__(config, extensions=extensions or ())
        self.host = host

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% If this causes a change in the transport protocol from the
    ##% one indicated in the top Via, the value in the top Via MUST be
    ##% changed.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-6.1
    ##% UA implementations SHOULD then be ready to change the transport
    ##% protocol between initial and subsequent requests.
    ##= https://www.rfc-editor.org/rfc/rfc5658#section-7
    ##% Finally, UAs SHOULD be ready to switch transports between
    ##% the initial request and further in-dialog messages.
    def match_via(self, request: Request) -> None:
        """Make the top Via name the transport (and our port on it) ``request`` goes over."""
        destination = self.destination_for(request)
        if not isinstance(destination, SipURI):
            return
        transport = uri_transport(destination)
        via = request.top_via
        if via.transport.upper() == transport:
            return
        point = self.host.local_point(transport)
        if point.transport == transport:
            address = point.address
            new = Via(transport, bracketed(address.host), address.port, via.params)
        elif is_reliable(transport) and not is_reliable(via.transport):
            ##= https://www.rfc-editor.org/rfc/rfc7118#section-5
            ##% Thus, client and server transactions using WebSocket for transport MUST
            ##% follow the procedures and timer values for reliable transports as defined
            ##% in [RFC3261].
            # A transport we only connect out on (a WebSocket client listens nowhere): the
            # transaction is reliable by its top Via; the transport layer writes the sent-by.
            new = Via(transport, via.host, via.port, via.params)
        else:
            return  # no listening point of that transport: keep what the core wrote
        request.headers.remove_first("Via")
        request.headers.prepend("Via", str(new))

    def before_transaction(self, request: Request) -> None:
        self.match_via(request)


class ProgramHost(CoreHost):
    """CoreHost whose requests sent outside transactions (ACK for a 2xx) get the same Via
    fix, and which says why a TLS connection failed when the peer's certificate is not
    trusted (``report``: where the program prints)."""

    report: Callable[[str], None] | None = None

    def _transport_error(self, token: Any, error: Exception) -> None:
        if isinstance(error, ssl.SSLCertVerificationError) and self.report is not None:
            self.report(
                f"error: TLS: the server's certificate could not be verified "
                f"({error.verify_message or error}); trust its CA with --ca PEM "
                "(without --ca, the system's CAs are used)"
            )
        super()._transport_error(token, error)

    def run(self, effects: list[Any]) -> None:
        core = self.core
        if isinstance(core, ProgramUserAgent):
            for effect in effects:
                if (
                    isinstance(effect, SendMessage)
                    and effect.transaction is None
                    and isinstance(effect.message, Request)
                ):
                    core.match_via(effect.message)
        super().run(effects)


@dataclass
class _Waiter:
    predicate: Callable[[Any], bool]
    future: asyncio.Future[Any]


@dataclass
class Outcome:
    """What the program did: its exit status and the counts the tests look at."""

    status: int = EXIT_OK
    calls_made: int = 0
    calls_established: int = 0
    calls_answered: int = 0
    calls_refused: int = 0
    calls_ended: int = 0
    registered: bool = False
    finals: list[int] = field(default_factory=list)


class UserAgentProgram:
    """One run of ``python -m rfc3261 ua`` on the running event loop."""

    def __init__(
        self,
        args: argparse.Namespace,
        out: TextIO | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.args = args
        self.out = out or sys.stdout
        self.outcome = Outcome()
        self.loop = asyncio.get_running_loop()
        self.stop = stop or asyncio.Event()
        self.waiters: list[_Waiter] = []
        self.active: set[Call] = set()
        self.tasks: set[asyncio.Task[Any]] = set()  # our BYEs for --hang-up-user calls
        self.ended_incoming = 0
        self.host: CoreHost | None = None
        self.ua: UserAgent | None = None
        self.registration: Registration | None = None
        self.publication: Any = None  # --publish-presence (RFC 3903)
        self.outbound_edge: Any = None  # --outbound (RFC 5626)
        self.deadline = None if args.timeout is None else self.loop.time() + args.timeout
        plan = check_arguments(args)
        self.proxy, self.registrar, self.targets = plan.proxy, plan.registrar, plan.targets
        self.extensions = plan.extensions + ([plan.sdp] if plan.sdp is not None else [])

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- setup ---------------------------------------------------------------------

    def _transport(self) -> str:
        """The transport of our Via and Contact: that of the first hop we send to."""
        first = self.proxy or self.registrar or self.targets.get("call")
        first = first or self.targets.get("options")
        if first is None and getattr(self.args, "outbound", None):
            first = sip_uri(self.args.outbound[0], "--outbound")
        if first is not None:
            return uri_transport(first)
        return self.host.listening_points[0].transport if self.host else "UDP"

    async def setup(self) -> None:
        args = self.args
        self.host = host = ProgramHost(
            None,
            self.deliver,
            server_ssl=server_ssl_context(
                args.cert,
                args.key,
                client_auth=args.tls_client_auth,
                ca=args.ca,
                rfc3261_ciphers=args.tls_rfc3261_ciphers,
            ),
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
            ##% All SIP
            ##% elements that support TLS MUST have a mechanism for validating
            ##% certificates received during TLS negotiation; this entails possession
            ##% of one or more root certificates issued by certificate authorities
            ##% (preferably well-known distributors of site certificates comparable
            ##% to those that issue root certificates for web browsers).
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
            ##% It is strongly RECOMMENDED that UAs be capable initiating TLS; UAs MAY also be
            ##% capable of acting as a TLS server.
            # Without --ca the system's CAs are those roots (issue 23).
            client_ssl=client_ssl_context(
                args.ca, cert=args.cert, key=args.key, rfc3261_ciphers=args.tls_rfc3261_ciphers
            ),
            limits=transport_limits(args),
            resolver=make_resolver(args),
        )
        host.report = self.say
        install_wire_log(host, verbose=args.verbose >= 1)
        if self.out is sys.stdout:
            await open_listeners(host, args.listen_uris)
        else:
            for uri in args.listen_uris:
                await host.listen(uri)
            self.say("listening on " + ", ".join(str(p.address) for p in host.listening_points))
        transport = self._transport()
        point = host.local_point(transport)
        if point.transport != transport and transport == "TLS":
            raise UsageError("a sips: first hop needs a sips: --listen (with --cert/--key)")
        aor = args.aor or args.register
        user = args.user
        if aor is None:
            aor = f"sip:{user or 'ua'}@{point.address.hostport}"
        aor_uri = parse_uri(aor)
        if user is None and isinstance(aor_uri, SipURI):
            user = aor_uri.user
        credentials = None
        if args.password is not None:
            credentials = StaticCredentials(default=(user or "", args.password))
        config = UAConfig(
            aor=aor,
            contact=point.uri(user),
            sent_by=point.sent_by,
            transport=point.transport,
            outbound_proxy=str(self.proxy) if self.proxy else None,
            credentials=credentials,
        )
        if args.t1 is not None:
            config.timers = TimerValues(T1=args.t1)
        self.ua = ProgramUserAgent(config, host, self.extensions)
        if args.dns:
            # With DNS a name may give several servers: after a 503 or no answer, the next.
            self.ua.use(ServerFailover(host.next_target))
        host.core = self.ua
        outbound = self.ua.extension("outbound") if getattr(args, "outbound", None) else None
        if outbound is not None:  # its keep-alives on our sockets (RFC 5626 §4.4)
            edge = importlib.import_module("extensions.rfc5626_ua_asyncio")
            try:
                self.outbound_edge = edge.OutboundEdge(host, outbound)
            except ValueError as error:
                raise UsageError(f"--outbound: {error}") from None
            self.say(f"instance-id {outbound.settings.instance_id}")  # type: ignore[attr-defined]
        sdp = self.ua.extension("sdp")
        if sdp is not None:
            sdp.configure(address=point.address.host.strip("[]"))  # type: ignore[attr-defined]

    # -- events ----------------------------------------------------------------------

    def now(self) -> float:
        assert self.host is not None
        return self.host.clock()

    def run_effects(self, effects: list[Any]) -> None:
        assert self.host is not None
        self.host.run(effects)

    def deliver(self, event: Any) -> None:
        """An event from the UA core (called inside CoreHost.run).

        A request to answer is handled at once, before the transport hands the core
        the next message: a CANCEL read in the same batch as its INVITE then finds the
        call as the program left it (ringing, or already refused), never a call the
        program has not seen yet (§9.2: the CANCEL only ends a request still pending).
        Other events are handled on the next tick.
        """
        if self.outbound_edge is not None:
            self.outbound_edge.handle(event)  # at once: before the effects after it
        if isinstance(event, IncomingCall | IncomingRequest):
            self.on_event(event)
        else:
            self.loop.call_soon(self.on_event, event)

    def on_event(self, event: Any) -> None:
        if isinstance(event, IncomingCall):
            self.on_incoming_call(event)
        elif isinstance(event, IncomingRequest):
            # A request of a method the core lets through but nothing here implements.
            assert self.ua is not None
            self.run_effects(self.ua.respond(event.server, 501, self.now()))
        elif isinstance(event, CallEnded) and not event.call.is_uac:
            if event.call in self.active:
                self.active.discard(event.call)
                self.ended_incoming += 1
                self.outcome.calls_ended += 1
                self.say(
                    f"incoming call {event.call.call_id} ended ({event.reason})"
                    + self.peer_reason(event.call)
                )
            elif event.reason == "cancelled":  # a call left ringing (--ring-user), CANCELled
                self.say(
                    f"incoming call {event.call.call_id} ended ({event.reason})"
                    + self.peer_reason(event.call)
                )
        elif isinstance(event, CallEstablished | ReinviteResult | ReinviteReceived):
            self.on_session(event)
        elif type(event).__name__ == "ReferReceived":
            # A transfer (RFC 3515): the call it places is ours to end, as an answered one.
            self.say(event.describe())
            if event.referral.call is not None:
                self.active.add(event.referral.call)
        elif isinstance(event, Dropped):
            logging.getLogger("rfc3261.ua").debug("dropped: %s", event.reason)
        elif callable(getattr(event, "describe", None)):
            self.say(event.describe())  # an extension's event (a message received, ...)
        for waiter in list(self.waiters):
            if not waiter.future.done() and waiter.predicate(event):
                waiter.future.set_result(event)
        self.check_answer_done()

    def on_session(self, event: CallEstablished | ReinviteResult | ReinviteReceived) -> None:
        """A call's session is (re)negotiated: print it; hold and resume on schedule."""
        sdp = self.ua.extension("sdp") if self.ua else None
        call = event.call
        if sdp is None or call.ended:
            return
        if isinstance(event, ReinviteResult) and event.response.status >= 300:
            self.say(f"call {call.call_id}: re-INVITE {_status_line(event.response)}")
            return
        self.say(f"call {call.call_id} session: {sdp.session_text(call)}")  # type: ignore[attr-defined]
        problems = sdp.describer.mismatch(call)  # type: ignore[attr-defined]
        if problems:
            # An answer that breaks RFC 3264 §6 leaves no session both ends agree on.
            self.say(
                f"call {call.call_id}: the answer does not match our offer: {'; '.join(problems)}"
            )
            self.say(f"call {call.call_id}: hanging up")
            self.give_reason(call)
            self.run_effects(self.ua.sessions.hangup(call, self.now()))
            return
        if isinstance(event, CallEstablished):
            for delay, held in ((self.args.hold, True), (self.args.resume, False)):
                if delay is not None:
                    self.loop.call_later(delay, self.hold, call, held)

    def hold(self, call: Call, held: bool, tries: int = 20) -> None:
        """Put ``call`` on hold (or resume it) with a re-INVITE (RFC 3264 §8.4)."""
        sdp = self.ua.extension("sdp") if self.ua else None
        if sdp is None or call.ended or call.established is None:
            return
        what = "hold" if held else "resume"
        try:
            if held and self.args.hold_as:  # a direction of the user's own (§5.1)
                sdp.describer.want(call, self.args.hold_as)  # type: ignore[attr-defined]
                offer = sdp.describer.offer(call)  # type: ignore[attr-defined]
                effects = self.ua.sessions.reinvite(call, self.now(), offer)
            else:
                effects = sdp.hold(call, self.now(), held)  # type: ignore[attr-defined]
        except ValueError as error:  # an INVITE transaction in progress (§14.1)
            if tries > 1:  # it waits: try again shortly
                self.loop.call_later(0.25, self.hold, call, held, tries - 1)
                return
            self.say(f"call {call.call_id}: {what} not sent ({error})")
            return
        self.say(f"call {call.call_id}: {what} (re-INVITE)")
        self.run_effects(effects)

    def on_incoming_call(self, event: IncomingCall) -> None:
        assert self.ua is not None
        args = self.args
        call, now = event.call, self.now()
        caller = event.request.from_
        if call.ended or (call.server is not None and call.server.final_sent):
            # Answered already (a CANCEL, the INVITE's Expires): nothing left to decide.
            self.ended_incoming += 1
            self.say(f"incoming call {call.call_id} from {caller.uri}: ended before answering")
            return
        if args.answer is None:
            self.say(f"incoming call from {caller.uri}: refused 480 (not answering)")
            self.run_effects(self.ua.sessions.reject(call, now, 480))
            return
        request_uri = event.request.uri
        ringing_only = (
            args.ring_user is not None
            and isinstance(request_uri, SipURI)
            and request_uri.user == args.ring_user
        )
        busy = args.busy_user is not None and getattr(request_uri, "user", None) == args.busy_user
        if args.ring or ringing_only:
            self.run_effects(self.ua.sessions.ring(call, now))
        if busy:
            self.outcome.calls_refused += 1
            self.ended_incoming += 1
            self.say(f"incoming call {call.call_id} from {caller.uri}: refused 486 (busy)")
            self.run_effects(self.ua.sessions.reject(call, now, 486))
            return
        if ringing_only:
            # left ringing until the caller CANCELs it (§9.2) or gives up
            self.say(f"incoming call {call.call_id} from {caller.uri}: ringing, not answering")
            return
        if args.answer == 200 and not accepts_sdp(event.request):
            self.outcome.calls_refused += 1
            self.ended_incoming += 1
            self.say(f"incoming call {call.call_id} from {caller.uri}: refused 406 (Accept)")
            self.run_effects(self.ua.sessions.reject(call, now, 406))
            return
        if args.answer == 200:
            host = self.ua.contact_uri.host.strip("[]")
            offer = event.request.body
            body = b""  # the sdp extension's describer answers, or offers (RFC 3264)
            if self.ua.extension("sdp") is None:
                body = sdp_answer(offer, host) if offer else sdp_offer(host)
            self.active.add(call)
            self.outcome.calls_answered += 1
            self.say(f"incoming call {call.call_id} from {caller.uri}: answered 200")
            self.run_effects(self.ua.sessions.answer(call, now, body=body))
            if (
                args.hang_up_user is not None
                and getattr(request_uri, "user", None) == args.hang_up_user
            ):
                # the callee ends the call (§15): the core holds the BYE until the ACK came
                self.loop.call_later(args.hang_up_after, self.hang_up_later, call)
            if args.hold_user is not None and getattr(request_uri, "user", None) == args.hold_user:
                # the callee re-INVITEs (§14.1): the conformance cases make it meet theirs
                self.loop.call_later(args.hang_up_after, self.hold, call, True)
        else:
            self.outcome.calls_refused += 1
            self.ended_incoming += 1
            self.say(f"incoming call {call.call_id} from {caller.uri}: refused {args.answer}")
            self.run_effects(self.ua.sessions.reject(call, now, args.answer))

    def hang_up_later(self, call: Call) -> None:
        """Our BYE for an answered ``--hang-up-user`` call (nothing if it ended already)."""
        if not call.ended:
            task = self.loop.create_task(self.hang_up(call))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def check_answer_done(self) -> None:
        count = self.args.count
        if self.args.answer is not None and count is not None and self.ended_incoming >= count:
            self.stop.set()

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float | None) -> Any:
        """The next event matching ``predicate``; None on timeout, overall deadline or stop."""
        future: asyncio.Future[Any] = self.loop.create_future()
        waiter = _Waiter(predicate, future)
        self.waiters.append(waiter)
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            limit = self.remaining(timeout)
            done, _ = await asyncio.wait(
                {future, stopper}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
            return future.result() if future in done else None
        finally:
            stopper.cancel()
            self.waiters.remove(waiter)

    def remaining(self, timeout: float | None) -> float | None:
        if self.deadline is None:
            return timeout
        left = max(0.0, self.deadline - self.loop.time())
        return left if timeout is None else min(left, timeout)

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll ``condition`` every 10 ms for at most ``timeout`` seconds."""
        end = self.loop.time() + timeout
        while not condition():
            if self.loop.time() >= end:
                return False
            await asyncio.sleep(0.01)
        return True

    def fail(self, status: int) -> None:
        """Record a failure: the class of a final response, or EXIT_FAILED."""
        if self.outcome.status == EXIT_OK:
            self.outcome.status = status

    # -- the actions ---------------------------------------------------------------------

    async def register(self) -> bool:
        assert self.ua is not None
        if self.outbound_edge is not None:
            return await self.register_outbound()
        registration = Registration(
            self.ua,
            aor=self.args.register,
            registrar=str(self.registrar) if self.registrar else None,
            expires=self.args.expires,
        )
        self.registration = registration
        self.run_effects(registration.register(self.now()))
        event = await self.wait_for(
            lambda e: isinstance(e, RegistrationEvent) and e.registration is registration, 40.0
        )
        if event is None:
            self.say(f"REGISTER {self.args.register}: no final response")
            self.fail(EXIT_FAILED)
            return False
        self.outcome.finals.append(event.response.status)
        if event.response.status >= 300:
            self.say(f"REGISTER {self.args.register}: {_status_line(event.response)}")
            self.fail(event.response.status // 100)
            return False
        self.outcome.registered = True
        self.say(
            f"registered {self.args.register} at {self.registrar or self.proxy}"
            f" for {event.expires} s"
            f" ({_status_line(event.response)})"
        )
        return True

    async def register_outbound(self) -> bool:
        """--outbound: one flow per edge (RFC 5626 §4.2.1); registered once one is up."""
        outbound: Any = self.ua.extension("outbound") if self.ua else None
        self.run_effects(outbound.start(self.now()))
        flows = outbound.flows
        await self.until(
            lambda: (
                any(f.state == "active" for f in flows)
                or all(f.state in ("waiting", "unsupported") for f in flows)
            ),
            40.0,
        )
        if not any(f.state == "active" for f in flows):
            self.say(f"REGISTER {self.args.register}: no outbound flow came up")
            self.fail(EXIT_FAILED)
            return False
        self.outcome.registered = True
        self.say(f"registered {self.args.register} with outbound ({len(flows)} flows)")
        return True

    async def unregister(self) -> None:
        if self.outbound_edge is not None and self.ua is not None and self.outcome.registered:
            self.run_effects(self.ua.extension("outbound").stop(self.now()))  # type: ignore[union-attr]
            await asyncio.sleep(0.2)
            return
        registration = self.registration
        if registration is None or not self.outcome.registered:
            return
        self.run_effects(registration.unregister(self.now()))
        event = await self.wait_for(
            lambda e: isinstance(e, RegistrationEvent) and e.registration is registration, 5.0
        )
        if event is not None:
            self.say(f"unregistered {self.args.register} ({_status_line(event.response)})")

    async def options(self) -> None:
        assert self.ua is not None
        target = self.targets["options"]
        for _ in range(self.args.count or 1):
            client, effects = self.ua.request("OPTIONS", f"<{target}>", self.now())
            self.run_effects(effects)
            event = await self.wait_for(
                lambda e, c=client: (
                    isinstance(e, ResponseEvent) and e.client is c and e.response.status >= 200
                ),
                40.0,
            )
            if event is None:
                self.say(f"OPTIONS {target}: no final response")
                self.fail(EXIT_FAILED)
                return
            response = event.response
            self.outcome.finals.append(response.status)
            self.say(f"OPTIONS {target}: {_status_line(response)}")
            self.say(_text(bytes(response)))
            if response.status >= 300:
                self.fail(response.status // 100)

    async def open_uri(self) -> None:
        """``--open URI``: the request the URI asks for, formed by the UA core (§19.1.5);
        nothing is sent when the core refuses to form it (an invalid request, or one
        requiring an extension we do not support)."""
        assert self.ua is not None
        try:
            client, effects = self.ua.request_from_uri(self.args.open, self.now())
        except InvalidURIRequest as error:
            self.say(f"--open: nothing sent: {error}")
            self.fail(EXIT_FAILED)
            return
        self.run_effects(effects)
        event = await self.wait_for(
            lambda e, c=client: (
                isinstance(e, ResponseEvent) and e.client is c and e.response.status >= 200
            ),
            40.0,
        )
        method = client.request.method
        if event is None:
            self.say(f"{method} {self.args.open}: no final response")
            self.fail(EXIT_FAILED)
            return
        self.outcome.finals.append(event.response.status)
        self.say(f"{method} {self.args.open}: {_status_line(event.response)}")
        if event.response.status >= 300:
            self.fail(event.response.status // 100)

    async def calls(self) -> None:
        count = self.args.count or 1
        for number in range(1, count + 1):
            if self.stop.is_set() or self.remaining(None) == 0:
                self.say(f"call {number}: not made (stopped)")
                self.fail(EXIT_FAILED)
                return
            await self.one_call(number)

    async def one_call(self, number: int) -> None:
        assert self.ua is not None
        target = self.targets["call"]
        call, effects = self.place_call(str(target))
        self.outcome.calls_made += 1
        self.run_effects(effects)
        # --cancel-after: a call not answered by then is hung up (CANCEL, §9.1)
        event = await self.wait_for(
            lambda e: isinstance(e, CallEstablished | CallFailed | CallEnded) and e.call is call,
            self.args.cancel_after,
        )
        if not isinstance(event, CallEstablished):
            if isinstance(event, CallFailed):
                self.outcome.finals.append(event.response.status)
                self.say(f"call {number} to {target}: failed: {_status_line(event.response)}")
                self.fail(event.response.status // 100)
                return
            self.say(f"call {number} to {target}: no answer; hanging up")
            await self.hang_up(call)
            self.fail(EXIT_FAILED)
            return
        self.outcome.calls_established += 1
        self.outcome.finals.append(200)
        self.say(f"call {number} to {target}: established ({call.call_id})")
        if self.args.transfer_to or self.args.attended:
            await self.transfer(call)
            return
        # Stay in the call for --duration seconds unless the callee hangs up first.
        ended = await self.wait_for(
            lambda e: isinstance(e, CallEnded) and e.call is call, self.args.duration
        )
        if ended is not None:
            self.say(
                f"call {number}: ended by the callee ({ended.reason})" + self.peer_reason(call)
            )
            self.outcome.calls_ended += 1
            return
        status = await self.hang_up(call)
        self.outcome.calls_ended += 1
        self.say(f"call {number}: hung up (BYE answered {status or 'never'})")
        if status is None or (status >= 300 and status not in (408, 481)):
            # §15.1.1: 481 and 408 also end the session; anything else is an error.
            self.fail(EXIT_FAILED if status is None else status // 100)

    def place_call(self, target: str) -> tuple[Call, list[Any]]:
        """An INVITE to ``target`` with our offer (the sdp extension's, else port 0)."""
        ua = self.ua
        expires = self.args.invite_expires
        build: dict[str, Any] = {"headers": [("Expires", str(expires))]} if expires else {}
        sdp = ua.extension("sdp")
        if sdp is not None:
            return sdp.invite(f"<{target}>", self.now(), **build)  # type: ignore[attr-defined]
        host = ua.contact_uri.host.strip("[]")
        return ua.sessions.invite(f"<{target}>", self.now(), body=sdp_offer(host), **build)

    async def hang_up(self, call: Call) -> int | None:
        """BYE (or CANCEL) the call; the final status of the BYE, None without one."""
        assert self.ua is not None
        self.give_reason(call)
        effects = self.ua.sessions.hangup(call, self.now())
        byes = [
            self.ua._clients.get(e.transaction)
            for e in effects
            if isinstance(e, SendMessage)
            and e.transaction is not None
            and getattr(e.message, "method", "") == "BYE"
        ]
        self.run_effects(effects)
        clients = [c for c in byes if c is not None]
        if not clients:
            if call.client is not None and call.client.final is None:
                # CANCEL sent: wait for the INVITE's final response (487) a while.
                await self.wait_for(
                    lambda e: isinstance(e, CallFailed | CallEstablished) and e.call is call, 5.0
                )
            return None
        await self.until(lambda: all(c.final is not None for c in clients), 40.0)
        finals = [c.final.status for c in clients if c.final is not None]
        return max(finals) if finals else None

    async def transfer(self, call: Call) -> None:
        """``--transfer-to``/``--attended``: REFER the peer (RFC 3515), print its NOTIFYs,
        hang up (both legs, attended) once the transfer succeeded."""
        refer = self.ua.extension("refer")
        legs = [call]
        target = str(self.targets.get("transfer_to") or self.targets["attended"])
        refer_to = target
        if self.args.attended:
            second, effects = self.place_call(target)
            self.run_effects(effects)
            up = await self.wait_for(
                lambda e: isinstance(e, CallEstablished | CallFailed) and e.call is second, 40.0
            )
            if not isinstance(up, CallEstablished):
                self.say(f"transfer: the call to {target} failed; not transferring")
                self.fail(EXIT_FAILED)
                await self.hang_up(call)
                return
            legs.append(second)
            refer_to = refer.attended_refer_to(target, second.established)  # type: ignore[attr-defined]
        attempt, effects = refer.refer(  # type: ignore[attr-defined]
            refer_to, self.now(), dialog=call.established, referred_by=f"<{self.ua.aor.uri}>"
        )
        outcome: list[int] = []

        def watch(event: Any) -> bool:
            """Each event of the REFER's subscription as it comes (one waiter for them all:
            two NOTIFYs read in one batch are both seen); True once the transfer is over."""
            kind = type(event).__name__
            if kind == "SubscriptionFailed" and getattr(event, "attempt", None) is attempt:
                failed = event.response.status if event.response is not None else None
                self.say(f"transfer: refused ({failed or 'no answer'})")
                outcome.append(failed or 500)
            elif kind == "SubscriptionUpdate" and event.usage in attempt.usages.values():
                self.say(f"transfer: {event.content}")
                if event.state.value == "terminated":
                    outcome.append(event.content.status if event.content is not None else 500)
            return bool(outcome)

        self.say(f"transfer: REFER {call.call_id} to {refer_to}")
        self.run_effects(effects)
        await self.wait_for(watch, None if self.deadline is not None else 60.0)
        if not outcome:
            self.say("transfer: no final NOTIFY")
        status = outcome[0] if outcome else 500
        if status >= 300:
            self.fail(status // 100)
        for leg in legs:
            if not leg.ended:
                await self.hang_up(leg)
        self.outcome.calls_ended += 1
        self.say(f"transfer: {'done' if status < 300 else 'failed'}; hung up")

    # -- what extensions add (RFC 3326 Reason, RFC 3428 MESSAGE) ----------------------

    def give_reason(self, call: Call) -> None:
        """With ``reason`` installed: say why in the CANCEL or BYE about to go (RFC 3326)."""
        reasons = self.ua.extension("reason") if self.ua else None
        if reasons is None:
            return
        answered = call.client is None or call.client.final is not None
        default = 'Q.850;cause=16;text="Normal call clearing"'
        if not answered:
            default = 'Q.850;cause=19;text="No answer from user"'
        reasons.give(call.call_id, self.args.reason or default)  # type: ignore[attr-defined]

    def peer_reason(self, call: Call) -> str:
        """``"; Reason: ..."`` when the peer's CANCEL or BYE said why (RFC 3326)."""
        reasons = self.ua.extension("reason") if self.ua else None
        text = reasons.received_text(call.call_id) if reasons else None  # type: ignore[attr-defined]
        return f"; Reason: {text}" if text else ""

    async def send_messages(self) -> None:
        """``--message URI --text TEXT``, ``--count`` times, one at a time (RFC 3428 §8)."""
        assert self.ua is not None
        messages = self.ua.extension("message")
        target = self.targets["message"]
        for _ in range(self.args.count or 1):
            try:
                sent, effects = messages.send(  # type: ignore[attr-defined]
                    str(target), self.args.text, self.now()
                )
            except ValueError as error:
                raise UsageError(f"--message: {error}") from None
            self.run_effects(effects)
            event = await self.wait_for(
                lambda e, s=sent: getattr(e, "message", None) is s and hasattr(e, "response"),
                40.0,
            )
            if event is None:
                self.say(f"MESSAGE {target}: no final response")
                self.fail(EXIT_FAILED)
                return
            self.outcome.finals.append(event.response.status)
            if event.response.status >= 300:
                self.fail(event.response.status // 100)

    async def publish_presence(self) -> None:
        """``--publish-presence open|closed``: PUBLISH for our AOR (RFC 3903 §4.2)."""
        assert self.ua is not None
        publisher = self.ua.extension("publisher")
        target = str(self.targets["publish_presence"])
        ##= https://www.rfc-editor.org/rfc/rfc3856#section-7.3
        ##% When a PUA wishes to have direct manipulation of the presence
        ##% that is distributed to subscribers, direct uploading of presence
        ##% documents is RECOMMENDED.
        publication, effects = publisher.publish(  # type: ignore[attr-defined]
            target, "presence", self.args.publish_presence, self.now(), expires=self.args.expires
        )
        self.publication = publication
        self.run_effects(effects)
        event = await self.wait_for(lambda e: getattr(e, "publication", None) is publication, 40.0)
        if event is None:
            self.say(f"PUBLISH {target}: no final response")
            self.fail(EXIT_FAILED)
            return
        self.outcome.finals.append(event.response.status)
        if event.response.status >= 300:
            self.fail(event.response.status // 100)
            return
        if self.args.publish_change:
            # Modify the state (§4.4); not awaited: the removal on exit queues behind it (§4).
            self.run_effects(publication.modify(self.args.publish_change, self.now()))
        if self.args.duration:
            await self.wait_for(lambda e: False, self.args.duration)

    async def subscribe(self) -> None:
        """``--subscribe URI``: print ``--count`` NOTIFYs' state, then unsubscribe."""
        assert self.ua is not None
        events = self.ua.extension("events")
        target = str(self.targets["subscribe"])
        attempt, effects = events.subscribe(  # type: ignore[attr-defined]
            target, "presence", self.now(), expires=self.args.expires
        )
        self.run_effects(effects)
        notified = 0
        usage = None
        while notified < (self.args.count or 1):
            event = await self.wait_for(
                lambda e: (
                    getattr(getattr(e, "usage", None), "target", None) == target
                    or getattr(e, "attempt", None) is attempt
                ),
                None if self.deadline is not None else 60.0,
            )
            if event is None:
                self.say(f"SUBSCRIBE {target}: no NOTIFY")
                self.fail(EXIT_FAILED)
                return
            if type(event).__name__ == "SubscriptionFailed":
                status = event.response.status if event.response is not None else None
                self.fail(status // 100 if status else EXIT_FAILED)
                return
            if type(event).__name__ == "SubscriptionUpdate":
                notified += 1
                usage = event.usage
                # terminated: over, unless a new subscription follows (§4.1.3 reasons)
                if event.state.value == "terminated" and event.usage.resubscribe_at is None:
                    return
        if usage is not None:
            self.run_effects(usage.unsubscribe(self.now()))
            await self.wait_for(
                lambda e: (
                    getattr(e, "usage", None) is usage and type(e).__name__ == "SubscriptionEnded"
                ),
                5.0,
            )

    async def answer(self) -> None:
        """Answer calls until --count are over, the deadline, or a signal."""
        self.check_answer_done()
        if self.deadline is None:
            await self.stop.wait()
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.remaining(None))
        count = self.args.count
        if count is not None and self.ended_incoming < count:
            self.say(f"timed out after {self.ended_incoming} of {count} calls")
            self.fail(EXIT_FAILED)

    async def run(self) -> Outcome:
        try:
            await self.setup()
            if self.args.register and not await self.register():
                return self.outcome
            if self.args.options:
                await self.options()
            if self.args.open:
                await self.open_uri()
            if self.args.call:
                await self.calls()
            if self.args.message:
                await self.send_messages()
            if self.args.publish_presence:
                await self.publish_presence()
            if self.args.subscribe:
                await self.subscribe()
            if self.args.answer is not None:
                await self.answer()
            return self.outcome
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        ua = self.ua
        if ua is not None:
            for call in list(self.active):
                if not call.ended:
                    with contextlib.suppress(ValueError):
                        self.give_reason(call)
                        self.run_effects(ua.sessions.hangup(call, self.now()))
            self.stop.clear()
            publication = self.publication
            if publication is not None and publication.etag:
                self.run_effects(publication.remove(self.now()))
                await self.wait_for(lambda e: getattr(e, "publication", None) is publication, 5.0)
            await self.unregister()
            # Let the last responses and ACKs go out before the sockets close.
            await asyncio.sleep(0.05)
        if self.host is not None:
            await self.host.close()


async def run_program(
    args: argparse.Namespace, stop: asyncio.Event | None = None, out: TextIO | None = None
) -> Outcome:
    """Run the UA for parsed ``args`` on the running loop until done or ``stop`` is set."""
    program = UserAgentProgram(args, out, stop)
    return await program.run()


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m rfc3261 ua`` with ``argv``; the exit status."""
    args = parse_args(build_parser(), argv)
    setup_logging(args)
    try:
        check_arguments(args)
    except UsageError as error:
        print(f"python -m rfc3261 ua: error: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def amain(stop: asyncio.Event) -> int:
        try:
            return (await run_program(args, stop)).status
        except UsageError as error:
            print(f"python -m rfc3261 ua: error: {error}", file=sys.stderr)
            return EXIT_USAGE

    return run(amain, args)


if __name__ == "__main__":
    sys.exit(main())
