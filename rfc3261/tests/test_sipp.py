"""Proof against a real stack: SIPp (Debian ``sip-tester``) on loopback.

- SIPp's built-in ``uac`` scenario calls our minimal UAS over UDP and TCP;
- SIPp's built-in ``uas`` scenario answers a small UAC written on our dispatcher;
- ``sipp/uac_drop_responses.xml`` withholds the ACK and SIPp's message trace shows
  when each 2xx retransmission of the minimal UAS arrived (§13.3.1.4).

Every run is bounded (``-m``, ``-timeout``, ``-recv_timeout``, subprocess timeouts).
Without sipp these tests skip, unless SIPREF_REQUIRE_EXTERNAL=1 (then they fail).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from rfc3261.asyncio.dispatcher import Dispatcher, address_for_uri, new_branch
from rfc3261.asyncio.loopback import free_port
from rfc3261.asyncio.transport import Address
from rfc3261.message import Request, Response

from .transport_support import RecordingTU, async_test, require_external, sipp_stats

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "sipp"
CALLS = 300
# What every SIPp run gets (INTEROP.md: -timeout alone can hang).
SIPP_COMMON = [
    "-nostdin", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10000",
    "-buff_size", "4194304",
]  # fmt: skip


@pytest.fixture(scope="module")
def sipp() -> str:
    return require_external("sipp", "sip-tester")


class MinimalUasProcess:
    """``python -m rfc3261.asyncio.uas_minimal`` in a subprocess, stopped by its PID."""

    def __init__(self, port: int, *extra: str) -> None:
        command = [
            sys.executable, "-m", "rfc3261.asyncio.uas_minimal",
            "--listen", f"sip:127.0.0.1:{port}",
            *extra,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening on"), line

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out


def run_sipp(sipp: str, args: list[str], cwd: Path, timeout: float = 90) -> tuple[int, str]:
    result = subprocess.run(
        [sipp, *args, *SIPP_COMMON],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the "sent-protocol" is a reliable transport protocol such as
##% TCP or SCTP, or TLS over those, the response MUST be sent using
##% the existing connection to the source of the original request
##% that created the transaction, if that connection is still open.
@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_uac_calls_the_minimal_uas(sipp: str, transport: str, tmp_path: Path) -> None:
    port = free_port()
    uas = MinimalUasProcess(port)
    try:
        status, output = run_sipp(
            sipp,
            [
                "-sn",
                "uac",
                f"127.0.0.1:{port}",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port()),
                "-t",
                transport,
                "-m",
                str(CALLS),
                "-r",
                "200",
            ],
            tmp_path,
        )
    finally:
        summary = uas.stop()
    assert status == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": CALLS, "Failed call": 0}
    assert f"'INVITE': {CALLS}" in summary and f"'BYE': {CALLS}" in summary, summary


class DispatcherUac(RecordingTU):
    """A UAC on the dispatcher: INVITE, the ACK for the 2xx (built here), BYE."""

    async def call(self, number: int, destination: Address) -> None:
        dispatcher = self.dispatcher
        call_id = f"{number}-{new_branch()}@127.0.0.1"
        target = f"sip:service@{destination.hostport}"
        contact = f"<{dispatcher.contact_uri(destination.transport)}>"
        common = [
            ("From", f"<sip:uac@127.0.0.1>;tag={number}t"),
            ("Call-ID", call_id),
            ("Contact", contact),
            ("Max-Forwards", "70"),
        ]
        offer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        invite = Request(
            "INVITE",
            target,
            [
                ("To", f"<{target}>"),
                *common,
                ("CSeq", "1 INVITE"),
                ("Content-Type", "application/sdp"),
                ("Content-Length", str(len(offer))),
            ],
            offer,
        )
        responses = self.expect(invite)
        dispatcher.send_request(invite, destination)
        response = await self.final(responses, "INVITE")
        assert response.status == 200, response
        to = response.headers.get("To")
        remote = response.contact[0].uri
        remote_address = address_for_uri(remote)
        ack = Request(
            "ACK",
            remote,
            [("To", to), *common, ("CSeq", "1 ACK"), ("Content-Length", "0")],
        )
        dispatcher.send_stateless_request(ack, remote_address)
        bye = Request(
            "BYE",
            remote,
            [("To", to), *common, ("CSeq", "2 BYE"), ("Content-Length", "0")],
        )
        dispatcher.send_request(bye, remote_address)
        response = await self.final(responses, "BYE")
        assert response.status == 200, response
        del self.waiting[call_id]

    @staticmethod
    async def final(responses: asyncio.Queue, method: str) -> Response:
        """The next final response to ``method`` (provisional ones are skipped)."""
        while True:
            response = await responses.get()
            if isinstance(response, Exception):
                raise response
            if response.cseq.method == method and response.status >= 200:
                return response

    # Responses reach each call's queue by Call-ID (every call has its own).
    def expect(self, request: Request) -> asyncio.Queue:
        return self.waiting.setdefault(request.call_id, asyncio.Queue())

    def on_response(self, response, transaction) -> None:  # type: ignore[no-untyped-def]
        if transaction is None:
            return  # a 2xx retransmission after the transaction ended
        queue = self.waiting.get(response.call_id)
        if queue is not None:
            queue.put_nowait(response)

    def on_timeout(self, transaction, timer) -> None:  # type: ignore[no-untyped-def]
        queue = self.waiting.get(transaction.request.call_id)
        if queue is not None:
            queue.put_nowait(TimeoutError(f"Timer {timer} for {transaction.request.method}"))

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[str, asyncio.Queue] = {}


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% For reliable transports, the response is normally sent on the
##% connection on which the request was received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Therefore, the client
##% transport MUST be prepared to receive the response on the same
##% connection used to send the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from
##% the transaction layer.
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_our_uac_calls_sipp_uas(sipp: str, transport: str, tmp_path: Path) -> None:
    port = free_port()
    sipp_process = subprocess.Popen(
        [
            sipp,
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(CALLS),
            "-t",
            "u1" if transport == "UDP" else "t1",
            *SIPP_COMMON,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        @async_test(timeout=75)
        async def calls() -> int:
            tu = DispatcherUac()
            dispatcher = Dispatcher(tu)
            await dispatcher.listen("sip:127.0.0.1:0")
            destination = Address(transport, "127.0.0.1", port)
            for _ in range(50):  # wait until SIPp listens
                if await _reachable(destination):
                    break
                await asyncio.sleep(0.1)
            limit = asyncio.Semaphore(20)

            async def one(number: int) -> None:
                async with limit:
                    await tu.call(number, destination)

            try:
                results = await asyncio.gather(
                    *(one(number) for number in range(CALLS)), return_exceptions=True
                )
                # SIPp fails the calls of a TCP connection closed under it: keep ours
                # open until SIPp is done (its calls linger 4 s after the BYE).
                await asyncio.get_running_loop().run_in_executor(None, sipp_process.wait, 40)
            finally:
                await dispatcher.close()
            failures = [result for result in results if isinstance(result, BaseException)]
            assert not failures, failures[:3]
            return len(results)

        assert calls() == CALLS
        output, _ = sipp_process.communicate(timeout=60)
    finally:
        if sipp_process.poll() is None:
            sipp_process.kill()
            sipp_process.communicate()
    assert sipp_process.returncode == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": CALLS, "Failed call": 0}


async def _reachable(destination: Address) -> bool:
    if destination.transport == "UDP":
        return True  # SIPp retransmits nothing to us; a lost first INVITE is resent
    try:
        _, writer = await asyncio.open_connection(destination.host, destination.port)
    except OSError:
        return False
    writer.close()
    return True


_TRACE_HEADER = re.compile(
    r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(UDP|TCP) message (sent|received)[^\n]*\n",
    re.M,
)


def trace_messages(path: Path) -> list[tuple[float, str, str]]:
    """(time, "sent"|"received", message text) from a SIPp -trace_msg file."""
    text = path.read_text(errors="replace")
    found = []
    heads = list(_TRACE_HEADER.finditer(text))
    for head, following in zip(heads, [*heads[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        when = datetime.strptime(head.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        found.append((when, head.group(3), text[head.end() : end].strip()))
    return found


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The 2xx response is passed to the transport with an
##% interval that starts at T1 seconds and doubles for each
##% retransmission until it reaches T2 seconds (T1 and T2 are defined in
##% Section 17).
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% Response retransmissions cease when an ACK request for the response is
##% received.
def test_sipp_sees_2xx_retransmissions_until_ack(sipp: str, tmp_path: Path) -> None:
    port = free_port()
    t1, t2 = 0.1, 0.4
    uas = MinimalUasProcess(port, "--t1", str(t1), "--t2", str(t2))
    trace = tmp_path / "messages.log"
    try:
        status, output = run_sipp(
            sipp,
            [
                "-sf",
                str(SCENARIOS / "uac_drop_responses.xml"),
                f"127.0.0.1:{port}",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port()),
                "-m",
                "1",
                "-d",
                "1250",
                "-trace_msg",
                "-message_file",
                str(trace),
            ],
            tmp_path,
        )
    finally:
        summary = uas.stop()
    assert status == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": 1, "Failed call": 0}
    messages = trace_messages(trace)
    oks = [
        when
        for when, direction, text in messages
        if direction == "received" and text.startswith("SIP/2.0 200") and "INVITE" in text
    ]
    (ack_sent,) = [
        when
        for when, direction, text in messages
        if direction == "sent" and text.startswith("ACK")
    ]
    before_ack = [when for when in oks if when < ack_sent]
    intervals = [b - a for a, b in itertools.pairwise(before_ack)]
    # Sent at 0, T1, 3*T1, 7*T1, 7*T1+T2 during the 1.25 s pause: T1, 2*T1, then T2.
    expected = [t1, 2 * t1, t2, t2]
    assert len(intervals) >= len(expected), (intervals, output[-2000:])
    for measured, wanted in zip(intervals, expected, strict=False):
        assert abs(measured - wanted) <= 0.3 * wanted + 0.03, (intervals, expected)
    # The ACK stopped them: nothing in the 1 s (> 2*T2) pause after it.
    assert not [when for when in oks if when > ack_sent + 0.02], oks
    assert "'ACK': 1" in summary and "unacknowledged 0" in summary, summary
