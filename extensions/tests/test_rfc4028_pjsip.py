"""RFC 4028 session timers against PJSIP, a stack we did not write, over UDP on loopback.

Our UA (``SessionTimer`` on ``CoreHost``, in a thread with its own event loop) and a PJSIP
peer (``pjsua_peer.py`` with ``--timer``, driven through ``pjsua_support.PjsuaPeer``)
negotiate session timers both ways: who refreshes, the 422 of a too small interval, the
refresh itself.  PJSIP will not go below 90 s (its Min-SE floor, as RFC 4028 §5 says),
so a refresh comes after 45 s.  Our UA's clock is a test clock that can jump ahead:
when *we* refresh, the test moves our clock 45 s on and PJSIP receives a real refresh
at once; when *PJSIP* refreshes, only waiting helps -- one test does (about 46 s), the
others finish in seconds.
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

from extensions.rfc3311 import UpdateExtension
from extensions.rfc4028 import SessionExpired, SessionIntervalSet, SessionRefreshSent, SessionTimer
from extensions.tests.pjsua_support import OnItsLoop, PcmuDescriber, PjsuaPeer
from rfc3261.asyncio.dispatcher import CORE_CLOCK, CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import CallEnded, CallEstablished, IncomingCall
from rfc3261.ua_core import UAConfig, UserAgent

pytestmark = pytest.mark.interop

WAIT = 8.0
MEDIA_PORT = 49172  # where our SDP says our audio is: nothing listens (no media is sent)


@pytest.fixture(autouse=True)
def timer_headers() -> Iterator[None]:
    yield
    for name in ("Session-Expires", "Min-SE"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


class Ours(OnItsLoop):
    """Our UA on 127.0.0.1 with session timers, on a clock the test can move ahead."""

    def __init__(self, timer: SessionTimer, *, update: bool) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        self.port = free_port()
        self.offset = 0.0
        self.timer = timer
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        extensions = [timer, *([UpdateExtension()] if update else [])]
        self.host, self.ua = self._in_loop(self._start(extensions))

    def clock(self) -> float:
        return CORE_CLOCK() + self.offset

    async def _start(self, extensions: list[Any]) -> tuple[CoreHost, UserAgent]:
        host = CoreHost(None, self.events.put, clock=self.clock)
        await host.listen(f"sip:127.0.0.1:{self.port}")
        point = host.local_point("UDP")
        config = UAConfig(
            aor=f"sip:alice@127.0.0.1:{self.port}",
            contact=str(point.uri("alice")),
            sent_by=point.sent_by,
            transport=point.transport,
        )
        ua = UserAgent(config, extensions=extensions)
        ua.sessions.describer = PcmuDescriber(MEDIA_PORT)
        host.core = ua
        return host, ua

    def jump(self, seconds: float) -> None:
        """Move our clock ``seconds`` ahead; the timers due by then fire at once."""

        async def run() -> None:
            self.offset += seconds
            self.host.run([])  # re-arm the event-loop timer for the new "now"

        self._in_loop(run())

    def expect(self, kind: type, what: str = "", when: Callable[[Any], bool] = bool) -> Any:
        end = time.monotonic() + WAIT
        for event in self.seen:
            if isinstance(event, kind) and when(event):
                self.seen.remove(event)
                return event
        while time.monotonic() < end:
            try:
                event = self.events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(event, kind) and when(event):
                return event
            self.seen.append(event)
        raise AssertionError(f"our UA never saw {what or kind.__name__}; saw {self.seen}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._in_loop(self.host.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def ends(tmp_path: Path) -> Iterator[Callable[..., tuple[Ours, PjsuaPeer]]]:
    made: list[Any] = []

    def make(timer: SessionTimer, *options: str, update: bool = False) -> tuple[Ours, PjsuaPeer]:
        peer = PjsuaPeer(tmp_path / "pjsip.log", user="pj", options=options)
        made.append(peer)
        ours = Ours(timer, update=update)
        made.append(ours)
        return ours, peer

    yield make
    for thing in reversed(made):
        thing.stop()


def messages(log: str, start: str, cseq_method: str) -> list[str]:
    """The messages in PJSIP's log whose first line starts ``start``, for ``cseq_method``."""
    found = []
    for match in re.finditer(r"^" + re.escape(start) + r".*?(?=\n\s*\n|\Z)", log, re.M | re.S):
        text = match.group(0)
        cseq = re.search(r"^CSeq: *\d+ *(\w+)", text, re.M)
        if cseq is not None and cseq.group(1) == cseq_method:
            found.append(text)
    return found


def header(message: str, name: str) -> str | None:
    match = re.search(rf"^(?:{name}): *(.*)$", message, re.M | re.I)
    return match.group(1).strip() if match else None


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


# -- we call PJSIP -----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The UAC MUST set the
##% identity of the refresher to the value of this parameter.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If
##% a UAC knows that its peer supports the UPDATE method, it is
##% RECOMMENDED that UPDATE be used instead of a re-INVITE.
@pytest.mark.parametrize("update", [False, True], ids=["reinvite", "update"])
def test_we_call_pjsip_and_refresh_the_session(update: bool, ends: Any) -> None:
    ours, peer = ends(SessionTimer(session_expires=90), "--timer", "optional", update=update)
    call, _ = ours.do(
        lambda ua, now: ua.sessions.invite(
            f"sip:pj@127.0.0.1:{peer.port}", now, body=ua.sessions.describer.offer(None)
        )
    )
    peer.wait("incoming_call")
    peer.send("answer", code=200)
    ours.expect(CallEstablished)
    peer.call_state("CONFIRMED")
    ok = messages(peer.log_text(), "SIP/2.0 200", "INVITE")[0]
    # PJSIP, the UAS, leaves the refreshes to us, the UAC that asked (Table 2).
    assert re.fullmatch(r"90;refresher=uac", header(ok, "Session-Expires|x") or "")
    assert "timer" in (header(ok, "Require") or "")
    negotiated = ours.expect(SessionIntervalSet)
    assert (negotiated.interval, negotiated.local_refresher) == (90, True)
    # 45 s later (on our clock) the refresh goes out, and PJSIP accepts it.
    ours.jump(45.5)
    method = "UPDATE" if update else "INVITE"
    assert ours.expect(SessionRefreshSent).method == method
    renewed = ours.expect(SessionIntervalSet)
    assert (renewed.interval, renewed.local_refresher) == (90, True)
    log = peer.log_text()
    refreshes = [m for m in messages(log, method + " sip:", method) if "To:" in m and ";tag=" in m]
    refresh = refreshes[-1]
    assert header(refresh, "Session-Expires|x") == "90;refresher=uac"
    answered = messages(log, "SIP/2.0 200", method)[-1]
    assert header(answered, "Session-Expires|x") == "90;refresher=uac"
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
##= type=test
##% If the response to a session refresh request is a 422 (Session
##% Interval Too Small) response message, then the UAC MAY retry the
##% request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% Similarly, if no dialog has been
##% established yet, a UAC MUST insert the Min-SE header field into an
##% INVITE request if it has ever received a 422 response to a previous
##% INVITE request with the same Call-ID.
def test_pjsip_refuses_a_too_small_interval_with_422_and_our_retry_succeeds(ends: Any) -> None:
    ours, peer = ends(SessionTimer(session_expires=90), "--timer", "optional", "--min-se", "180")
    call, _ = ours.do(
        lambda ua, now: ua.sessions.invite(
            f"sip:pj@127.0.0.1:{peer.port}", now, body=ua.sessions.describer.offer(None)
        )
    )
    # (PJSIP answers the first INVITE with 422 itself; the call to answer is the retry's.)
    peer.wait("incoming_call", where=lambda e: "Min-SE" in e["headers"])
    peer.send("answer", code=200)
    ours.expect(CallEstablished)
    log = peer.log_text()
    rejected = messages(log, "SIP/2.0 422", "INVITE")
    assert rejected and header(rejected[0], "Min-SE") == "180"
    retried = messages(log, "INVITE sip:", "INVITE")[-1]
    assert header(retried, "Min-SE") == "180" and header(retried, "Session-Expires|x") == "180"
    assert ours.expect(SessionIntervalSet).interval == 180
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.call_state("DISCONNECTED")


# -- PJSIP calls us ----------------------------------------------------------------------


def pjsip_calls(ours: Ours, peer: PjsuaPeer) -> Any:
    peer.send("call", uri=f"sip:alice@127.0.0.1:{ours.port}")
    incoming: IncomingCall = ours.expect(IncomingCall)
    call = incoming.call
    ours.do(lambda ua, now: ua.sessions.answer(call, now))
    ours.expect(CallEstablished)
    peer.call_state("CONFIRMED")
    return incoming


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS MUST set the value of the refresher parameter in the
##% Session-Expires header field in the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% Similarly, if the side not performing refreshes does not receive a
##% session refresh request before the session expiration, it SHOULD send
##% a BYE to terminate the session, slightly before the session
##% expiration.  The minimum of 32 seconds and one third of the session
##% interval is RECOMMENDED.
@pytest.mark.parametrize("chosen", ["uac", "uas"])
def test_pjsip_calls_us_and_the_refresher_is_the_one_we_choose(chosen: str, ends: Any) -> None:
    ours, peer = ends(
        SessionTimer(uas_refresher=chosen), "--timer", "always", "--session-expires", "90"
    )
    incoming = pjsip_calls(ours, peer)
    asked = incoming.request.header("Session-Expires")
    # PJSIP asks for 90 s and leaves the refresher to us (as RFC 4028 §7.1 recommends).
    assert asked is not None and (asked.delta, asked.refresher) == (90, None)
    assert "timer" in [str(t) for t in incoming.request.header("Supported")]
    ok = messages(peer.log_text(), "SIP/2.0 200", "INVITE")[0]
    assert header(ok, "Session-Expires|x") == f"90;refresher={chosen}"
    negotiated = ours.expect(SessionIntervalSet)
    assert (negotiated.interval, negotiated.local_refresher) == (90, chosen == "uas")
    if chosen == "uac":
        # PJSIP should refresh at 45 s; on our clock 60 s pass without one: our BYE.
        ours.jump(60.5)
        assert ours.expect(SessionExpired).call is incoming.call
        peer.call_state("DISCONNECTED")
        assert messages(peer.log_text(), "BYE sip:", "BYE")
    else:
        # We refresh PJSIP's call (a re-INVITE: no UPDATE here) and PJSIP accepts it.
        ours.jump(45.5)
        assert ours.expect(SessionRefreshSent).method == "INVITE"
        assert ours.expect(SessionIntervalSet).local_refresher
        answered = messages(peer.log_text(), "SIP/2.0 200", "INVITE")[-1]
        assert header(answered, "Session-Expires|x") == "90;refresher=uac"
        assert not incoming.call.ended
        peer.send("hangup")
        ours.expect(CallEnded)
        peer.call_state("DISCONNECTED")


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the UAS wishes to accept the request, it copies the value of the
##% Session-Expires header field from the request into the 2xx response.
def test_pjsip_refreshes_a_session_it_called_in_real_time(ends: Any) -> None:
    """The one slow test: PJSIP's own refresh comes 45 s after the 2xx."""
    ours, peer = ends(SessionTimer(), "--timer", "always", "--session-expires", "90", update=True)
    incoming = pjsip_calls(ours, peer)
    established = ours.expect(SessionIntervalSet)
    assert not established.local_refresher
    # PJSIP refreshes (re-INVITE or UPDATE) at half the interval; our state is renewed.
    refresh = wait_for(
        lambda: [
            m
            for method in ("INVITE", "UPDATE")
            for m in messages(peer.log_text(), method + " sip:", method)
            if re.search(r"^To:.*;tag=", m, re.M)
        ],
        "PJSIP's session refresh",
        timeout=55,
    )[0]
    assert header(refresh, "Session-Expires|x") == "90;refresher=uac"
    renewed = ours.expect(SessionIntervalSet)
    assert (renewed.interval, renewed.local_refresher) == (90, False)
    assert not incoming.call.ended
    peer.send("hangup")
    ours.expect(CallEnded)
    peer.call_state("DISCONNECTED")
