"""UAC behaviour (RFC 3261 §8.1, §17.1, §13.2.2.4): the runner is the server a UAC calls.

The profile's ``[uac] originate`` command makes the element under test send an INVITE;
``{target}`` in it is replaced by the runner's ``host:port``.  Without it these cases are
not applicable.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time

from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.wire import Listener

#: load order of the case modules (conformance.discovery)
ORDER = 50

UAC = ("uac",)
#: the preamble of every UAC case
ORIGINATED = "an INVITE from the target (the profile's originate command)"
#: why they need no control: the runner is the server, and answers as the case needs
RUNNER_ANSWERS = "the runner is the UAS: nothing of the target's can turn the exchange down"


class _Call:
    def __init__(self, ctx: Context) -> None:
        if not ctx.profile.originate:
            ctx.not_applicable("the profile has no [uac] originate command")
        self.ctx = ctx
        self.server: Listener = ctx.listener()
        command = ctx.profile.originate.replace("{target}", self.server.hostport)
        self.process = subprocess.Popen(
            shlex.split(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def invite(self) -> tuple[Message, tuple[str, int]]:
        """The preamble: the INVITE the originate command makes the target send."""
        with self.ctx.preamble(ORIGINATED):
            got = self.server.expect(lambda m: m.method == "INVITE", timeout=5.0)
            if got is None:
                self.ctx.inconclusive("the originate command sent no INVITE")
        assert got is not None
        return got

    def respond(self, request: Message, to: tuple[str, int], status: int, tag: str) -> bytes:
        reason = {200: "OK", 486: "Busy Here", 180: "Ringing"}.get(status, "Whatever")
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in request.get_all("Via")]
        lines += [
            f"From: {request.get('From')}",
            f"To: {request.get('To')};tag={tag}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.get('CSeq')}",
            f"Contact: <sip:uas@{self.server.hostport}>",
            "Content-Length: 0",
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.server.send(data, to)
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        if self.process.poll() is None:
            self.process.kill()


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If an unreliable transport is being used, the client transaction MUST start timer A with a
##% value of T1.
@case(
    "uac-invite-retransmitted",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def invite_retransmitted(ctx: Context) -> None:
    """An unanswered INVITE over UDP is retransmitted after about T1."""
    call = _Call(ctx)
    try:
        first, _ = call.invite()
        at = time.monotonic()
        again = call.server.expect(
            lambda m: m.method == "INVITE" and m.branch == first.branch, timeout=4 * ctx.profile.t1
        )
        gap = time.monotonic() - at
        ctx.check(again is not None, "a retransmission", "none")
        ctx.check(
            0.6 * ctx.profile.t1 <= gap <= 1.8 * ctx.profile.t1,
            f"after {ctx.profile.t1} s",
            f"after {gap:.3f} s",
        )
    finally:
        call.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
##% fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header fields are
##% mandatory in all SIP requests.
@case(
    "uac-invite-mandatory-headers",
    roles=UAC,
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def mandatory_headers(ctx: Context) -> None:
    """The INVITE has To, From (tagged), CSeq, Call-ID, Max-Forwards, Via (z9hG4bK)."""
    call = _Call(ctx)
    try:
        invite, addr = call.invite()
        call.respond(invite, addr, 486, unique("u"))
        missing = [
            h
            for h in ("To", "From", "CSeq", "Call-ID", "Max-Forwards", "Via")
            if invite.get(h) is None
        ]
        ctx.check(
            not missing, "all six header fields", f"missing {', '.join(missing)}", requirement=1
        )
        ctx.check(
            (invite.branch or "").startswith("z9hG4bK"),
            "branch z9hG4bK...",
            invite.branch or "(none)",
        )
    finally:
        call.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK MUST contain a single Via header field, and this MUST be equal to the top Via
##% header field of the original request.
@case("uac-ack-non2xx", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def ack_non2xx(ctx: Context) -> None:
    """The ACK for a 486 reuses the INVITE's Via (branch) and carries our To tag."""
    call = _Call(ctx)
    try:
        invite, addr = call.invite()
        tag = unique("u")
        call.respond(invite, addr, 486, tag)
        got = call.server.expect(lambda m: m.method == "ACK", timeout=3.0)
        if got is None:
            ctx.fail("an ACK for the 486", "none")
        assert got is not None
        ack = got[0]
        ctx.check(
            ack.get_all("Via")[:1] == invite.get_all("Via")[:1] and ack.count("Via") == 1,
            invite.top_via,
            " | ".join(ack.get_all("Via")),
        )
        ctx.check(ack.to_tag == tag, f"To tag {tag}", f"To tag {ack.to_tag}")
    finally:
        call.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from the transaction
##% layer.
@case("uac-ack-2xx", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def ack_2xx(ctx: Context) -> None:
    """A 2xx gets an ACK with a new branch and the INVITE's CSeq number."""
    call = _Call(ctx)
    try:
        invite, addr = call.invite()
        call.respond(invite, addr, 200, unique("u"))
        got = call.server.expect(lambda m: m.method == "ACK", timeout=3.0)
        if got is None:
            ctx.fail("an ACK for the 2xx", "none")
        assert got is not None
        ack = got[0]
        ctx.check(
            ack.cseq[0] == invite.cseq[0], f"CSeq {invite.cseq[0]} ACK", ack.get("CSeq") or ""
        )
        ctx.check(ack.branch != invite.branch, "a new branch", ack.branch or "")
        bye = call.server.expect(lambda m: m.method == "BYE", timeout=1.0)
        if bye is not None:
            call.respond(bye[0], bye[1], 200, ack.to_tag or "x")
    finally:
        call.close()
