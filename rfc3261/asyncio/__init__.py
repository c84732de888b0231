"""The asyncio edge: sockets, the event loop and real time around the sans-I/O core.

Everything else in :mod:`rfc3261` is pure protocol logic fed with messages and ``now``;
this subpackage is where bytes meet sockets (the separation aioquic makes between
``quic/`` and ``asyncio/``):

- :mod:`~rfc3261.asyncio.transport` -- §18 on asyncio: UDP sockets, TCP/TLS connections,
  framing, limits, and the transport drivers behind ``register_transport``;
- :mod:`~rfc3261.asyncio.dispatcher` -- the transport layer's duties of §18.1.2/§18.2
  (received/rport, sent-by checks, response routing) and :class:`CoreHost`, which runs a
  UA, proxy or registrar core on sockets with one event-loop timer;
- :mod:`~rfc3261.asyncio.resolver` -- the resolver seam (IP literals by default);
- :mod:`~rfc3261.asyncio.dns` -- RFC 3263 over DNS behind that seam (dnspython's asyncio
  resolver, a TTL cache; the decisions are the sans-I/O :mod:`rfc3261.locate`);
- :mod:`~rfc3261.asyncio.loopback` -- helpers for tests and programs on 127.0.0.1 / ::1;
- :mod:`~rfc3261.asyncio.uas_minimal` -- the minimal UAS used by the benchmarks.

Nothing outside this subpackage and :mod:`rfc3261.programs` imports it.
"""
