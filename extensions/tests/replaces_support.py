"""Our user agents on loopback for the RFC 3891 tests: one asyncio loop, UDP, events kept.

:class:`LoopbackUA` runs a :class:`~rfc3261.ua_core.UserAgent` on a
:class:`~rfc3261.asyncio.dispatcher.CoreHost` bound to 127.0.0.1 and records every event;
``answer=True`` answers each incoming call with a 200 and an SDP body.  ``wait_for``
waits (bounded) for an event of a type.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.extension import UAExtension
from rfc3261.session import IncomingCall
from rfc3261.ua_core import UAConfig, UserAgent


def sdp(port: int, name: str = "sipref") -> bytes:
    """A PCMU offer or answer on 127.0.0.1:``port``."""
    return (
        f"v=0\r\no={name} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()


class LoopbackUA:
    """One of our UAs on 127.0.0.1 (UDP), for user ``user``."""

    def __init__(self, user: str, extensions: list[UAExtension], *, answer: bool = True) -> None:
        self.user = user
        self.extensions = extensions
        self.answer = answer
        self.events: list[Any] = []
        self.changed = asyncio.Event()
        self.host: CoreHost | None = None
        self.ua: UserAgent | None = None
        self.port = free_port()
        self.media = free_port()

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    async def start(self) -> LoopbackUA:
        host = CoreHost(None)
        await host.listen(f"sip:127.0.0.1:{self.port}", with_tcp=False)
        point = host.local_point("UDP")
        config = UAConfig(
            aor=f"sip:{self.user}@127.0.0.1",
            contact=str(point.uri(self.user)),
            sent_by=point.sent_by,
        )
        self.ua = UserAgent(config, extensions=self.extensions)
        host.core = self.ua
        host.deliver = self._deliver
        self.host = host
        return self

    def _deliver(self, event: Any) -> None:
        self.events.append(event)
        self.changed.set()
        if self.answer and isinstance(event, IncomingCall):
            assert self.ua is not None
            self.run(self.ua.sessions.answer(event.call, self.now, body=sdp(self.media)))

    @property
    def now(self) -> float:
        assert self.host is not None
        return self.host.clock()

    def run(self, effects: list[Any]) -> None:
        assert self.host is not None
        self.host.run(effects)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The events of ``kind`` once there are ``count`` of them (TimeoutError else)."""
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.of(kind)

    async def close(self) -> None:
        if self.host is not None:
            await self.host.close()
