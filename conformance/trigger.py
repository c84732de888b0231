"""Making a UAC under test send requests, and the runner's side of the exchange.

In the UAC role the runner is the server: the UAS a call goes to, the registrar, the proxy or
the redirect server.  The element under test must first be made to send a request; the
profile's ``[uac]`` table names one command per kind of request (`KINDS`), run with
placeholders filled in (``{target}`` the runner's ``host:port``, ``{host}``, ``{port}``,
``{user}``, ``{password}`` from ``[credentials]``, ``{uri}`` = ``sip:uas@{target}``,
``{python}`` the runner's interpreter, ``{profiles}`` the shipped profiles' folder,
``{free_port}`` a free UDP port on loopback for the UAC to bind, ``{large_text}`` a word of
1500 characters for a request too large for UDP; ``{cert}`` / ``{key}`` a self-signed
certificate and its key (for a TLS listener); for kind ``dns``, ``{dns}`` the runner's DNS
server and ``{domain}`` the name it resolves to the runner; for kind ``uri``, ``{link}`` the
SIP URI the case wants turned into a request, §19.1.5 — quote it, it holds ``;`` and ``&``)::

    [uac]
    invite = "python -m rfc3261 ua --call sip:uas@{target} --duration 4"
    cancel = "sipp -sf conformance/profiles/sipp/cancel.xml {target} -m 1"
    dial = true          # kinds without a command: prompt the tester and wait for the request
    dial_timeout = 60

`Peer` is the runner's end: it starts the trigger, waits for requests and answers them with
the scripted responses a case needs (1xx, 2xx, 3xx, challenges, 420, 486, 491, nothing).
"""

from __future__ import annotations

import contextlib
import shlex
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from conformance.messages import unique
from conformance.model import Context, Profile
from conformance.sipmsg import Message
from conformance.wire import CaseTimeout, Listener
from rfc3261.asyncio.loopback import free_port

__all__ = [
    "KINDS",
    "PLACEHOLDERS",
    "RUNNER_ANSWERS",
    "UAC",
    "Peer",
    "TriggerError",
    "check_command",
    "fill",
]

#: the shipped profiles (``{profiles}``: SIPp scenarios kept beside them)
PROFILES = Path(__file__).resolve().parent / "profiles"
#: the role of every UAC case
UAC = ("uac",)
#: why UAC cases need no control: the runner is the server and answers as the case needs
RUNNER_ANSWERS = "the runner is the server: nothing of the target's can turn the exchange down"

#: the kinds of request a profile can trigger, and what the tester is asked to do for each
KINDS: dict[str, str] = {
    "invite": "call {uri} and stay in the call until the far end ends it",
    "bye": "call {uri} and hang up (BYE) about 1 s after it is answered",
    "cancel": "call {uri} and hang up (CANCEL) about 1 s after it starts ringing",
    "reinvite": "call {uri}, then re-INVITE (e.g. hold) about 1 s after it is answered",
    "hold-inactive": "call {uri}, then about 0.3 s after it is answered re-INVITE to neither "
    "send nor receive media (a=inactive)",
    "hold-recvonly": "call {uri}, then about 0.3 s after it is answered re-INVITE to only "
    "receive media (a=recvonly)",
    "hold-resume": "call {uri}, put it on hold (re-INVITE, a=sendonly) about 0.3 s after it "
    "is answered and resume it (a=sendrecv) about 0.3 s later",
    "require": "call {uri} insisting on an extension the UAS must apply (Require, e.g. "
    "100rel), and stay in the call",
    "proxied": "call sip:uas@127.0.0.1:9 through the outbound proxy {target} (a route set "
    "naming it), hanging up about 1.5 s in (CANCEL if it still rings, else BYE)",
    "register": "register at the registrar {target} (an AOR of its domain, short Expires)",
    "register-aor": "register the AOR sip:alice@{target} with no registrar configured",
    "calls": "call {uri} twice, one call after the other, hanging up each about 1 s after "
    "it is answered",
    "options": "send OPTIONS to {uri}",
    "message": "send an instant MESSAGE to {uri}",
    "large_request": "send a request of more than 1300 bytes (OPTIONS, MESSAGE...) to {uri}",
    "subscribe": "SUBSCRIBE to {uri} (presence)",
    "subscribe-long": "SUBSCRIBE to {uri} (presence), answer NOTIFYs, refresh and subscribe "
    "again as told, and stay up without unsubscribing until stopped",
    "publish": "PUBLISH presence for sip:alice@{target}, refresh it and remove it about 1.5 s "
    "later (RFC 3903)",
    "publish-modify": "PUBLISH presence for sip:alice@{target}, modify it once accepted, and "
    "remove it about 0.3 s later (RFC 3903)",
    "messages": "send two instant MESSAGEs to {uri}, one after the other",
    "uri": "send the request the SIP URI {link} asks for (RFC 3261 §19.1.5: its method "
    "parameter and headers), as if a link were clicked",
    "dns": "call sip:uas@{domain}, finding the server by RFC 3263 with the DNS server {dns}, "
    "hanging up about 1 s after it is answered",
    "timer": "call {uri} asking for a session timer (RFC 4028: Supported: timer, "
    "Session-Expires), refreshing it as the answer says, and hang up about 12 s in",
    "reason": "call {uri} and hang up about 1 s in (CANCEL if it still rings, else BYE) "
    "saying why in a Reason header field (RFC 3326)",
    "invite-ws": "call {uri};transport=ws over SIP WebSocket (RFC 7118: a ws:// connection "
    "to {target}) and hang up about 1 s after it is answered",
    # RFC 5626 (conformance/cases/uac_rfc5626.py)
    "register-outbound": "register sip:alice@127.0.0.1 with RFC 5626 outbound through an "
    "outbound-proxy set of two URIs both naming {target}, and stay registered",
    "call-outbound": "register sip:alice@127.0.0.1 with RFC 5626 outbound through the outbound "
    "proxy {target}, then call {uri} over that flow, hanging up about 1 s after the answer, "
    "and stay registered",
    "register-outbound-tcp": "register sip:alice@127.0.0.1 with RFC 5626 outbound through the "
    "outbound proxy {target} over TCP, and stay registered",
    # RFC 3515, 3891, 3892 (extensions/conformance/rfc3515.py, rfc3891.py, rfc3892.py)
    "transfer": "call {uri}, then transfer the far end (REFER, naming yourself in "
    "Referred-By) to sip:carol@{target}, hanging up once the transfer succeeded",
    "transferee": "call {uri}, accept the REFER that comes in the call and act on it (an "
    "INVITE with Replaces, RFC 3891), staying about 4 s",
    "dns-cancel": "call sip:uas@{domain} found as for dns (DNS server {dns}) and hang up "
    "(CANCEL) about 1 s after it starts ringing",
    "dns-sips": "call sips:uas@{domain} (a SIPS URI: TLS), found as for dns (DNS server {dns})",
}
#: the placeholders a trigger command may use
PLACEHOLDERS = (
    "target",
    "host",
    "port",
    "user",
    "password",
    "uri",
    "python",
    "profiles",
    "free_port",
    "dns",
    "domain",
    "large_text",
    "link",
    "cert",
    "key",
)
#: ``{large_text}``: a word long enough to make a request exceed 1300 bytes (§18.1.1)
LARGE_TEXT = "large" * 300


class TriggerError(ValueError):
    """A trigger command that cannot be used (unknown kind or placeholder)."""


def check_command(kind: str, command: str) -> None:
    """Raise `TriggerError` unless ``command`` is usable for ``kind``."""
    if kind not in KINDS:
        raise TriggerError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if not command.strip():
        raise TriggerError(f"{kind}: empty command")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(command) if name is not None}
        shlex.split(command)
    except ValueError as exc:
        raise TriggerError(f"{kind}: {exc}") from exc
    unknown = names - set(PLACEHOLDERS)
    if unknown:
        raise TriggerError(f"{kind}: unknown placeholder(s) {', '.join(sorted(unknown))}")
    if not names & {"target", "host", "port", "uri", "domain", "link"}:
        raise TriggerError(f"{kind}: the command never names the runner ({{target}})")


def fill(command: str, profile: Profile, hostport: str, **extra: str) -> str:
    """``command`` with its placeholders filled in for a runner at ``hostport`` (``extra``:
    ``dns``, the runner's DNS server, and ``domain``, the name it serves, for kind dns)."""
    host, _, port = hostport.rpartition(":")
    return command.format(
        dns=extra.get("dns", ""),
        domain=extra.get("domain", ""),
        target=hostport,
        host=host,
        port=port,
        user=profile.username or profile.user or "alice",
        password=profile.password,
        uri=f"sip:uas@{hostport}",
        python=sys.executable,
        profiles=str(PROFILES),
        free_port=free_port() if "{free_port}" in command else 0,
        large_text=LARGE_TEXT,
        link=extra.get("link", ""),
        **dict(zip(("cert", "key"), _certificate(command), strict=True)),
    )


_CERTIFICATE: list[str] = []


def _certificate(command: str) -> tuple[str, str]:
    """A self-signed certificate and key for 127.0.0.1 (made once per run, only for a
    command naming ``{cert}`` or ``{key}``: a UAC that needs a TLS listener to call a SIPS
    URI); empty names without openssl."""
    if "{cert}" not in command and "{key}" not in command:
        return "", ""
    if not _CERTIFICATE:
        import tempfile

        from conformance.selftest import certificate

        made = certificate(Path(tempfile.mkdtemp(prefix="sipref-trigger-tls-")))
        _CERTIFICATE.extend(str(p) for p in made or ("", ""))
    return _CERTIFICATE[0], _CERTIFICATE[1]


#: a minimal SDP answer, for a 2xx to an INVITE with an offer
def sdp_answer(offer: bytes) -> bytes:
    """An answer accepting the first stream of ``offer`` with its first format."""
    media = "audio 0 RTP/AVP 0"
    for line in offer.decode("utf-8", "replace").splitlines():
        if line.startswith("m="):
            kind, _port, proto, *formats = line[2:].split()
            media = f"{kind} 49170 {proto} {formats[0] if formats else '0'}"
            break
    lines = [
        "v=0",
        "o=runner 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m={media}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    401: "Unauthorized",
    407: "Proxy Authentication Required",
    403: "Forbidden",
    404: "Not Found",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    412: "Conditional Request Failed",
    489: "Bad Event",
    491: "Request Pending",
    503: "Service Unavailable",
}


class Peer:
    """The runner's end of a UAC case: a UDP listener, the triggered UAC, scripted answers."""

    def __init__(
        self,
        ctx: Context,
        kind: str,
        server: Listener | None = None,
        **extra: str,
    ) -> None:
        profile = ctx.profile
        command = profile.triggers.get(kind, "")
        if not command and kind == "invite":
            command = profile.originate
        if not command and not profile.dial:
            ctx.not_applicable(f"the profile cannot make the target send {kind} ([uac] {kind})")
        self.ctx = ctx
        self.kind = kind
        # a listener made beforehand: a case that names its port elsewhere first (DNS)
        self.server: Listener = server or ctx.listener()
        self.process: subprocess.Popen[bytes] | None = None
        # the first request may take a while on a busy machine (a program starting up)
        self.wait = 10.0
        self.tag = unique("r")
        if command:
            argv = shlex.split(fill(command, profile, self.server.hostport, **extra))
            try:
                self.process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError as exc:
                self.server.close()
                ctx.inconclusive(f"the [uac] {kind} command did not start: {exc}")
        else:
            self.wait = profile.dial_timeout
            what = KINDS[kind].format(
                link=extra.get("link", ""),
                uri=f"sip:uas@{self.server.hostport}",
                target=self.server.hostport,
                dns=extra.get("dns", ""),
                domain=extra.get("domain", ""),
            )
            print(f"[{ctx.case.id}] please {what} (waiting {self.wait:g} s)", file=sys.stderr)
        ctx.on_teardown(f"the {kind} trigger stopped", self.close)

    # --- receiving ----------------------------------------------------------------------

    def first(self, method: str, what: str = "") -> tuple[Message, tuple[str, int]]:
        """The preamble: the first ``method`` the trigger makes the target send."""
        with self.ctx.preamble(what or f"a {method} from the target ([uac] {self.kind})"):
            got = self.server.expect(lambda m: m.method == method, timeout=self.wait)
            if got is None:
                self.ctx.inconclusive(f"the target sent no {method}")
        assert got is not None
        return got

    def expect(
        self, match: Callable[[Message], bool], timeout: float
    ) -> tuple[Message, tuple[str, int]] | None:
        return self.server.expect(match, timeout=timeout)

    def request(
        self, method: str, timeout: float, call_id: str | None = None
    ) -> tuple[Message, tuple[str, int]] | None:
        """The next ``method`` request (of the call ``call_id``), or None."""
        return self.server.expect(
            lambda m: m.method == method and (call_id is None or m.call_id == call_id),
            timeout=timeout,
        )

    def collect(
        self, match: Callable[[Message], bool], duration: float
    ) -> list[tuple[float, Message]]:
        """Every message matching during ``duration`` seconds, with its arrival time."""
        out: list[tuple[float, Message]] = []
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            got = self.server.expect(match, timeout=left)
            if got is None:
                break
            out.append((time.monotonic(), got[0]))
        return out

    # --- answering ----------------------------------------------------------------------

    def response(
        self,
        request: Message,
        status: int,
        *,
        tag: str | None = None,
        headers: Iterable[str] = (),
        body: bytes = b"",
        contact: bool | None = None,
        vias: list[str] | None = None,
    ) -> bytes:
        """A response to ``request`` (To tagged with ``tag``, the Peer's own by default)."""
        tag = self.tag if tag is None else tag
        lines = [f"SIP/2.0 {status} {REASONS.get(status, 'Whatever')}"]
        lines += [f"Via: {v}" for v in (request.get_all("Via") if vias is None else vias)]
        to = request.get("To") or ""
        if status > 100 and tag and "tag=" not in to:
            to = f"{to};tag={tag}"
        lines += [
            f"From: {request.get('From')}",
            f"To: {to}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.get('CSeq')}",
        ]
        if contact is None:
            contact = request.method in ("INVITE", "SUBSCRIBE") and status < 300 and status > 100
        if contact:
            lines.append(f"Contact: <sip:uas@{self.server.hostport}>")
        lines += list(headers)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def answer(
        self,
        request: Message,
        to: tuple[str, int],
        status: int,
        note: str = "",
        **kw: object,
    ) -> bytes:
        """Send a response to ``request`` (see `response`); its bytes, for retransmitting."""
        if status == 200 and request.method == "INVITE" and "body" not in kw:
            kw["body"] = sdp_answer(request.body or b"")
        data = self.response(request, status, **kw)  # type: ignore[arg-type]
        self.server.send(data, to, note)
        return data

    def send(self, data: bytes, to: tuple[str, int], note: str = "") -> None:
        self.server.send(data, to, note)

    def ok(self, request: Message, to: tuple[str, int]) -> None:
        """200 to a request (a BYE, a CANCEL...) without more."""
        self.answer(request, to, 200, body=b"", contact=False)

    def serve(self, duration: float) -> None:
        """Answer whatever comes for ``duration`` seconds (200 to BYE/CANCEL/OPTIONS...,
        nothing to ACK): the call ends cleanly."""
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            got = self.server.expect(lambda m: m.method is not None, timeout=left)
            if got is None:
                return
            msg, addr = got
            if msg.method != "ACK":
                self.answer(msg, addr, 200, body=b"", contact=False)

    # --- the postamble ------------------------------------------------------------------

    def close(self) -> bool:
        """Stop the triggered command (it may still be in a call: let it hang up first)."""
        if self.process is None:
            return True
        with contextlib.suppress(OSError):
            self.process.terminate()
        # answer what it sends while it stops (a BYE, an un-REGISTER): it then exits at once
        end = time.monotonic() + 1.0
        while self.process.poll() is None and time.monotonic() < end:
            with contextlib.suppress(CaseTimeout):
                got = self.server.expect(lambda m: m.method is not None, timeout=0.05)
                if got is not None and got[0].method != "ACK":
                    self.answer(got[0], got[1], 200, body=b"", contact=False, note="postamble")
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=2)
        return True
