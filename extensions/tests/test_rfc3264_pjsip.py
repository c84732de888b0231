"""SDP offer/answer (RFC 3264, RFC 8866) against PJSIP, a stack we did not write.

Our UA (``OfferAnswer`` on ``CoreHost``, in a thread with its own event loop) and a PJSIP
peer (``pjsua_peer.py`` through :class:`PjsuaPeer`, its own process) call each other on
loopback with different codec lists; each side's negotiated codec is read from its own
API (ours: :meth:`SdpDescriber.negotiated`; PJSIP's: ``Call.getStreamInfo``) and the two
must agree.  Hold and resume go both ways; we send an offerless INVITE; PJSIP receives
our answer in a reliable 183 (RFC 3262).  No media is sent by us.

Without the pjsua2 wheel the tests skip, unless SIPREF_REQUIRE_EXTERNAL=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extensions.rfc3262 import ProvisionalAcknowledged, ReliableProvisional
from extensions.rfc3264 import OfferAnswer, SdpDescriber, codecs_from_names
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import Call, CallEstablished, IncomingCall, ReinviteReceived, ReinviteResult
from rfc3261.ua_core import UAConfig, UserAgent

from .pjsua_support import OnItsLoop, PjsuaPeer, require_pjsua

pytestmark = pytest.mark.interop

WAIT = 8.0


@pytest.fixture(autouse=True)
def rel_headers() -> Iterator[None]:
    yield
    for name in ("RSeq", "RAck"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


class Ours(OnItsLoop):
    """Our UA on 127.0.0.1 with SDP offer/answer (and 100rel when asked)."""

    def __init__(self, codecs: str, *, rel: bool = False) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        self.port = free_port()
        self.sdp = OfferAnswer(
            SdpDescriber(codecs_from_names(codecs), address="127.0.0.1", first_port=41000)
        )
        self.extensions = [self.sdp, *([ReliableProvisional()] if rel else [])]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host, self.ua = self._in_loop(self._start())

    @property
    def uri(self) -> str:
        return f"sip:alice@127.0.0.1:{self.port}"

    async def _start(self) -> tuple[CoreHost, UserAgent]:
        host = CoreHost(None, self.events.put)
        await host.listen(f"sip:127.0.0.1:{self.port}")
        point = host.local_point("UDP")
        config = UAConfig(aor=self.uri, contact=str(point.uri("alice")), sent_by=point.sent_by)
        ua = UserAgent(config, extensions=self.extensions)
        host.core = ua
        return host, ua

    def expect(self, kind: type | tuple[type, ...], when: Callable[[Any], bool] = bool) -> Any:
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            try:
                event = self.events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if isinstance(event, kind) and when(event):
                return event
        raise AssertionError(f"our UA never saw {kind}; saw {self.seen}")

    def session(self, call: Call) -> Any:
        (stream,) = self._in_loop(_value(self.sdp.describer.negotiated, call))
        return stream

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._in_loop(self.host.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _value(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


@pytest.fixture
def ends(tmp_path: Path) -> Iterator[Callable[..., tuple[Ours, PjsuaPeer]]]:
    made: list[Any] = []

    def make(ours_codecs: str, peer_codecs: str, *, rel: bool = False) -> tuple[Ours, PjsuaPeer]:
        require_pjsua()
        peer = PjsuaPeer(
            tmp_path / "pjsua.log",
            user="pj",
            codecs=peer_codecs,
            rel100="supported" if rel else "off",
        )
        made.append(peer)
        ours = Ours(ours_codecs, rel=rel)
        made.append(ours)
        return ours, peer

    yield make
    for thing in reversed(made):
        thing.stop()


def media(peer: PjsuaPeer, when: Callable[[dict[str, Any]], bool] = bool) -> dict[str, Any]:
    """PJSIP's next report of its one audio stream, as its API gives it."""
    event = peer.wait("media", WAIT, lambda e: bool(e["streams"]) and when(e["streams"][0]))
    return event["streams"][0]


def same_codec(ours: Any, theirs: dict[str, Any]) -> None:
    name, rate = ours.codec.split("/")
    assert (theirs["codec"].lower(), theirs["clock_rate"]) == (name.lower(), int(rate)), theirs
    assert str(theirs["tx_pt"]) == ours.payload_type


def our_call_to(ours: Ours, peer: PjsuaPeer, *, offer: bool = True) -> Call:
    if offer:
        call, _ = ours.do(lambda ua, now: ours.sdp.invite(f"<{peer.uri}>", now))
    else:
        call, _ = ours.do(lambda ua, now: ua.sessions.invite(f"<{peer.uri}>", now, body=b""))
    peer.wait("incoming_call", WAIT)
    peer.send("answer", code=200)
    ours.expect(CallEstablished)
    peer.call_state("CONFIRMED")
    return call


def pjsip_call_to(ours: Ours, peer: PjsuaPeer) -> Call:
    peer.send("call", uri=ours.uri)
    incoming = ours.expect(IncomingCall).call
    ours.do(lambda ua, now: ua.sessions.answer(incoming, now))
    peer.call_state("CONFIRMED")
    ours.expect(CallEstablished)
    return incoming


def test_we_call_pjsip_and_both_sides_agree_on_the_intersection(ends: Any) -> None:
    ours, peer = ends("GSM,PCMU,PCMA", "PCMA,G722,PCMU")
    call = our_call_to(ours, peer)
    theirs = media(peer)
    mine = ours.session(call)
    assert theirs["status"] == "active" and mine.direction == "sendrecv"
    assert mine.codec in ("PCMU/8000", "PCMA/8000")  # GSM is not PJSIP's, G722 not ours
    same_codec(mine, theirs)
    assert theirs["remote"].endswith(f":{mine.local_port}")
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


def test_pjsip_calls_us_and_our_answer_keeps_its_payload_types(ends: Any) -> None:
    ours, peer = ends("G722,PCMA", "PCMU,PCMA,G722")
    call = pjsip_call_to(ours, peer)
    mine, theirs = ours.session(call), media(peer)
    same_codec(mine, theirs)
    assert mine.codec == "PCMA/8000"  # the offer's order: PCMA before G722
    # Our 200 lists both common codecs in the offer's order, with its numbers (PJSIP
    # then re-INVITEs to keep one: its "lock codec" step, answered like any offer).
    answers = re.findall(rf"^m=audio {mine.local_port} .*$", peer.log_text(), re.M)
    assert answers[0] == f"m=audio {mine.local_port} RTP/AVP 8 9", answers
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


def test_we_hold_and_resume_pjsip(ends: Any) -> None:
    ours, peer = ends("PCMU,PCMA", "PCMU")
    call = our_call_to(ours, peer)
    media(peer)
    ours.do(lambda ua, now: ours.sdp.hold(call, now))
    ours.expect(ReinviteResult, lambda e: e.response.status == 200)
    assert media(peer)["status"] == "remote_hold"
    assert ours.session(call).direction == "sendonly"
    ours.do(lambda ua, now: ours.sdp.resume(call, now))
    ours.expect(ReinviteResult, lambda e: e.response.status == 200)
    assert media(peer)["status"] == "active"
    assert ours.session(call).direction == "sendrecv"
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


def test_pjsip_holds_and_resumes_us(ends: Any) -> None:
    ours, peer = ends("PCMA", "PCMA,PCMU")
    call = pjsip_call_to(ours, peer)
    media(peer)
    peer.send("hold")
    ours.expect(ReinviteReceived)
    assert media(peer)["status"] == "local_hold"
    assert ours.session(call).direction == "recvonly"
    peer.send("reinvite")  # with PJSUA_CALL_UNHOLD
    ours.expect(ReinviteReceived)
    assert media(peer)["status"] == "active"
    assert ours.session(call).direction == "sendrecv"
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


def test_an_offerless_invite_from_us_is_answered_in_the_ack(ends: Any) -> None:
    ours, peer = ends("PCMA,PCMU", "PCMU,PCMA")
    call = our_call_to(ours, peer, offer=False)
    theirs = media(peer)
    mine = ours.session(call)
    assert theirs["status"] == "active"
    same_codec(mine, theirs)
    assert mine.codec == "PCMU/8000"  # PJSIP's offer, its order
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


def test_our_answer_in_a_reliable_183(ends: Any) -> None:
    ours, peer = ends("PCMU", "PCMA,PCMU", rel=True)
    peer.send("call", uri=ours.uri)
    incoming = ours.expect(IncomingCall).call
    offer = incoming.server.request.body

    def ring(ua: UserAgent, now: float) -> Any:
        return ua.sessions.ring(
            incoming, now, 183, body=ours.sdp.describer.answer(incoming, offer)
        )

    ours.do(ring)
    peer.call_state("EARLY")
    early = media(peer)
    assert (early["codec"], early["status"]) == ("PCMU", "active")
    ours.expect(ProvisionalAcknowledged)  # PJSIP's PRACK
    ours.do(lambda ua, now: ua.sessions.answer(incoming, now))
    peer.call_state("CONFIRMED")
    same_codec(ours.session(incoming), early)
    peer.send("hangup")
    peer.call_state("DISCONNECTED")
