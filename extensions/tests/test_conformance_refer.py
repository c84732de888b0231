"""The RFC 3515 conformance cases against a sipref UA with the refer extension.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback; the
cases in ``extensions/conformance/rfc3515.py`` run against it through the runner.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3515 import ReferExtension
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.ua_core import UAConfig, UserAgent

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY", "REFER")


@pytest.fixture
def target() -> Iterator[tuple[str, ReferExtension]]:
    """A referee on 127.0.0.1 (UDP), for the length of one test."""
    port = free_port()
    ready = threading.Event()
    stop: list[Any] = []
    refer = ReferExtension()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        host = CoreHost(None)
        await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
        point = host.local_point("UDP")
        config = UAConfig(
            aor=f"sip:conformance@{point.address.hostport}",
            contact=str(point.uri("conformance")),
            sent_by=point.sent_by,
        )
        host.core = UserAgent(config, extensions=[refer])
        host.deliver = lambda event: None
        done = loop.create_future()
        stop.append((loop, done))
        ready.set()
        await done
        await host.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"sip:conformance@127.0.0.1:{port}", refer
    finally:
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(10)


def test_the_refer_cases_pass_against_a_referee(target: tuple[str, ReferExtension]) -> None:
    uri, refer = target
    run = run_cases(uri, "uas", "rfc3515-*", Profile(methods=METHODS))
    assert verdicts(run) == {
        "rfc3515-no-refer-to-400": "pass",
        "rfc3515-accepted-refer-notifies": "pass",
    }
    assert refer.events.notifier_count() == 0 and not refer.referrals


def test_the_cases_do_not_apply_to_a_ua_without_refer(
    target: tuple[str, ReferExtension],
) -> None:
    run = run_cases(target[0], "uas", "rfc3515-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
