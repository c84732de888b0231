"""A transaction-stateful proxy (RFC 3261 §16, RFC 5393), sans-I/O on the transaction layer.

Theory of operation
-------------------
:class:`Proxy` is the transaction user (TU) of a :class:`~rfc3261.transaction_layer.
TransactionLayer`.  A new request gets a server transaction; the proxy validates it
(§16.3), preprocesses its routing information (§16.4), determines the target set
(§16.5: the location service, or the Request-URI), and forwards one copy per target,
each on its own client transaction (§16.6, ten steps, one method each).  All of this
hangs on a :class:`ResponseContext` (one per server transaction); each forwarded copy
is a :class:`Branch`.  Responses from the client transactions are processed by §16.7
(best response, 6xx, aggregated challenges, 2xx forwarded at once), Timer C watches
INVITE branches (§16.8), a CANCEL cancels every pending branch (§16.10), ACKs
for 2xx are forwarded statelessly (§16.11), and responses without a client
transaction are dropped (RFC 6026 §8.2).  :mod:`~rfc3261.proxy.crossing` double-
record-routes a request that changes transport (RFC 5658).
Forking is parallel (every target at once) or sequential (one target after another,
highest q first); RFC 5393 Max-Breadth bounds the concurrent branches, and the loop
check distinguishes spirals from loops by the "second part" of our branch parameter.
REGISTER requests for our domains go to the embedded :class:`~rfc3261.registrar.
Registrar` (§10.3) instead of being forwarded.

Each target is a :class:`Target`: a URI plus what forwarding to it needs besides the
URI -- a route set to push as Route values (RFC 3327 Path) and a flow token for the
edge (RFC 5626).  Extensions plug in per proxy instance as :class:`ProxyExtension`
objects: they shape the targets taken from the location service (§16.5) and see
each copy just before it is sent (§16.6 step 10).

Reading guide
-------------
The package follows §16 step by step; each module is one part of :class:`Proxy`
and can be read beside its section:

- :mod:`~rfc3261.proxy.model` -- the vocabulary: targets, branches, response contexts,
  configuration, the extension hooks, the Sends handed to the adapter;
- :mod:`~rfc3261.proxy.core` -- :class:`Proxy` itself (§16.1, §16.2): entry points,
  the transaction layer's effects, a new request taken through §16.3-§16.6;
- :mod:`~rfc3261.proxy.validation` -- §16.3 request validation (with RFC 5393 loop
  detection and Max-Breadth) and §16.4 route information preprocessing;
- :mod:`~rfc3261.proxy.targets` -- §16.5 determining request targets;
- :mod:`~rfc3261.proxy.forwarding` -- §16.6 request forwarding, steps 1-10;
- :mod:`~rfc3261.proxy.responses` -- §16.7 response processing, steps 1-10;
- :mod:`~rfc3261.proxy.cancel` -- §16.8 Timer C, §16.9 transport errors, §16.10 CANCEL;
- :mod:`~rfc3261.proxy.stateless` -- §16.11: what is forwarded statelessly.

Adapter contract (what the asyncio program on the transport dispatcher does)
--------------------------------------------------------------------------
Nothing here opens a socket or reads a clock.  The adapter:

1. parses each datagram / framed stream message (``rfc3261.message.parse``), answers
   unparsable requests itself (``bad_request_response``), and passes requests to
   :meth:`Proxy.receive_request` ``(request, source, now)`` and responses to
   :meth:`Proxy.receive_response` ``(response, source, now)``; ``source`` is opaque to
   the proxy (e.g. the transport connection or (transport, host, port)) and comes back
   as the destination of the responses sent on that server transaction.  The transport
   adds ``received``/``rport`` to the top Via before (§18.2.1, RFC 3581);
2. performs every :class:`Send` returned, in order: ``destination`` is either a source
   given earlier or a :class:`NextHop` (transport, host, port|None), which the adapter
   resolves with RFC 3263 (DNS NAPTR/SRV/A) when ``host`` is a name or ``port`` is None;
   a NextHop's ``flow`` (a token, or None) names a connection the adapter should send
   on instead while that connection is alive (RFC 5626);
   if sending fails it calls :meth:`Proxy.transport_error` with that Send (or its
   transaction, as :class:`~rfc3261.asyncio.dispatcher.CoreHost` does);
3. sleeps until :meth:`Proxy.next_deadline` (None: nothing pending) and then calls
   :meth:`Proxy.handle_timer` ``(now)``, again performing the Sends returned.

``now`` is seconds since the epoch (``time.time()``): the same clock the registrar
uses for bindings; the transaction timers only need it to be monotonic in practice.
"""

from __future__ import annotations

from .core import Proxy
from .model import (
    Branch,
    NextHop,
    ProxyConfig,
    ProxyExtension,
    ResponseContext,
    Send,
    Target,
)
from .model import _Answer as _Answer  # private; named in docstrings
from .responses import best_response, via_destination

__all__ = [
    "Branch",
    "NextHop",
    "Proxy",
    "ProxyConfig",
    "ProxyExtension",
    "ResponseContext",
    "Send",
    "Target",
    "best_response",
    "via_destination",
]
