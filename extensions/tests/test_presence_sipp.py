"""Our compositor serves a SUBSCRIBE from SIPp (issue 18): a stack we did not write watches.

``python -m rfc3261 proxy --presence URI`` runs in a subprocess; our ``ua
--publish-presence open`` publishes Alice's presence through it; SIPp subscribes to
Alice through the proxy with ``sipp/uac_subscribe_presence.xml``: 200 and the immediate
NOTIFY with a PIDF body, a refresh and its NOTIFY, an un-subscribe (Expires: 0) and the
terminated NOTIFY.  The assertions read what SIPp received (its -trace_msg file).
Without sipp the test skips (fails under SIPREF_REQUIRE_EXTERNAL=1).
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest

from extensions.tests.sipp_support import SCENARIOS
from rfc3261.asyncio.loopback import free_port
from rfc3261.programs.ua import run_program
from rfc3261.tests.test_programs_servers import ServerProcess
from rfc3261.tests.test_programs_ua import ua_args
from rfc3261.tests.test_sipp import SIPP_COMMON
from rfc3261.tests.transport_support import require_external

pytestmark = pytest.mark.interop


def traced(trace: str, direction: str, start: str) -> list[str]:
    """The messages SIPp's -trace_msg file shows ``direction`` ("received", "sent") whose
    start line begins with ``start``."""
    found = []
    for part in re.split(r"-{5,} [^\n]*\n", trace):
        head, _, message = part.partition("\n")
        if f"message {direction}" in head and message.strip().startswith(start):
            found.append(message.strip())
    return found


_PUBLISHED = re.compile(r"SIP/2\.0 200 [^\n]*\n(?:[^\n]+\n)*?CSeq: *\d+ PUBLISH", re.I)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.2
##= type=test
##% Upon successfully accepting or refreshing a subscription, notifiers
##% MUST send a NOTIFY request immediately to communicate the current
##% resource state to the subscriber.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% When a UAS responds to a request with a response that establishes a
##% dialog (such as a 2xx to INVITE), the UAS MUST copy all Record-Route
##% header field values from the request into the response
def test_sipp_subscribes_refreshes_and_unsubscribes_at_our_compositor(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    proxy = ServerProcess(
        *("proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com"),
        *("--db", str(tmp_path / "location.db")),
        *("--presence", f"sip:127.0.0.1:{free_port()}", "-v"),
        cwd=tmp_path,
    )
    outbound = ("--outbound-proxy", f"sip:127.0.0.1:{proxy.port}")
    alice_out = io.StringIO()
    trace = tmp_path / "messages.log"

    async def scenario() -> tuple[object, int, str]:
        alice = asyncio.ensure_future(
            run_program(
                ua_args(
                    *("--aor", "sip:alice@example.com", *outbound),
                    *("--publish-presence", "open", "--answer", "200", "--timeout", "6"),
                ),
                out=alice_out,
            )
        )
        # Subscribe once the compositor accepted the publication (its 200 in the wire log).
        for _ in range(200):
            if _PUBLISHED.search(proxy.log_text()):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the compositor never accepted the publication")
        process = await asyncio.create_subprocess_exec(
            sipp,
            "-sf", str(SCENARIOS / "uac_subscribe_presence.xml"),
            f"127.0.0.1:{proxy.port}",
            "-s", "alice",
            "-i", "127.0.0.1", "-p", str(free_port()),
            "-m", "1",
            "-trace_msg", "-message_file", str(trace),
            *SIPP_COMMON,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        return await alice, process.returncode or 0, out.decode(errors="replace")

    try:
        outcome, status, out = asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        log = proxy.log_text()
        proxy.stop()
    text = trace.read_text(errors="replace") if trace.exists() else ""
    assert status == 0, (out, text[-3000:], log[-3000:])
    assert outcome.status == 0, alice_out.getvalue()  # type: ignore[attr-defined]
    notifies = traced(text, "received", "NOTIFY ")
    assert len(notifies) == 3, text
    states = [re.search(r"Subscription-State:\s*([^\r\n]*)", n) for n in notifies]
    values = [m.group(1).strip() if m else "" for m in states]
    assert values[0].startswith("active") and values[1].startswith("active"), values
    assert values[2].startswith("terminated"), values
    first = notifies[0]
    assert re.search(r"Content-Type:\s*application/pidf\+xml", first, re.I), first
    assert "<basic>open</basic>" in first and 'entity="sip:alice@example.com"' in first, first
    assert re.search(r"Event:\s*presence", first, re.I)
    # The 200 to the SUBSCRIBE came back through the proxy (record-routed, RFC 6665 §4.3).
    ok = traced(text, "received", "SIP/2.0 200 OK")[0]
    assert f"Record-Route: <sip:127.0.0.1:{proxy.port};lr>" in ok, ok
    # So SIPp's refresh and un-subscribe followed that route set (a Route to the proxy).
    subscribes = traced(text, "sent", "SUBSCRIBE ")
    assert len(subscribes) == 3 and "Expires: 0" in subscribes[2], subscribes
    for sent in subscribes[1:]:
        assert f"Route: <sip:127.0.0.1:{proxy.port};lr>" in sent, sent
