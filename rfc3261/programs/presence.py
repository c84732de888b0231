"""The presence server beside ``python -m rfc3261 proxy --presence URI`` (RFC 3903, RFC 6665).

The proxy stays a proxy (§16): it does not answer PUBLISH or SUBSCRIBE itself.  It
runs a second element in the same process -- a user agent listening on ``URI`` with the
``events`` and ``esc`` extensions (an event state compositor, ``extensions/rfc3903.py``)
on the proxy's location file -- and one :class:`PresenceRouting` hook
(:class:`~rfc3261.proxy.ProxyExtension`) that sends every PUBLISH, and every SUBSCRIBE
that starts a presence subscription, for a user of the proxy's domains to that
UA: the target keeps the Request-URI (the presentity's AOR, which the compositor keys
its state on) and gets a Route to the compositor (§16.6 step 6), so the request is
record-routed like any other and the NOTIFYs come back through the proxy (RFC 6665
§4.3).  Requests inside dialogs follow their Route headers as usual.

``rfc3261/`` never imports ``extensions/``: the two extensions are found by name
(:mod:`rfc3261.programs.plugins`), as ``--extension`` does.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from ..asyncio.dispatcher import CoreHost
from ..message import Request
from ..proxy import ProxyExtension, Target
from ..timers import DEFAULT_TIMERS, TimerValues
from ..ua_core import UAConfig, UserAgent
from ..uri import SipURI
from .plugins import available_ua_extensions

__all__ = ["PresenceRouting", "start_compositor"]

#: The methods whose out-of-dialog requests for our users go to the compositor.
ROUTED = ("PUBLISH", "SUBSCRIBE")


class PresenceRouting(ProxyExtension):
    """§16.5: PUBLISH and presence SUBSCRIBE for our domains go to the compositor."""

    def __init__(self, compositor: str, in_domain: Callable[[Any], bool]) -> None:
        self.route = f"<{compositor};lr>"
        self.in_domain = in_domain

    def wants(self, request: Request) -> bool:
        if request.method not in ROUTED or request.to.tag is not None:
            return False
        if request.method == "SUBSCRIBE":
            event = request.headers.get("Event") or ""
            if event.split(";")[0].strip().lower() != "presence":
                return False
        return isinstance(request.uri, SipURI) and self.in_domain(request.uri)

    def targets(self, request: Request, targets: list[Target]) -> list[Target]:
        if not self.wants(request):
            return targets
        return [Target(request.uri.copy(), route_set=(self.route,))]


async def start_compositor(
    listen: str,
    domains: frozenset[str],
    db_path: str,
    *,
    authenticator: Any = None,
    timers: TimerValues = DEFAULT_TIMERS,
    server_ssl: ssl.SSLContext | None = None,
    client_ssl: ssl.SSLContext | None = None,
) -> tuple[CoreHost, PresenceRouting, Any]:
    """Start the compositor UA on ``listen``; its host, the proxy hook and the compositor.

    ``authenticator`` (a :class:`~rfc3261.digest_server.DigestAuthenticator`, the
    registrar's) makes it challenge every PUBLISH and SUBSCRIBE with 401.  ``timers`` and
    the TLS contexts are the proxy's (its ``--t1``, ``--cert``/``--key``): a ``sips:``
    ``listen`` serves TLS.
    """
    found = available_ua_extensions()
    if "events" not in found or "esc" not in found:
        raise ValueError("--presence needs the events and esc extensions (extensions/)")

    def ours(uri: Any) -> bool:
        return isinstance(uri, SipURI) and uri.host_lower in domains

    events = found["events"](authenticator=authenticator)  # type: ignore[call-arg]
    compositor = found["esc"](  # type: ignore[call-arg]
        events, db_path, is_responsible=ours, authenticator=authenticator
    )
    host = CoreHost(None, server_ssl=server_ssl, client_ssl=client_ssl)
    host.deliver = lambda event: None
    points = await host.listen(listen)
    point = points[0]
    config = UAConfig(
        aor=f"sip:presence@{point.address.hostport}",
        contact=point.uri("presence"),
        sent_by=point.sent_by,
        transport=point.transport,
        allow=("OPTIONS",),
        timers=timers,
    )
    ua = UserAgent(config, extensions=[events, compositor])
    host.core = ua
    host.run(compositor.start(host.clock()))  # type: ignore[attr-defined]
    return host, PresenceRouting(str(point.uri()), ours), compositor
