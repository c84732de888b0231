"""Helpers of the UAS dialog, INVITE and status-code cases (``uas_dialog``, ``uas_invite``,
``uas_codes``): answering a request the target sends, SDP bits, and the call the target
ends itself (the profile's ``hangup_user``), whose BYE shows the dialog state it kept."""

from __future__ import annotations

import time
from dataclasses import dataclass

from conformance.cases.uas import _SDP
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link

__all__ = [
    "HANGUP",
    "CalleeBye",
    "callee_bye",
    "is_sdp",
    "respond",
    "sdp_formats",
    "sdp_offer",
    "sdp_origin",
    "tag_of",
    "uri_of",
    "wait_bye",
]

#: the preamble of the cases judging the target's own BYE
HANGUP = "a call to the profile's hangup_user answered with 2xx (the target ends it itself)"


def uri_of(value: str) -> str:
    """The URI of a name-addr or addr-spec header field value (parameters after > dropped)."""
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def respond(
    link: Link,
    request: Message,
    status: int,
    reason: str = "OK",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> None:
    """Answer a request the target sent on ``link`` (a BYE, a re-INVITE...)."""
    to = request.get("To") or ""
    if "tag=" not in to:
        to += f";tag={unique('r')}"
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    lines += [
        f"From: {request.get('From')}",
        f"To: {to}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
    ]
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    link.send(data, f"{status} to {request.method}")


def sdp_offer(version: int = 1, formats: str = "0 8") -> bytes:
    """The runner's SDP offer (one audio stream, loopback, port 9: no media flows)."""
    rtpmaps = {"0": "PCMU/8000", "8": "PCMA/8000"}
    lines = [
        "v=0",
        f"o=tester 1 {version} IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio 9 RTP/AVP {formats}",
    ]
    lines += [f"a=rtpmap:{f} {rtpmaps[f]}" for f in formats.split() if f in rtpmaps]
    return ("\r\n".join(lines) + "\r\n").encode()


def sdp_formats(body: bytes) -> list[tuple[str, str, list[str]]]:
    """Each m= line of an SDP body as (media, proto, formats)."""
    out = []
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 3:
                out.append((parts[0], parts[2], parts[3:]))
    return out


def sdp_origin(body: bytes) -> list[str]:
    """The o= line's fields (username, sess-id, sess-version, ...), [] without one."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            return line[2:].split()
    return []


def is_sdp(msg: Message) -> bool:
    """The message carries an SDP body."""
    ctype = (msg.get("Content-Type") or "").split(";")[0].strip().lower()
    return ctype == "application/sdp" and b"m=" in msg.body


@dataclass
class CalleeBye:
    """The call of `callee_bye` and the BYE the target sent to end it."""

    invite: Outgoing
    answer: Message
    bye: Message
    early_bye: Message | None  # a BYE that came before the ACK was sent (§15: forbidden)
    ack_sent: float
    bye_at: float


def callee_bye(
    ctx: Context,
    link: Link,
    extra: list[tuple[str, str]] | None = None,
) -> tuple[Outgoing, Message]:
    """The preamble of `wait_bye`: INVITE the profile's ``hangup_user`` and get a 2xx.

    Not applicable without a ``hangup_user``; inconclusive when the call is not accepted."""
    if not ctx.profile.hangup_user:
        ctx.not_applicable(
            "the profile names no hangup_user (a user whose calls the target answers and"
            " then ends itself): nothing makes the target send a BYE"
        )
    with ctx.preamble(HANGUP):
        req = ctx.request("INVITE", link, user=ctx.profile.hangup_user, body=_SDP, extra=extra)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "final response to the INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    return req, final


def wait_bye(
    ctx: Context,
    link: Link,
    req: Outgoing,
    final: Message,
    hold_ack: float = 0.0,
) -> CalleeBye:
    """ACK the 2xx (after ``hold_ack`` seconds, watching for a BYE meanwhile), then wait for
    the target's BYE, answer it 200 and mark the call ended.  Inconclusive without a BYE."""
    early = None
    if hold_ack:
        early = link.expect(lambda m: m.method == "BYE", timeout=hold_ack)
    ack = ack_for(req, final, ctx.target)
    ack.set("Route", None)  # the Record-Route values the cases send name the runner itself
    link.send(bytes(ack), "ACK")
    ack_sent = time.monotonic()
    if early is not None:
        respond(link, early, 200)
        bye = early
    else:
        wait = ctx.profile.hangup_after + max(2.0, 8 * ctx.profile.t1)
        got = link.expect(lambda m: m.method == "BYE" and m.call_id == req.call_id, timeout=wait)
        if got is None:
            ctx.inconclusive(
                f"the target sent no BYE within {wait:.1f} s of the ACK (profile hangup_after)"
            )
        assert got is not None
        respond(link, got, 200)
        bye = got
    dialog = ctx.call(link, req, final)
    dialog.ended = True
    return CalleeBye(req, final, bye, early, ack_sent, time.monotonic())


def tag_of(value: str | None) -> str | None:
    return param(value or "", "tag")
