"""Helpers of the proxy cases: the runner's downstream UASs and a target set bound at the
proxy's registrar (a helper module, not a case module: its name starts with ``_``).

The runner plays the upstream UAC on a `Link` to the proxy and one or more downstream UASs on
`Listener` sockets.  A request reaches several downstream sockets (forking, §16.5/§16.6) when
their contacts are bound to one address-of-record at the registrar the proxy consults (our
``proxy`` program and Kamailio both embed one); the request then goes to that AOR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from conformance.messages import Outgoing, unique
from conformance.model import Context, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

Got = tuple[Message, tuple[str, int]]

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    302: "Moved Temporarily",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    486: "Busy Here",
    487: "Request Terminated",
    500: "Server Internal Error",
    503: "Service Unavailable",
    603: "Decline",
}


def downstream_uri(down: Listener, user: str = "downstream") -> str:
    """The Request-URI naming a downstream socket: the proxy forwards it there (§16.5)."""
    return f"sip:{user}@{down.hostport}"


def reply(
    down: Listener,
    got: Got,
    status: int,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    note: str = "",
    body: bytes = b"",
) -> str:
    """Answer a request that reached a downstream socket as its UAS would (§8.2.6, §12.1.1:
    Via, From, Call-ID, CSeq copied, a To tag added, Record-Route and a Contact in a
    dialog-forming answer to INVITE); the To tag used."""
    msg, addr = got
    tag = msg.to_tag or to_tag or unique("d")
    lines = [f"SIP/2.0 {status} {REASONS.get(status, 'Whatever')}"]
    lines += [f"Via: {v}" for v in msg.get_all("Via")]
    if msg.method == "INVITE" and 100 < status < 300:
        lines += [f"Record-Route: {v}" for v in msg.get_all("Record-Route")]
        lines.append(f"Contact: <sip:downstream@{down.hostport}>")
    to = msg.get("To") or ""
    lines += [
        f"From: {msg.get('From')}",
        f"To: {to}" + ("" if msg.to_tag or status == 100 else f";tag={tag}"),
        f"Call-ID: {msg.call_id}",
        f"CSeq: {msg.get('CSeq')}",
    ]
    lines += [f"{name}: {value}" for name, value in extra]
    if body:
        lines.append("Content-Type: application/octet-stream")
    lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    down.send(data, addr, note or f"downstream {status}")
    return tag


def arrives(down: Listener, method: str, call_id: str = "", timeout: float = 3.0) -> Got | None:
    """The next ``method`` request reaching ``down`` (of that call, when given)."""
    return down.expect(
        lambda m: (
            not m.is_response and m.method == method and (not call_id or m.call_id == call_id)
        ),
        timeout=timeout,
    )


def upstream(
    link: Link, req: Outgoing, match: Callable[[Message], bool], timeout: float = 2.0
) -> Message | None:
    """The next response to ``req`` (by its branch) on the upstream link satisfying ``match``."""
    return link.expect(
        lambda m: (
            m.is_response and m.branch == req.branch and m.cseq[1] == req.method and match(m)
        ),
        timeout=timeout,
    )


def final_of(link: Link, req: Outgoing, timeout: float = 2.0) -> Message | None:
    return upstream(link, req, lambda m: (m.status or 0) >= 200, timeout)


def ack_upstream(link: Link, req: Outgoing, final: Message | None) -> None:
    """ACK a non-2xx final response to an INVITE sent through the proxy (§17.1.1.3)."""
    if final is None or (final.status or 0) < 300:
        return
    ack = Outgoing("ACK", req.uri)
    ack.add("Via", req.get("Via") or "")
    for name in ("Max-Forwards", "From"):
        ack.add(name, req.get(name) or "")
    ack.add("To", final.get("To") or req.get("To") or "")
    ack.add("Call-ID", req.call_id)
    ack.add("CSeq", f"{req.cseq_number} ACK")
    link.send(bytes(ack), "ACK")


def cancel_of(req: Outgoing) -> Outgoing:
    """The CANCEL of ``req`` (§9.1: same Request-URI, Call-ID, To, From, CSeq number, Via)."""
    cancel = Outgoing("CANCEL", req.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, req.get(name) or "")
    cancel.add("CSeq", f"{req.cseq_number} CANCEL")
    return cancel


def end_branch(down: Listener, got: Got, status: int = 487) -> None:
    """Close a downstream INVITE branch the case leaves: answer a CANCEL that came (200), the
    INVITE with ``status``, and take the proxy's ACK of it."""
    cancel = arrives(down, "CANCEL", got[0].call_id, timeout=0.2)
    if cancel is not None:
        reply(down, cancel, 200)
    reply(down, got, status)
    down.expect(lambda m: m.method == "ACK", timeout=0.3)


def bind_listeners(
    ctx: Context, count: int, params: str = "", more: tuple[str, ...] = ()
) -> tuple[str, list[Listener]]:
    """The preamble of the forking cases: ``count`` downstream sockets bound as contacts of
    one fresh address-of-record at the registrar the proxy consults (removed in the
    postamble), their URIs with ``params``, and the contacts ``more`` besides; the
    Request-URI that reaches them all."""
    from conformance.cases.registrar import Registration

    user = unique("fork")
    downs = [ctx.listener() for _ in range(count)]
    contacts = [f"<sip:{user}@{d.hostport}{params}>" for d in downs] + list(more)
    with ctx.preamble(f"{count} contacts bound to one address-of-record"):
        reg = Registration(ctx, user=user)
        final = reg.register(contacts, expires=300)
        if not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"REGISTER of {count} contacts got {describe(final)}")
    return f"sip:{user}@{ctx.profile.domain or ctx.target.hostport}", downs
