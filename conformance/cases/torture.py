"""Parser robustness: every RFC 4475 and RFC 5118 torture message, judged per role.

Each message is rewritten to loopback (`conformance.messages.rewrite_torture`) and sent as
one datagram (or on a fresh connection); what comes back is judged against what the RFC
expects of the role under test.  After every one the runner's liveness probe checks the
target still answers: "must not break" is the bar for all of them.

The rewrite keeps each message's defects except where they sit in an address the target
would use: the Request-URI's host becomes the target, so the RFC 5118 messages whose point is
an IPv6 Request-URI (port-ambiguous, ipv6-good, port-unambiguous) test the rest of the message
only; IPv6 literals elsewhere keep their shape (a third colon, ``ffff``) with loopback values.

Five messages test datagram framing (trailing octets, Content-Length too large, negative,
repeated or absent) and run over UDP only: on a stream they frame differently.

Expectations (``expect`` maps a role, or ``*``, to one of):
- ``accept``: a valid request; any response but 400/505 (a parser must accept it);
- a tuple of status codes: the response must be one of them (e.g. ``(416,)``);
- ``error``: any 4xx-6xx response;
- ``any``: whatever the element does, as long as it survives (the RFC allows both);
- ``silent``: a response sent to a server: nothing may come back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from conformance.cases.proxy import answer_downstream, control_through
from conformance.cases.uas import _SDP
from conformance.messages import Outgoing, aor_of, rewrite_torture, unique
from conformance.model import Context, Inconclusive, register
from conformance.sipmsg import Message, parse_message
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 60

ROLES = ("uas", "registrar", "proxy", "redirect")
#: Framing tests of RFC 4475 that only make sense in a datagram (a stream frames differently).
UDP = ("udp",)


def torture_dir() -> Path:
    """$SIPREF_CONFORMANCE_DIR, or ../shared/conformance next to the work tree."""
    env = os.environ.get("SIPREF_CONFORMANCE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "conformance"


def _ack_from_response(ctx: Context, response: Message) -> bytes:
    """An ACK for a final response to a torture INVITE, built from the response's echo."""
    via = response.top_via
    if (response.status or 0) < 300:
        via = re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", via)
    number, _ = response.cseq
    lines = [
        f"ACK {ctx.target.uri(ctx.user)} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: {response.get('From') or ''}",
        f"To: {response.get('To') or ''}",
        f"Call-ID: {response.call_id}",
        f"CSeq: {number or 1} ACK",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _control_accepts(ctx: Context, expect: object) -> Callable[[int], bool]:
    """Which non-2xx answers to the control still let the torture message be judged.

    A target that parsed a request and then declined its method (405, 501), asked for
    credentials (401, 407) or found no such dialog (481) has shown it parses and handles that
    kind of request: a parser-level expectation ("accept", "error", 400) can still be judged
    against it.  A registrar or proxy that knows no such user (404) has done its job too.
    Other expectations (415, 416, 420...) need the control to succeed outright.
    """
    declined = {401, 405, 407, 481, 501}
    if ctx.role != "uas":
        declined.add(404)
    parser_level = expect in ("accept", "error") or (isinstance(expect, tuple) and 400 in expect)

    def accepts(status: int) -> bool:
        if isinstance(expect, tuple) and status in expect:
            return True
        return parser_level and status in declined

    return accepts


def _control(
    ctx: Context,
    link: Link,
    sent: Message,
    expect: object,
    keep_user: bool,
    down: Listener | None = None,
) -> None:
    """The control: a well-formed request of the torture message's method to the target's
    user, with a Via branch like the message's (none, or one without the magic cookie) and
    nothing else of it; when it does not succeed the case is inconclusive.

    Against a proxy (``down``: the runner's downstream socket) the control goes to a user
    there, and must be forwarded and its answer relayed (`conformance.cases.proxy`)."""
    method = sent.method or "OPTIONS"
    kw: dict[str, object] = {"body": _SDP if method == "INVITE" else b""}
    if down is not None:
        kw["uri"] = f"sip:downstream@{down.hostport}"
    elif method == "REGISTER":
        # a binding removal: parsed and answered like any REGISTER, and leaves nothing behind
        kw.update(uri=f"{ctx.target.scheme}:{ctx.target.hostport}", extra=[("Expires", "0")])
    if method == "REGISTER" and down is None:
        # To and From: the address-of-record itself (a first-party registration, §10.2)
        aor = aor_of(f"sip:{ctx.user}@{ctx.profile.domain or ctx.target.host}")
        kw["to"] = f"<{aor}>"
    req = ctx.request(method, link, **kw)
    if method == "REGISTER" and down is None:
        req.set("Contact", "*")
        req.set("From", f"<{aor}>;tag={unique('t')}")
    branch = sent.branch
    if branch is None or not branch.startswith("z9hG4bK"):
        via = req.get("Via") or ""
        if branch is None:
            via = re.sub(r";branch=[^;,\s]+", "", via)
        else:
            via = via.replace("branch=z9hG4bK", "branch=rfc2543-", 1)
        req.set("Via", via)
    if down is not None:
        control_through(ctx, link, down, req)
        return
    what = f"the control {method} (a well-formed one to {ctx.user})"
    if keep_user:
        what = f"the control {method} (a well-formed one)"
    ctx.control(link, req, also=_control_accepts(ctx, expect), what=what)


def _postamble(ctx: Context, link: Link, sent: Message, response: Message | None) -> None:
    """Note what the torture request created for the postamble: a call (2xx to INVITE), an
    INVITE still ringing, bindings (2xx to REGISTER)."""
    if response is None or sent.method not in ("INVITE", "REGISTER"):
        return
    status = response.status or 0
    number = response.cseq[0] or 1
    if sent.method == "INVITE" and status < 200:
        invite = Outgoing("INVITE", sent.uri or ctx.target.uri(ctx.user))
        for name in ("Via", "From", "To", "Call-ID"):
            invite.add(name, (sent.top_via if name == "Via" else sent.get(name)) or "")
        invite.add("CSeq", f"{number} INVITE")
        ctx.ringing.append((link, invite))
    elif sent.method == "INVITE" and 200 <= status < 300:
        invite = Outgoing("INVITE", ctx.target.uri(ctx.user))
        invite.add(
            "Via", f"SIP/2.0/{ctx.target.via_transport} {link.sent_by};branch={unique('z9hG4bK')}"
        )
        invite.add("From", response.get("From") or "")
        invite.add("To", response.get("To") or "")
        invite.add("Call-ID", response.call_id)
        invite.add("CSeq", f"{number} INVITE")
        ctx.call(link, invite, response)
    elif sent.method == "REGISTER" and 200 <= status < 300 and response.get_all("Contact"):
        to = re.sub(r";\s*tag=[^;,\s]*", "", response.get("To") or "")

        def unregister() -> bool:
            req = ctx.request(
                "REGISTER",
                link,
                uri=f"{ctx.target.scheme}:{ctx.target.hostport}",
                to=to,
                extra=[("Expires", "0")],
            )
            req.set("Contact", "*")
            final, _ = ctx.transaction(link, req, note="un-REGISTER (postamble)", learn=False)
            return final is not None and 200 <= (final.status or 0) < 300

        ctx.on_teardown(f"un-REGISTER {to.strip()}", unregister)


def _judge(ctx: Context, expect: object, response: Message | None) -> None:
    got = "no response" if response is None else f"{response.status} {response.reason}".strip()
    if expect == "silent":
        ctx.check(response is None, "the response to be discarded silently", got)
        return
    if expect == "any":
        return
    if response is None:
        # a request left unanswered: a SHOULD-level case only warns, a MUST-level one fails
        wanted = "a response" if not isinstance(expect, tuple) else " or ".join(map(str, expect))
        ctx.check(False, wanted, got)
    status = response.status or 0
    if expect == "accept":
        ctx.check(status not in (400, 505), "the message accepted as well-formed", got)
    elif expect == "error":
        ctx.check(status >= 400, "an error response", got)
    elif isinstance(expect, tuple):
        ctx.check(status in expect, " or ".join(map(str, expect)), got)


def torture(
    id: str,
    path: str,
    expect: dict[str, object],
    *,
    level: str = "MUST",
    title: str,
    check: Callable[[Context, Message], None] | None = None,
    transports: tuple[str, ...] = ("udp", "tcp", "tls"),
    keep_user: bool = False,
) -> None:
    """Register one torture-message case (the annotations above the call are its requirements).

    The message's Request-URI and To user become the target's (``ctx.user``) unless
    ``keep_user``: the message's point lies in that user part.  Before a request the
    control (`_control`) runs; after it the postamble tears down what it created.
    """

    def run(ctx: Context) -> None:
        source = torture_dir() / path
        if not source.is_file():
            raise Inconclusive(f"torture message {source} not found (set SIPREF_CONFORMANCE_DIR)")
        role_expect = expect.get(ctx.role, expect.get("*", "any"))
        link = ctx.link()
        # a proxy forwards to the Request-URI: make that a socket of the runner's
        down = ctx.listener() if ctx.role == "proxy" else None
        data = rewrite_torture(
            source.read_bytes(),
            ctx.target,
            link.sent_by,
            path.startswith("rfc5118/"),
            down.hostport if down else None,
            user=None if keep_user else ctx.user,
        )
        method = data.split(b" ", 1)[0].decode("latin-1")
        sent = parse_message(data)
        is_request = not data.startswith(b"SIP/")
        if (
            is_request
            and sent is not None
            and role_expect not in ("any", "silent")
            and method not in ctx.silent_methods
        ):
            _control(ctx, link, sent, role_expect, keep_user, down)
        link.send(data, f"torture {Path(path).name}")
        wait = 0.6 if role_expect == "silent" else 1.5
        if method in ctx.silent_methods:
            wait = 0.5
        if down is not None and not data.startswith(b"SIP/"):
            forwarded = down.expect(
                lambda m: not m.is_response and m.method == method, timeout=1.0
            )
            if forwarded is not None:
                answer_downstream(down, forwarded)
        response = link.expect(lambda m: m.is_response, timeout=wait)
        while response is not None and response.status is not None and response.status < 200:
            response = link.expect(lambda m: m.is_response and (m.status or 0) >= 200, timeout=3.0)
        if response is not None and response.cseq[1].upper() == "INVITE":
            link.send(_ack_from_response(ctx, response), "ACK")
        if sent is not None and is_request and down is None:
            _postamble(ctx, link, sent, response)
        if response is None and method in ctx.silent_methods and role_expect != "silent":
            raise Inconclusive(f"the target leaves {method} requests unanswered")
        _judge(ctx, role_expect, response)
        if check is not None and response is not None:
            check(ctx, response)

    register(
        id,
        run,
        title=title,
        roles=tuple(r for r in ROLES if r in expect or "*" in expect),
        level=level,
        hostile=True,
        transports=transports,
        tags=("torture",),
        # no control where any outcome passes but breaking (``any``), or nothing may come
        # back (``silent``: a response sent to a server): no refusal can confound those
        no_control=(
            "every role's expectation is 'any' or 'silent': no refusal can confound it"
            if all(v in ("any", "silent") for v in expect.values())
            else ""
        ),
        depth=2,
    )


def _unsupported_lists(ctx: Context, response: Message) -> None:
    if ctx.role == "redirect" and 300 <= (response.status or 0) < 400:
        return  # redirected: unknown Require tags ignored, as RFC 3261 §8.3 wants
    tags = response.option_tags("Unsupported")
    wanted = {"nothingsupportsthis", "nothingsupportsthiseither"}
    if ctx.role == "proxy":
        wanted = {"noproxiessupportthis", "nordoanyproxiessupportthis"}
    ctx.check(
        bool(wanted & set(tags)),
        f"Unsupported listing {sorted(wanted)}",
        f"Unsupported: {', '.join(tags) or '(absent)'}",
        requirement=1,
    )


def _has_accept(ctx: Context, response: Message) -> None:
    ctx.check(response.get("Accept") is not None, "an Accept header field", "none", requirement=1)


# --- RFC 4475 §3.1.1: valid messages -----------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.1
##= type=test
##% All elements should treat this as a well-formed request.
torture(
    "torture-4475-wsinv",
    "rfc4475/wsinv.dat",
    {"*": "accept"},
    level="SHOULD",
    title="A short tortuous INVITE is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.2
##= type=test
##% This message exercises a wider range of characters in several key syntactic elements
##% than implementations usually see.
torture(
    "torture-4475-intmeth",
    "rfc4475/intmeth.dat",
    {"*": "accept"},
    title="A wide range of valid characters is accepted",
    keep_user=True,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.3
##= type=test
##% A parser must accept this as a well-formed message.
torture(
    "torture-4475-esc01",
    "rfc4475/esc01.dat",
    {"*": "accept"},
    title="Valid % escaping is accepted",
    keep_user=True,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.4
##= type=test
##% The message is well formed - parsers must accept this message.
torture(
    "torture-4475-escnull",
    "rfc4475/escnull.dat",
    {"*": "accept"},
    title="Escaped nulls in URIs are accepted",
    keep_user=True,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.5
##= type=test
##% A parser should accept this message as well formed.
torture(
    "torture-4475-esc02",
    "rfc4475/esc02.dat",
    {"*": "accept"},
    level="SHOULD",
    title="% that is not an escape is accepted",
    keep_user=True,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.6
##= type=test
##% Elements should accept this request as well formed.
torture(
    "torture-4475-lwsdisp",
    "rfc4475/lwsdisp.dat",
    {"*": "accept"},
    level="SHOULD",
    title="No LWS between display name and < is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.7
##= type=test
##% This well-formed request contains header fields with many values and values that are
##% very long.
torture(
    "torture-4475-longreq",
    "rfc4475/longreq.dat",
    {"*": "accept"},
    title="Long values in header fields are accepted",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.8
##= type=test
##% The extra octets happen to look like a SIP INVITE request, but (per section 18.3 of
##% [RFC3261]) they are just spurious noise that must be ignored.
torture(
    "torture-4475-dblreq",
    "rfc4475/dblreq.dat",
    {"*": "accept"},
    title="Extra trailing octets in a datagram are ignored",
    check=lambda ctx, r: ctx.check(
        r.cseq[1].upper() == "REGISTER",
        "the REGISTER answered, the trailing INVITE ignored",
        f"a response to {r.cseq[1]}",
    ),
    transports=UDP,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.9
##= type=test
##% Receiving elements will accept this as a well-formed message.
torture(
    "torture-4475-semiuri",
    "rfc4475/semiuri.dat",
    {"*": "accept"},
    title="Semicolon-separated parameters in the URI user part are accepted",
    keep_user=True,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.10
##= type=test
##% Parsers must accept this message as well formed.
torture(
    "torture-4475-transports",
    "rfc4475/transports.dat",
    {"*": "accept"},
    title="Varied and unknown transport types are accepted",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.11
##= type=test
##% Parsers must accept this message as well formed, even if the application above the
##% parser does not support multipart/signed.
torture(
    "torture-4475-mpart01",
    "rfc4475/mpart01.dat",
    {"*": "accept"},
    title="A multipart MIME message with a binary part is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.12
##= type=test
##% A parser must accept this message.
torture(
    "torture-4475-unreason",
    "rfc4475/unreason.dat",
    {"*": "silent"},
    level="SHOULD",
    title="A stray 200 with an unusual reason phrase is absorbed",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.13
##= type=test
##% A parser must accept this message.
torture(
    "torture-4475-noreason",
    "rfc4475/noreason.dat",
    {"*": "silent"},
    level="SHOULD",
    title="A stray response with an empty reason phrase is absorbed",
)

# --- RFC 4475 §3.1.2: invalid messages ---------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.1
##= type=test
##% An element receiving this request should respond with a 400 Bad Request error.
torture(
    "torture-4475-badinv01",
    "rfc4475/badinv01.dat",
    {"*": (400,)},
    level="SHOULD",
    title="Extraneous header field separators get 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.2
##= type=test
##% When sent over UDP (as this message ostensibly was), the receiving element should
##% respond with a 400 Bad Request error.
torture(
    "torture-4475-clerr",
    "rfc4475/clerr.dat",
    {"*": (400,)},
    level="SHOULD",
    title="Content-Length larger than the message gets 400",
    transports=UDP,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.3
##= type=test
##% An element receiving this message should respond with an error.
torture(
    "torture-4475-ncl",
    "rfc4475/ncl.dat",
    {"*": "error"},
    level="SHOULD",
    title="A negative Content-Length gets an error",
    transports=UDP,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.4
##= type=test
##% An element receiving this request should respond with a 400 Bad Request due to the
##% CSeq error.
torture(
    "torture-4475-scalar02",
    "rfc4475/scalar02.dat",
    {"*": (400,)},
    level="SHOULD",
    title="Overlarge scalar fields in a request get 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.5
##= type=test
##% An element receiving this response will simply discard it.
torture(
    "torture-4475-scalarlg",
    "rfc4475/scalarlg.dat",
    {"*": "silent"},
    title="A response with overlarge scalar fields is discarded",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.6
##= type=test
##% An element receiving this request should return a 400 Bad Request error.
torture(
    "torture-4475-quotbal",
    "rfc4475/quotbal.dat",
    {"*": (400,)},
    level="SHOULD",
    title="An unterminated quoted string gets 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.7
##= type=test
##% It is reasonable always to reject a request with this error with a 400 Bad Request.
torture(
    "torture-4475-ltgtruri",
    "rfc4475/ltgtruri.dat",
    {"*": "any"},
    title="A Request-URI in <> does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.8
##= type=test
##% An element receiving this request should respond with a 400 Bad Request.
torture(
    "torture-4475-lwsruri",
    "rfc4475/lwsruri.dat",
    {"*": (400,)},
    level="SHOULD",
    title="LWS embedded in the Request-URI gets 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.9
##= type=test
##% It is acceptable to reject this request as malformed.
torture(
    "torture-4475-lwsstart",
    "rfc4475/lwsstart.dat",
    {"*": "any"},
    title="Multiple SP in the Request-Line do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.10
##= type=test
##% It is acceptable to reject this request as malformed.
torture(
    "torture-4475-trws",
    "rfc4475/trws.dat",
    {"*": "any"},
    title="SP at the end of the Request-Line does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.11
##= type=test
##% It is acceptable for an element to reject this request with a 400 Bad Request.
torture(
    "torture-4475-escruri",
    "rfc4475/escruri.dat",
    {"*": "any"},
    title="Escaped headers in the Request-URI do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.12
##= type=test
##% It is acceptable to reject this request as malformed (though an element shouldn't do
##% that unless the contents of the Date header field were actually important to its
##% processing).
torture(
    "torture-4475-baddate",
    "rfc4475/baddate.dat",
    {"*": "any"},
    title="A non-GMT Date does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.13
##= type=test
##% It is reasonable for an element receiving this request to respond with a 400 Bad
##% Request.
torture(
    "torture-4475-regbadct",
    "rfc4475/regbadct.dat",
    {"*": "any"},
    title="A name-addr URI not in <> does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.14
##= type=test
##% Parsers receiving this request must not break.
torture(
    "torture-4475-badaspec",
    "rfc4475/badaspec.dat",
    {"*": "any"},
    title="Spaces within addr-spec do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.15
##= type=test
##% It is reasonable always to reject this kind of error with a 400 Bad Request response.
torture(
    "torture-4475-baddn",
    "rfc4475/baddn.dat",
    {"*": "any"},
    title="Non-token characters in a display name do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.16
##= type=test
##% The element should respond to the request with a 505 Version Not Supported error.
torture(
    "torture-4475-badvers",
    "rfc4475/badvers.dat",
    {"*": (505,)},
    level="SHOULD",
    title="An unknown protocol version gets 505",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.17
##= type=test
##% Any element receiving this request will respond with a 400 Bad Request.
torture(
    "torture-4475-mismatch01",
    "rfc4475/mismatch01.dat",
    {"*": (400,)},
    title="A CSeq method differing from the start line gets 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.18
##= type=test
##% A 400 Bad Request is also acceptable, but choosing a 501 (particularly at proxies) has
##% better future-proof characteristics.
torture(
    "torture-4475-mismatch02",
    "rfc4475/mismatch02.dat",
    {"*": (501, 400)},
    level="SHOULD",
    title="An unknown method with a CSeq mismatch gets 501 or 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.19
##= type=test
##% An element receiving this response should simply drop it.
torture(
    "torture-4475-bigcode",
    "rfc4475/bigcode.dat",
    {"*": "silent"},
    level="SHOULD",
    title="A response with an overlarge status code is dropped",
)

# --- RFC 4475 §3.2-3.4 ----------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.2.1
##= type=test
##% A parser must not break when receiving this message.
torture(
    "torture-4475-badbranch",
    "rfc4475/badbranch.dat",
    {"*": "any"},
    title="A Via without branch does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.1
##= type=test
##% An element receiving this message must not break because of the missing information.
torture(
    "torture-4475-insuf",
    "rfc4475/insuf.dat",
    {"*": "any"},
    title="Missing required header fields do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.2
##= type=test
##% An element receiving this request will reject it with a 416 Unsupported URI Scheme
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI uses a scheme not supported by the UAS, it SHOULD reject the request
##% with a 416 (Unsupported URI Scheme) response.
# RFC 3261 §8.2.2.1 asks 416 with a SHOULD: this case and novelsc judge at that level, as
# uas-416-scheme does (one level for one behaviour)
torture(
    "torture-4475-unkscm",
    "rfc4475/unkscm.dat",
    {"*": (416,)},
    title="An unknown Request-URI scheme gets 416",
    level="SHOULD",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.3
##= type=test
##% If an element will never accept this scheme as meaningful in a Request-URI, it is
##% appropriate to treat it as unknown and return a 416 Unsupported URI Scheme response.
torture(
    "torture-4475-novelsc",
    "rfc4475/novelsc.dat",
    {"*": (416, 404)},
    title="A known but atypical Request-URI scheme gets 416 or 404",
    level="SHOULD",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.4
##= type=test
##% A registrar would reject this request with a 400 Bad Request response, since the To:
##% header field is required to contain a SIP or SIPS URI as an AOR.
torture(
    "torture-4475-unksm2",
    "rfc4475/unksm2.dat",
    {"registrar": (400,), "uas": "any", "proxy": "accept", "redirect": "any"},
    title="Unknown URI schemes in header fields are tolerated (400 from a registrar)",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.5
##= type=test
##% Any element receiving this request will respond with a 420 Bad Extension response,
##% containing an Unsupported header field listing these features from either the Require
##% or Proxy-Require header field, depending on the role in which the element is responding.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% The UAS MUST add an Unsupported header field, and list in it those options it does not
##% understand amongst those in the Require header field of the request.
torture(
    "torture-4475-bext01",
    "rfc4475/bext01.dat",
    # a redirect server ignores unknown Require tags and redirects (RFC 3261 §8.3)
    {"*": (420,), "redirect": "any"},
    check=_unsupported_lists,
    title="Unknown Require/Proxy-Require tags get 420 with Unsupported",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.6
##= type=test
##% An endpoint receiving this request would reject it with a 415 Unsupported Media Type
##% error.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% The response MUST contain an Accept header field listing the types of all bodies it
##% understands, in the event the request contained bodies of types not supported by the UAS.
torture(
    "torture-4475-invut",
    "rfc4475/invut.dat",
    {"uas": (415,), "proxy": "accept"},
    check=lambda ctx, r: _has_accept(ctx, r) if ctx.role == "uas" else None,
    title="An unknown Content-Type gets 415 with Accept at an endpoint",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.7
##= type=test
##% Endpoints choosing not to act as registrars will simply reject the request.
torture(
    "torture-4475-regaut01",
    "rfc4475/regaut01.dat",
    {"uas": "error", "registrar": (200, 401), "proxy": "accept", "redirect": "any"},
    title="An unknown Authorization scheme: a registrar ignores it or challenges",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.8
##= type=test
##% An element receiving this request must not break.
torture(
    "torture-4475-multi01",
    "rfc4475/multi01.dat",
    {"*": "any"},
    title="Multiple values in single-value fields do not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.9
##= type=test
##% An element receiving this message should respond with an error.
torture(
    "torture-4475-mcl01",
    "rfc4475/mcl01.dat",
    {"*": "error"},
    level="SHOULD",
    title="Multiple Content-Length values get an error",
    transports=UDP,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.10
##= type=test
##% Per [RFC3261], an endpoint receiving this message should simply discard it.
torture(
    "torture-4475-bcast",
    "rfc4475/bcast.dat",
    {"*": "silent"},
    level="SHOULD",
    title="A 200 with a broadcast Via is discarded",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.11
##= type=test
##% A proxy should not forward the request and should respond 483 (Too Many Hops).
##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.11
##= type=test
##% An endpoint should process the request as if the Max-Forwards field value were still
##% positive.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the request was for OPTIONS, the element MAY act as the final recipient and respond per
##% Section 11.
torture(
    "torture-4475-zeromf",
    "rfc4475/zeromf.dat",
    {"proxy": (483, 200), "uas": "accept", "registrar": "accept"},
    level="SHOULD",
    title="Max-Forwards 0: a proxy answers 483, an endpoint processes it",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.12
##= type=test
##% This REGISTER should succeed.
torture(
    "torture-4475-cparam01",
    "rfc4475/cparam01.dat",
    {"registrar": (200, 401), "uas": "any"},
    level="SHOULD",
    title="REGISTER with a contact-param succeeds",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.13
##= type=test
##% The register should succeed, and a subsequent retrieval of the registration must
##% include "unknownparam" as a url-parameter.
torture(
    "torture-4475-cparam02",
    "rfc4475/cparam02.dat",
    {"registrar": (200, 401), "uas": "any"},
    level="SHOULD",
    title="REGISTER with a url-parameter succeeds",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.14
##= type=test
##% The register should succeed, and a subsequent retrieval of the registration must
##% include the escaped Route header in the contact URI for this binding.
torture(
    "torture-4475-regescrt",
    "rfc4475/regescrt.dat",
    {"registrar": (200, 401), "uas": "any"},
    level="SHOULD",
    title="REGISTER with an escaped header in the Contact succeeds",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.15
##= type=test
##% It is also appropriate to respond with a 400 Bad Request, since all SIP User-Agents
##% (UAs) supporting INVITE are required to support application/sdp.
torture(
    "torture-4475-sdp01",
    "rfc4475/sdp01.dat",
    {"uas": (406, 400), "proxy": "accept"},
    level="SHOULD",
    title="An unacceptable Accept offering gets 406 or 400",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.4.1
##= type=test
##% This is a legal message per RFC 2543 (and several bis versions) that should be accepted
##% by RFC 3261 elements that want to maintain backwards compatibility.
torture(
    "torture-4475-inv2543",
    "rfc4475/inv2543.dat",
    {"*": "accept"},
    level="SHOULD",
    title="An INVITE in RFC 2543 syntax is accepted",
    transports=UDP,
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2
##= type=test
##% This section contains several invalid messages reflecting errors seen at
##% interoperability events and exploring important edge conditions that can be induced
##% through malformed messages.
torture(
    "torture-4475-test",
    "rfc4475/test.dat",
    {"*": "any"},
    title="The archive's extra test.dat does not break the element",
)

# --- RFC 5118 §4 ------------------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.1
##= type=test
##% The request below is well-formatted according to the grammar in [RFC3261].
torture(
    "torture-5118-ipv6-good",
    "rfc5118/ipv6-good",
    {"*": "accept"},
    title="An IPv6 reference in R-URI, Via and Contact is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.2
##= type=test
##% A SIP implementation receiving this request should respond with a 400 Bad Request
##% error.
torture(
    "torture-5118-ipv6-bad",
    "rfc5118/ipv6-bad",
    {"*": (400,)},
    level="SHOULD",
    title="An IPv6 address without [] in the R-URI gets 400",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.3
##= type=test
##% Implementations must ensure that when a raw IPv6 address appears in a SIP URI, then a
##% port number, if required, appears outside the closing "]" delimiting the IPv6 reference.
torture(
    "torture-5118-port-ambiguous",
    "rfc5118/port-ambiguous",
    {"*": "any"},
    title="A port inside the IPv6 reference does not break the element",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.4
##= type=test
##% This REGISTER request is well formatted per the grammar in [RFC3261].
torture(
    "torture-5118-port-unambiguous",
    "rfc5118/port-unambiguous",
    {"*": "accept"},
    title="A port after the IPv6 reference is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.5
##= type=test
##% A SIP implementation receiving either of these messages must parse them successfully.
torture(
    "torture-5118-via-received-delim",
    "rfc5118/via-received-param-with-delim",
    {"*": "accept"},
    title="received=[IPv6] in Via is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.5
##= type=test
##% A SIP implementation receiving either of these messages must parse them successfully.
torture(
    "torture-5118-via-received-nodelim",
    "rfc5118/via-received-param-no-delim",
    {"*": "accept"},
    title="received=IPv6 without [] in Via is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.6
##= type=test
##% This request below is valid and well-formed according to the grammar in [RFC3261].
torture(
    "torture-5118-ipv6-in-sdp",
    "rfc5118/ipv6-in-sdp",
    {"*": "accept"},
    title="IPv6 addresses in an SDP body are accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.7
##= type=test
##% The request below is valid and well-formed according to the grammar in [RFC3261].
torture(
    "torture-5118-mult-ip-in-header",
    "rfc5118/mult-ip-in-header",
    {"*": "accept"},
    title="A mix of IPv4 and IPv6 in Via is accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.8
##= type=test
##% The request below is valid and well-formed according to the grammar in [RFC3261].
torture(
    "torture-5118-mult-ip-in-sdp",
    "rfc5118/mult-ip-in-sdp",
    {"*": "accept"},
    title="Several IP addresses in SDP are accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.9
##= type=test
##% A SIP implementation receiving a message that contains such a mapped address must be
##% prepared to parse it successfully.
torture(
    "torture-5118-ipv4-mapped-ipv6",
    "rfc5118/ipv4-mapped-ipv6",
    {"*": "accept"},
    title="IPv4-mapped IPv6 addresses are accepted",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.10
##= type=test
##% However, following the Robustness Principle [RFC1122], an implementation must tolerate
##% both of the above constructs.
torture(
    "torture-5118-ipv6-3-colons",
    "rfc5118/ipv6-bug-abnf-3-colons",
    {"*": "accept"},
    title="The RFC 3261 ABNF's three-colon IPv6 form is tolerated",
)

##= https://www.rfc-editor.org/rfc/rfc5118#section-4.10
##= type=test
##% However, following the Robustness Principle [RFC1122], an implementation must tolerate
##% both of the above constructs.
torture(
    "torture-5118-ipv6-2-colons",
    "rfc5118/ipv6-correct-abnf-2-colons",
    {"*": "accept"},
    title="The correct two-colon IPv6 form is accepted",
)


# --- RFC 4475 framing errors on a stream --------------------------------------------------------


def torture_stream(id: str, path: str, *, title: str) -> None:
    """Register a framing-error case for TCP/TLS: an error response, and the connection closed."""

    def run(ctx: Context) -> None:
        source = torture_dir() / path
        if not source.is_file():
            raise Inconclusive(f"torture message {source} not found (set SIPREF_CONFORMANCE_DIR)")
        link = ctx.link()
        data = rewrite_torture(source.read_bytes(), ctx.target, link.sent_by)
        link.send(data, f"torture {Path(path).name}")
        response = link.expect(lambda m: m.is_response, timeout=2.0)
        if not link.closed:
            link.expect(lambda m: False, timeout=1.0)
        got = "no response" if response is None else f"{response.status} {response.reason}"
        ctx.should(
            response is None or (response.status or 0) >= 400, "an error response, if any", got
        )
        ctx.check(link.closed, "the connection closed", f"{got}; the connection left open")

    register(
        id,
        run,
        title=title,
        roles=ROLES,
        level="SHOULD",
        hostile=True,
        transports=("tcp", "tls"),
        tags=("torture",),
        no_control="a framing error on a stream is judged by the connection, not by a refusal",
        depth=2,
    )


##= https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.3
##= type=test
##% If a request like this arrives over TCP, the framing error is not recoverable, and the
##% connection should be closed.
torture_stream(
    "torture-4475-ncl-stream",
    "rfc4475/ncl.dat",
    title="A negative Content-Length on a stream closes the connection",
)

##= https://www.rfc-editor.org/rfc/rfc4475#section-3.3.9
##= type=test
##% If a request like this arrives over TCP, the framing error is not recoverable, and the
##% connection should be closed.
torture_stream(
    "torture-4475-mcl01-stream",
    "rfc4475/mcl01.dat",
    title="Multiple Content-Length values on a stream close the connection",
)
