"""Flow tokens: a proxy's signed name for the connection or UDP flow a request came on.

An edge proxy (RFC 7118 Appendix B.2 for WebSocket clients, RFC 5626 §5 for outbound)
must later send requests back over the flow a UA's REGISTER or dialog-forming request
arrived on.  Instead of a table of flows it writes a *flow token* into a URI it puts
in the message (the user part of its Path or Record-Route URI) and reads it back when
the URI returns in a Route.  The token is the far end's transport, address and port
(the index the transport layer keeps connections by, RFC 3261 §18), hex-encoded and
signed with a key of the process, so that a peer can neither forge one nor alter one
(:func:`is_flow_token` tells a tampered token from a plain user part).

Used by :mod:`rfc3261.websocket_edge` and the RFC 5626 extension.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .proxy.model import NextHop

__all__ = ["DEFAULT_PREFIX", "flow_token", "is_flow_token", "parse_flow_token"]

#: What every token starts with (a URI user part of ours, not a user's name).
DEFAULT_PREFIX = "ws-"

##= https://www.rfc-editor.org/rfc/rfc5626#section-5.2
##% A proxy can use any algorithm
##% it wants as long as the flow token is unique to a flow, the flow can
##% be recovered from the token, and the token cannot be modified by
##% attackers.
# A new key per process: after a restart the connections are gone anyway.
_KEY = secrets.token_bytes(20)


def _signature(data: bytes) -> str:
    return hmac.new(_KEY, data, hashlib.sha256).hexdigest()[:16]


def flow_token(transport: str, host: str, port: int, prefix: str = DEFAULT_PREFIX) -> str:
    """The token naming the flow to ``transport`` ``host``:``port`` (a URI user part)."""
    data = f"{transport.upper()} {host} {port}".encode()
    return f"{prefix}{data.hex()}.{_signature(data)}"


def is_flow_token(token: str | None, prefix: str = DEFAULT_PREFIX) -> bool:
    """Whether ``token`` looks like one of our tokens (genuine or not)."""
    return bool(token) and token.startswith(prefix) and "." in token  # type: ignore[union-attr]


def parse_flow_token(token: str | None, prefix: str = DEFAULT_PREFIX) -> NextHop | None:
    """The (transport, host, port) a :func:`flow_token` names; None if it is not one of
    ours (another user part, or a token altered or signed by another process)."""
    if not token or not token.startswith(prefix):
        return None
    encoded, _, signature = token[len(prefix) :].partition(".")
    try:
        data = bytes.fromhex(encoded)
        if not hmac.compare_digest(signature, _signature(data)):
            return None
        transport, host, port = data.decode().split(" ")
        return NextHop(transport, host, int(port))
    except ValueError:
        return None
