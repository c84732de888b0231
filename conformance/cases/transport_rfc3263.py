"""A server answering over TLS (RFC 3263 §5): a request whose top Via names TLS gets its
response over TLS.  Runs over a TLS target (the transport variants' ``transport-*``)."""

from __future__ import annotations

from conformance.cases.transport_server import _Exchange
from conformance.model import Context, case, describe

#: load order of the case modules (conformance.discovery): beside transport_tls (81)
ORDER = 81

SERVERS = ("uas", "registrar", "redirect")


##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% When this value is present, the server MUST use TLS over TCP to send the response.
@case(
    "transport-3263-response-over-tls",
    roles=SERVERS,
    transports=("tls",),
    no_control="judged on the answer to the request itself; the TLS link is the setting",
)
def response_over_tls(ctx: Context) -> None:
    """An OPTIONS over TLS whose top Via transport is TLS: its response comes back over
    TLS (the runner listens for it on the TLS connection only)."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    req = exchange.request(link)
    via = req.get("Via") or ""
    if not via.upper().startswith("SIP/2.0/TLS"):
        ctx.inconclusive(f"the runner's Via is not TLS: {via}")
    final = exchange.send(link, req)
    ctx.check(final is not None, "the response over the TLS connection", describe(final))
