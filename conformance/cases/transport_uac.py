"""A UAC's transport on the wire (RFC 3261 §18.1.1, §18.1.2, §18.3), over UDP: how it frames
the responses it receives, and where it takes them from.

The target sends an OPTIONS (``[uac] options``); its client transaction retransmits it (Timer
E, §17.1.2.2) until a final response is taken, so whether it took one shows on the wire:
copies stop, or go on.
"""

from __future__ import annotations

import time

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

#: load order of the case modules (conformance.discovery)
ORDER = 84

ASKED = "an OPTIONS from the target ([uac] options)"


def _copies_after(peer: Peer, first: Message, window: float) -> int:
    """Copies of ``first`` (same branch) arriving within ``window`` seconds, those that
    crossed the response on the way (the first 50 ms) left out."""
    time.sleep(0.05)
    peer.server.pending = [
        (m, a) for m, a in peer.server.pending if m.branch != first.branch or m.method is None
    ]
    got = peer.collect(lambda m: m.method == first.method and m.branch == first.branch, window)
    return len(got)


def _window(ctx: Context) -> float:
    """Long enough for two Timer E retransmissions (T1, then 2*T1) on a loaded machine."""
    return 4 * ctx.profile.t1 + 0.4


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If there are additional bytes in the transport packet beyond the end of the body, they
##% MUST be discarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
@case(
    "uac-transport-bytes-beyond-body",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def bytes_beyond_body(ctx: Context) -> None:
    """A 200 datagram with bytes after its Content-Length's end is taken: the OPTIONS is not
    retransmitted after it."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    data = peer.response(first, 200) + b"bytes beyond Content-Length\r\n"
    peer.send(data, addr, "200 with bytes beyond the body")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies == 0, "the 200 taken: no more copies of the OPTIONS", f"{copies} more")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a response, it MUST be discarded.
@case(
    "uac-transport-short-response",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control="the complete 200 that follows the truncated one must stop the copies",
)
def short_response(ctx: Context) -> None:
    """A 200 datagram shorter than its Content-Length is discarded: the OPTIONS is still
    retransmitted; the complete 200 then stops it."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    whole = peer.response(first, 200)
    head = whole.replace(b"Content-Length: 0", b"Content-Type: text/plain\r\nContent-Length: 99")
    peer.send(head + b"twenty bytes of body", addr, "200 shorter than its Content-Length")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies > 0, "the truncated 200 discarded: the OPTIONS retransmitted", "no copy")
    peer.send(whole, addr, "the complete 200")
    after = _copies_after(peer, first, _window(ctx))
    if after:
        ctx.inconclusive(f"the complete 200 did not stop the copies either ({after} more)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% The client MUST be prepared to receive responses on any address and port that would be
##% selected by a server based on the procedures described in Section 5 of [4].
@case(
    "uac-transport-response-from-elsewhere",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def response_from_elsewhere(ctx: Context) -> None:
    """The 200 comes from another socket of the runner's (another source port), sent to the
    Via's sent-by: it is taken all the same."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    other = ctx.listener()
    parts = first.top_via.split()
    sent_by = parts[1].split(";")[0] if len(parts) > 1 else ""
    host, _, port = sent_by.rpartition(":")
    dest = (host.strip("[]"), int(port)) if port.isdigit() else (sent_by, 5060)
    if not host or not host.replace(".", "").isdigit():
        dest = addr  # a name in sent-by: RFC 3263 §5 would need DNS; the source will do
    other.send(peer.response(first, 200), dest, "200 from another socket")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies == 0, "the 200 taken: no more copies of the OPTIONS", f"{copies} more")
